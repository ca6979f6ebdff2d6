"""Small helpers the codecs share: refusing by name what a format cannot carry."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from juhe_core.errors import UnsupportedFeatureError
from juhe_core.messages import ChatRequest

__all__ = ["foreign_block", "refuse_options"]


def refuse_options(request: ChatRequest, fmt: str, names: Iterable[str], hint: str = "") -> None:
    """UnsupportedFeatureError naming the first of ``names`` the request sets."""
    for name in names:
        value = getattr(request, name)
        if name == "modalities":
            value = [m for m in value if m.lower() != "text"] or None
        if value is not None and value != () and value != []:
            raise UnsupportedFeatureError(f"the {fmt} format cannot carry {name}{hint}")


def foreign_block(
    block_format: str, data: Mapping[str, Any], target: str
) -> UnsupportedFeatureError:
    """The error for a provider block of one format sent in another."""
    kind = data.get("type", "unknown")
    return UnsupportedFeatureError(
        f"a {kind!r} block from the {block_format} format cannot be sent in the {target} format"
    )
