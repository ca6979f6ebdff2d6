"""Small helpers the codecs share: refusing by name what a format cannot carry, and the
MIME type of an image given without one."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from juhe_core._validate import image_kind
from juhe_core.errors import UnsupportedFeatureError
from juhe_core.messages import ChatRequest, ImagePart

__all__ = ["foreign_block", "image_mime", "refuse_options"]

# The image types the vendors accept, by extension. A fixed table rather than the
# ``mimetypes`` database, which depends on the host (.webp/.heic are missing on some).
_IMAGE_EXTENSIONS: Final[Mapping[str, str]] = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".heif": "image/heif",
}


def image_mime(part: ImagePart, default: str) -> str:
    """The part's MIME type; else one read from its bytes' signature or its URL's extension
    (query and fragment ignored); ``default`` only when none of these tells."""
    if part.mime_type:
        return part.mime_type
    if part.data is not None:
        kind = image_kind(part.data)
        return f"image/{kind}" if kind else default
    if part.url is not None:
        extension = posixpath.splitext(urlsplit(part.url).path)[1].lower()
        return _IMAGE_EXTENSIONS.get(extension, default)
    return default


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
