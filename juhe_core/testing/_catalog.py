"""The emulator's model list, in the relay's ``GET /v1/models`` shape (relay-behavior.md §8)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["DEFAULT_MODELS", "MODEL_CREATED", "build_catalog", "model_object"]

MODEL_CREATED = 1626777600
"""The fixed ``created`` the relay reports for every model (§8)."""

# (id, owned_by, supported_endpoint_types)
_DEFAULTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("gpt-4o", "openai", ("openai",)),
    ("gpt-4o-mini", "openai", ("openai",)),
    ("gpt-4.1", "openai", ("openai",)),
    ("gpt-4.1-mini", "openai", ("openai",)),
    ("o3-mini", "openai", ("openai",)),
    ("o3-pro", "openai", ("openai-response",)),
    ("deepseek-chat", "deepseek", ("openai",)),
    ("deepseek-reasoner", "deepseek", ("openai",)),
    ("qwen-plus", "ali", ("openai",)),
    ("claude-3-7-sonnet-20250219", "anthropic", ("anthropic", "openai")),
    ("claude-sonnet-4-20250514", "anthropic", ("anthropic", "openai")),
    ("gemini-2.5-flash", "google", ("gemini", "openai")),
    ("gemini-2.5-pro", "google", ("gemini", "openai")),
    ("text-embedding-3-small", "openai", ("embeddings",)),
    ("text-embedding-3-large", "openai", ("embeddings",)),
    ("text-embedding-ada-002", "openai", ("embeddings",)),
    ("dall-e-3", "openai", ("image-generation",)),
    ("gpt-image-1", "openai", ("image-generation",)),
    ("tts-1", "openai", ("openai",)),
    ("whisper-1", "openai", ("openai",)),
)


def model_object(model_id: str, owned_by: str, types: Iterable[str]) -> dict[str, Any]:
    """One item of the relay's model list."""
    return {
        "id": model_id,
        "object": "model",
        "created": MODEL_CREATED,
        "owned_by": owned_by,
        "supported_endpoint_types": list(types),
    }


DEFAULT_MODELS: tuple[str, ...] = tuple(m[0] for m in _DEFAULTS)
"""Ids of the models an ``Emulator()`` lists by default."""

_BY_ID = {m[0]: model_object(*m) for m in _DEFAULTS}


def build_catalog(models: Iterable[str | Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """The id → model-object table for an emulator.

    ``None`` gives the default list. A string names a model (a default one keeps its entry;
    any other gets ``owned_by: "custom"`` as the relay shows it, §8); a mapping gives the
    fields of the item, ``id`` required.
    """
    if models is None:
        return {k: dict(v) for k, v in _BY_ID.items()}
    table: dict[str, dict[str, Any]] = {}
    for entry in models:
        if isinstance(entry, str):
            table[entry] = dict(_BY_ID.get(entry) or model_object(entry, "custom", ("openai",)))
        else:
            model_id = str(entry["id"])
            base = _BY_ID.get(model_id) or model_object(model_id, "custom", ("openai",))
            table[model_id] = {**base, **entry}
    return table
