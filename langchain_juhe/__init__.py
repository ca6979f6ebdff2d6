"""LangChain integration for the Juhe (JuheNext) AI API relay.

``ChatJuhe`` and ``JuheEmbeddings`` are drop-in replacements for ``ChatOpenAI`` /
``ChatAnthropic`` / ``ChatGoogleGenerativeAI`` and ``OpenAIEmbeddings`` pointed at the
relay; all wire work is done by ``juhe_core``.
"""

from langchain_juhe.chat_models import ChatJuhe
from langchain_juhe.embeddings import JuheEmbeddings
from langchain_juhe.tools import JuheTool, JuheToolkit

__all__ = ["ChatJuhe", "JuheEmbeddings", "JuheTool", "JuheToolkit"]
