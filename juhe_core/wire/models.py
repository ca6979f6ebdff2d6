"""The model list (``GET /v1/models``), sans-IO.

The relay answers ``{"success": true, "object": "list", "data": [{"id", "object",
"created", "owned_by", "supported_endpoint_types": [...]}]}``; older versions leave out
``object`` (relay-behavior.md §8, §13). Unknown fields are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from juhe_core.errors import APIError

__all__ = ["MODELS_PATH", "ModelInfo", "decode_model_list"]

MODELS_PATH: Final = "/v1/models"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model the key may use."""

    id: str
    """The model name to send."""
    owned_by: str | None = None
    """The vendor (``custom`` for models outside the relay's built-in list)."""
    created: int | None = None
    """Creation time (seconds since the epoch) as the relay reports it."""
    supported_endpoint_types: tuple[str, ...] = ()
    """Wire formats served for it: ``openai``, ``anthropic``, ``gemini``, ``embeddings`` ..."""


def decode_model_list(body: Any) -> list[ModelInfo]:
    """Models from a ``/v1/models`` body; APIError if it is not a list response."""
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, list):
        raise APIError("malformed model list: no data list")
    models: list[ModelInfo] = []
    for item in data:
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            continue  # an entry without an id cannot be used; the others still can
        types = item.get("supported_endpoint_types")
        owned = item.get("owned_by")
        created = item.get("created")
        models.append(
            ModelInfo(
                id=item["id"],
                owned_by=owned if isinstance(owned, str) else None,
                created=created if isinstance(created, int) else None,
                supported_endpoint_types=tuple(t for t in types if isinstance(t, str))
                if isinstance(types, list)
                else (),
            )
        )
    return models
