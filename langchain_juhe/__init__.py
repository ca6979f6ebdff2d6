"""LangChain integration for the Juhe (JuheNext) AI API relay.

``ChatJuhe`` and ``JuheEmbeddings`` are drop-in replacements for ``ChatOpenAI`` /
``ChatAnthropic`` / ``ChatGoogleGenerativeAI`` and ``OpenAIEmbeddings`` pointed at the
relay; ``JuheToolkit`` offers images, speech, moderation and Midjourney as agent tools;
``JuheUsageCallbackHandler`` / ``get_juhe_callback`` add up token usage (and the balance
spent). All wire work is done by ``juhe_core``.
"""

from langchain_juhe.callbacks import (
    JuheUsageCallbackHandler,
    aget_juhe_callback,
    get_juhe_callback,
)
from langchain_juhe.chat_models import ChatJuhe
from langchain_juhe.embeddings import JuheEmbeddings
from langchain_juhe.tools import JuheTool, JuheToolArtifact, JuheToolkit

__all__ = [
    "ChatJuhe",
    "JuheEmbeddings",
    "JuheTool",
    "JuheToolArtifact",
    "JuheToolkit",
    "JuheUsageCallbackHandler",
    "aget_juhe_callback",
    "get_juhe_callback",
]
