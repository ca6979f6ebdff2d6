"""Routing of the native chat, media and Midjourney routes (``_app`` asks here first).

Kept apart from ``_app``'s exact-match table because several of these routes match by
prefix (``/v1beta/models/{model}:…``, ``/{mode}/mj/…``) and two need no key: the relay's
Midjourney image forwarding (``/mj/image/{id}``, relay-behavior.md §9) and the emulator's
own generated files (``/emulator/files/…``).
"""

from __future__ import annotations

from collections.abc import Callable

from . import _media_handlers as media
from . import _native as native
from ._handlers import Response
from ._midjourney import mj_image, mj_path, mj_route
from ._script import RecordedRequest
from ._state import State

__all__ = ["is_public", "native_route"]

Handler = Callable[[State, RecordedRequest], Response]


def is_public(path: str) -> bool:
    """Whether ``path`` is answered without a key."""
    return path.startswith("/emulator/files/") or mj_path(path).startswith("/mj/image/")


_EXACT: dict[tuple[str, str], Handler] = {
    ("POST", "/v1/messages"): native.messages,
    ("POST", "/v1/responses"): native.responses,
    ("GET", "/v1beta/models"): native.gemini_models,
    ("POST", "/v1/images/generations"): media.generate_images,
    ("POST", "/v1/images/edits"): media.edit_images,
    ("POST", "/v1/audio/speech"): media.speech_route,
    ("POST", "/v1/moderations"): media.moderations,
    ("GET", "/v1/dashboard/billing/subscription"): media.subscription,
    ("GET", "/dashboard/billing/subscription"): media.subscription,
    ("GET", "/v1/dashboard/billing/usage"): media.usage,
    ("GET", "/dashboard/billing/usage"): media.usage,
}


def native_route(method: str, path: str) -> Handler | None:
    """The handler of one of these routes, or ``None``."""
    handler = _EXACT.get((method, path))
    if handler is not None:
        return handler
    if method == "POST" and (
        path.startswith("/v1beta/models/") or (path.startswith("/v1/models/") and ":" in path)
    ):
        return native.gemini_generate  # the relay sends both to its Gemini handler (§1)
    if method == "GET" and path.startswith("/emulator/files/"):
        return media.serve_file
    if "/mj/" in path:
        if method == "GET" and mj_path(path).startswith("/mj/image/"):
            return mj_image
        return mj_route(method, path)
    return None
