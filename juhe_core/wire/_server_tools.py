"""Provider-run ("server") tools: which format a tool dict belongs to, and sending it.

Users write these in their provider's own spelling, the way ``ChatAnthropic``,
``ChatOpenAI`` (Responses API) and ``ChatGoogleGenerativeAI`` take them:

- Anthropic: a ``type`` ending in a version date, e.g.
  ``{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}``,
  ``code_execution_20250522``, ``web_fetch_20250910``, ``bash_20250124``.
- Gemini: one key naming the tool, e.g. ``{"google_search": {}}``,
  ``{"code_execution": {}}``, ``{"url_context": {}}`` (or their camelCase spellings).
- Responses API: ``{"type": "web_search"}``, ``web_search_preview``, ``file_search``,
  ``code_interpreter``, ``image_generation``, ``mcp`` ...

The Chat Completions format has no server tools, so none is ever sent there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from juhe_core.errors import UnsupportedFeatureError
from juhe_core.messages import ChatRequest, ServerTool

__all__ = ["encode_server_tools", "is_server_tool", "server_tool"]

_ANTHROPIC_TYPE: Final = re.compile(r"^[a-z][a-z0-9_]*_\d{8}$")
_GEMINI_KEYS: Final = frozenset(
    {
        "google_search",
        "googleSearch",
        "google_search_retrieval",
        "googleSearchRetrieval",
        "code_execution",
        "codeExecution",
        "url_context",
        "urlContext",
        "google_maps",
        "googleMaps",
        "computer_use",
        "computerUse",
        "file_search",
        "fileSearch",
    }
)
_RESPONSES_TYPES: Final = frozenset(
    {
        "web_search",
        "web_search_preview",
        "web_search_preview_2025_03_11",
        "file_search",
        "code_interpreter",
        "image_generation",
        "mcp",
        "computer_use_preview",
        "local_shell",
    }
)


def _format_of(spec: Mapping[str, Any]) -> str | None:
    kind = spec.get("type")
    if isinstance(kind, str):
        if _ANTHROPIC_TYPE.match(kind):
            return "anthropic"
        if kind in _RESPONSES_TYPES:
            return "responses"
        return None
    if len(spec) == 1 and next(iter(spec)) in _GEMINI_KEYS:
        return "gemini"
    return None


def is_server_tool(spec: object) -> bool:
    """Whether ``spec`` is a provider-run tool dict we recognise."""
    return isinstance(spec, Mapping) and _format_of(spec) is not None


def server_tool(spec: Mapping[str, Any]) -> ServerTool:
    """The ``ServerTool`` for a provider's tool dict; UnsupportedFeatureError naming it
    when it is no server tool we know (a function tool has ``type: "function"``)."""
    fmt = _format_of(spec) if isinstance(spec, Mapping) else None
    if fmt is None:
        raise UnsupportedFeatureError(
            f"not a function tool, nor a server tool we recognise: {spec!r:.200} "
            "(Anthropic: {'type': 'web_search_20250305', 'name': 'web_search'}; Gemini: "
            "{'google_search': {}}; Responses: {'type': 'web_search'})"
        )
    return ServerTool(fmt, dict(spec))


def encode_server_tools(request: ChatRequest, fmt: str) -> list[dict[str, Any]]:
    """The request's server tools for ``fmt``; one from another format raises
    UnsupportedFeatureError naming the tool and the format it needs."""
    out = []
    for tool in request.server_tools:
        if tool.format != fmt:
            raise UnsupportedFeatureError(
                f"server tool {tool.label!r} runs only in the {tool.format} format; this call "
                f"uses {fmt} (set api_format={tool.format!r})"
            )
        out.append(dict(tool.spec))
    return out
