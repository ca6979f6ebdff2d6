"""LlamaIndex integration for Juhe (JuheNext): ``Juhe`` (an LLM) and ``JuheEmbedding``.

    from llama_index_juhe import Juhe, JuheEmbedding

Drop-in where ``llama_index.llms.openai.OpenAI``, ``OpenAILike``, ``Anthropic``,
``GoogleGenAI`` or ``OpenAIEmbedding`` are used today, with any model name the relay
serves. Reads ``JUHE_API_KEY`` and ``JUHE_BASE_URL``.
"""

from __future__ import annotations

from llama_index_juhe.embeddings import JuheEmbedding
from llama_index_juhe.llms import Juhe

__all__ = ["Juhe", "JuheEmbedding"]
