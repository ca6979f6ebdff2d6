"""LangChain integration for the Juhe (JuheNext) AI API relay.

``ChatJuhe`` and ``JuheEmbeddings`` are drop-in replacements for ``ChatOpenAI`` /
``ChatAnthropic`` / ``ChatGoogleGenerativeAI`` and ``OpenAIEmbeddings`` pointed at the
relay; ``JuheToolkit`` offers images, speech, moderation and Midjourney as agent tools;
``JuheUsageCallbackHandler`` / ``get_juhe_callback`` add up token usage (and the balance
spent). All wire work is done by ``juhe_core``.

Names are imported on first use, so ``import langchain_juhe`` costs almost nothing and a
chat-only program never loads the tools or callbacks modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_juhe.callbacks import (
        JuheUsageCallbackHandler as JuheUsageCallbackHandler,
    )
    from langchain_juhe.callbacks import (
        aget_juhe_callback as aget_juhe_callback,
    )
    from langchain_juhe.callbacks import (
        get_juhe_callback as get_juhe_callback,
    )
    from langchain_juhe.chat_models import ChatJuhe as ChatJuhe
    from langchain_juhe.embeddings import JuheEmbeddings as JuheEmbeddings
    from langchain_juhe.tools import JuheTool as JuheTool
    from langchain_juhe.tools import JuheToolArtifact as JuheToolArtifact
    from langchain_juhe.tools import JuheToolkit as JuheToolkit

_EXPORTS = {
    "ChatJuhe": "langchain_juhe.chat_models",
    "JuheEmbeddings": "langchain_juhe.embeddings",
    "JuheTool": "langchain_juhe.tools",
    "JuheToolArtifact": "langchain_juhe.tools",
    "JuheToolkit": "langchain_juhe.tools",
    "JuheUsageCallbackHandler": "langchain_juhe.callbacks",
    "aget_juhe_callback": "langchain_juhe.callbacks",
    "get_juhe_callback": "langchain_juhe.callbacks",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'langchain_juhe' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
