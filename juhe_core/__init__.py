"""juhe_core: the small shared transport behind the Juhe LangChain and LlamaIndex classes.

Settings, sync and async httpx clients, retries, typed errors, the SSE decoder, a
neutral message model and one sans-IO codec per wire format. No framework imports.
``juhe_core.testing`` is the offline emulator.

Names are imported lazily so that ``import juhe_core`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "JuheClient": "juhe_core.client",
    "AsyncJuheClient": "juhe_core.client",
    "ChatStream": "juhe_core.client",
    "AsyncChatStream": "juhe_core.client",
    "Settings": "juhe_core.settings",
    "ModelInfo": "juhe_core.wire.models",
    "EmbeddingResult": "juhe_core.wire.embeddings",
}
_MODULES = ("juhe_core.errors", "juhe_core.messages")

if TYPE_CHECKING:
    from juhe_core.client import (
        AsyncChatStream as AsyncChatStream,
    )
    from juhe_core.client import (
        AsyncJuheClient as AsyncJuheClient,
    )
    from juhe_core.client import (
        ChatStream as ChatStream,
    )
    from juhe_core.client import (
        JuheClient as JuheClient,
    )
    from juhe_core.errors import *  # noqa: F403
    from juhe_core.messages import *  # noqa: F403
    from juhe_core.settings import Settings as Settings
    from juhe_core.wire.embeddings import EmbeddingResult as EmbeddingResult
    from juhe_core.wire.models import ModelInfo as ModelInfo


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is not None:
        return getattr(importlib.import_module(module), name)
    for module in _MODULES:
        mod = importlib.import_module(module)
        if name in mod.__all__:
            return getattr(mod, name)
    raise AttributeError(f"module 'juhe_core' has no attribute {name!r}")


def __dir__() -> list[str]:
    names = set(_EXPORTS)
    for module in _MODULES:
        names.update(importlib.import_module(module).__all__)
    return sorted(names | {"__version__"})
