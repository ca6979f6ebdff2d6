"""LlamaIndex integration for Juhe (JuheNext): ``Juhe`` (an LLM), ``JuheEmbedding``,
``JuheToolSpec`` (image, speech, moderation and Midjourney tools) and ``JuheUsageHandler``
(token usage per model over a run, and the balance before and after).

    from llama_index_juhe import Juhe, JuheEmbedding, JuheToolSpec, JuheUsageHandler

Drop-in where ``llama_index.llms.openai.OpenAI``, ``OpenAILike``, ``Anthropic``,
``GoogleGenAI`` or ``OpenAIEmbedding`` are used today, with any model name the relay
serves. Reads ``JUHE_API_KEY`` and ``JUHE_BASE_URL``.
"""

from __future__ import annotations

from llama_index_juhe.embeddings import JuheEmbedding
from llama_index_juhe.llms import Juhe
from llama_index_juhe.tools import JuheToolSpec
from llama_index_juhe.usage import EmbeddingUsageEvent, JuheUsageHandler, ModelUsage

__all__ = [
    "EmbeddingUsageEvent",
    "Juhe",
    "JuheEmbedding",
    "JuheToolSpec",
    "JuheUsageHandler",
    "ModelUsage",
]
