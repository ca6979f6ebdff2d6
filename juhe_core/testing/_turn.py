"""Format-neutral types between the wire renderers and the built-in model.

A route module parses its wire format into a ``ChatQuery``; the built-in model (or a scripted
``Reply``) produces a ``Turn``; the route's renderer turns the ``Turn`` back into its format.
Adding a wire format means adding a parser and a renderer, not touching the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChatQuery", "PromptMessage", "ToolCall", "ToolSpec", "Turn"]


@dataclass(frozen=True)
class PromptMessage:
    """One message of the conversation, reduced to what the built-in model looks at."""

    role: str
    """``system``, ``user``, ``assistant`` or ``tool``."""
    text: str = ""
    """All text parts joined."""
    images: int = 0
    """Number of image parts."""
    audio: int = 0
    """Number of audio parts."""
    files: int = 0
    """Number of file (e.g. PDF) parts."""
    tool_name: str | None = None
    """For a ``tool`` message: the name of the tool whose result this is, when known."""
    tool_calls: tuple[str, ...] = ()
    """For an ``assistant`` message: names of the tools it called."""


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model."""

    name: str
    """Function name."""
    description: str = ""
    """Function description."""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    """JSON schema of the arguments."""


@dataclass(frozen=True)
class ChatQuery:
    """A chat request in neutral form."""

    model: str
    """Requested model name."""
    messages: tuple[PromptMessage, ...]
    """The conversation, oldest first."""
    tools: tuple[ToolSpec, ...] = ()
    """Offered tools."""
    tool_choice: str = "auto"
    """``auto``, ``none`` or ``required``."""
    forced_tool: str | None = None
    """Name of the tool the request forces, if any."""
    parallel_tool_calls: bool = True
    """Whether several tool calls may be returned at once."""
    json_schema: Mapping[str, Any] | None = None
    """Schema the answer must be an instance of (structured output)."""
    json_object: bool = False
    """Whether the answer must be a JSON object (JSON mode)."""
    reasoning: bool = False
    """Whether to produce reasoning text."""
    stop: tuple[str, ...] = ()
    """Stop strings."""
    max_tokens: int | None = None
    """Completion token budget."""
    prompt_extra_tokens: int = 0
    """Prompt tokens not in ``messages`` (e.g. tool schemas), counted by the parser."""


@dataclass(frozen=True)
class ToolCall:
    """One tool call of a turn."""

    id: str
    """Call id."""
    name: str
    """Function name."""
    arguments: str
    """Arguments as JSON text."""


@dataclass(frozen=True)
class Turn:
    """One assistant turn with its token counts."""

    text: str = ""
    """Answer text."""
    reasoning: str = ""
    """Thinking text."""
    tool_calls: tuple[ToolCall, ...] = ()
    """Tool calls."""
    finish_reason: str = "stop"
    """OpenAI-style finish reason: ``stop``, ``length``, ``tool_calls``, ``content_filter``."""
    prompt_tokens: int = 0
    """Prompt tokens."""
    completion_tokens: int = 0
    """Completion tokens, reasoning included."""
    reasoning_tokens: int = 0
    """Reasoning tokens (part of ``completion_tokens``)."""
