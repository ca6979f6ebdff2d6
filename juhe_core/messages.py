"""The neutral message model: what every framework maps to and every wire codec maps from.

Frameworks (LangChain, LlamaIndex) convert their messages into these frozen dataclasses;
each codec in ``juhe_core.wire`` turns them into one wire format and back. N frameworks
plus M formats make N + M mappings.

Format-only data (a Gemini thought signature, an Anthropic redacted-thinking blob, an
Anthropic ``cache_control`` breakpoint) rides in the one ``provider_data`` mapping of the
part (or tool) that carries it, and is sent back unchanged. ``{"cache_control": {...}}``
is sent by the Anthropic format on text, image, document, tool-call and tool-result blocks
and on tools; formats that cache on their own ignore it.
Classes use ``slots`` because stream deltas are built once per chunk on the hot path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = [
    "AudioPart",
    "ChatRequest",
    "ChatResult",
    "FilePart",
    "FinishDelta",
    "FinishReason",
    "ImagePart",
    "JsonObjectFormat",
    "JsonSchemaFormat",
    "Message",
    "MetadataDelta",
    "NamedToolChoice",
    "Part",
    "PartDelta",
    "ProviderPart",
    "ReasoningDelta",
    "ReasoningPart",
    "ResponseFormat",
    "Role",
    "ServerTool",
    "StreamDelta",
    "TextDelta",
    "TextPart",
    "ToolCallDelta",
    "ToolCallPart",
    "ToolChoice",
    "ToolDefinition",
    "ToolResultPart",
    "Usage",
    "UsageDelta",
    "VideoPart",
]

Role: TypeAlias = Literal["system", "user", "assistant", "tool"]
FinishReason: TypeAlias = Literal["stop", "length", "tool_calls", "content_filter", "other"]


@dataclass(frozen=True, slots=True)
class TextPart:
    """Plain text."""

    text: str
    """The text."""
    provider_data: Mapping[str, Any] = field(default_factory=dict)
    """Format-only data (e.g. ``{"thought_signature": ...}`` on a Gemini part)."""
    kind: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image, by URL or by bytes with a MIME type."""

    url: str | None = None
    """An http(s) URL (or a ``data:`` URL) of the image."""
    data: bytes | None = None
    """The image bytes, when not given by URL."""
    mime_type: str | None = None
    """MIME type of ``data`` (e.g. ``image/png``)."""
    detail: str | None = None
    """OpenAI's ``detail`` hint (``low``/``high``/``auto``), when given."""
    provider_data: Mapping[str, Any] = field(default_factory=dict)
    """Format-only data (e.g. ``{"cache_control": ...}`` for Anthropic)."""
    kind: Literal["image"] = "image"


@dataclass(frozen=True, slots=True)
class FilePart:
    """A document (typically a PDF), by bytes or URL."""

    data: bytes | None = None
    """The file bytes."""
    url: str | None = None
    """A URL of the file, when not given by bytes."""
    mime_type: str = "application/pdf"
    """MIME type of the file."""
    filename: str | None = None
    """The file name, when known."""
    file_id: str | None = None
    """A provider file id (OpenAI ``file_id``), when the file was uploaded beforehand."""
    provider_data: Mapping[str, Any] = field(default_factory=dict)
    """Format-only data (e.g. ``{"cache_control": ...}`` for Anthropic)."""
    kind: Literal["file"] = "file"


@dataclass(frozen=True, slots=True)
class AudioPart:
    """Audio, as bytes with a MIME type (``audio/wav``, ``audio/mpeg`` ...)."""

    data: bytes
    """The audio bytes."""
    mime_type: str = "audio/wav"
    """MIME type of the audio."""
    transcript: str | None = None
    """A transcript, when the server gives one (audio output)."""
    kind: Literal["audio"] = "audio"


@dataclass(frozen=True, slots=True)
class VideoPart:
    """Video, by bytes with a MIME type or by URL."""

    data: bytes | None = None
    """The video bytes."""
    url: str | None = None
    """A URL of the video."""
    mime_type: str = "video/mp4"
    """MIME type of the video."""
    kind: Literal["video"] = "video"


@dataclass(frozen=True, slots=True)
class ToolCallPart:
    """A call the assistant made to a tool."""

    id: str
    """The call id, echoed back in the matching ``ToolResultPart``."""
    name: str
    """The tool's name."""
    arguments: str
    """The arguments exactly as the model produced them (a JSON text, possibly invalid)."""
    provider_data: Mapping[str, Any] = field(default_factory=dict)
    """Format-only data (e.g. ``{"thought_signature": ...}`` on a Gemini function call)."""
    kind: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class ToolResultPart:
    """The result of a tool call, sent back to the model."""

    tool_call_id: str
    """The id of the call this answers."""
    content: str | tuple[Part, ...]
    """The result: text, or parts (text and images) for formats that carry them."""
    name: str | None = None
    """The tool's name (Gemini needs it)."""
    is_error: bool = False
    """Whether the tool failed (Anthropic carries this flag)."""
    provider_data: Mapping[str, Any] = field(default_factory=dict)
    """Format-only data (e.g. ``{"cache_control": ...}`` for Anthropic)."""
    kind: Literal["tool_result"] = "tool_result"


@dataclass(frozen=True, slots=True)
class ReasoningPart:
    """Reasoning ("thinking") text, with the opaque data some formats need sent back."""

    text: str
    """The reasoning text (may be a summary, or empty when redacted)."""
    signature: str | None = None
    """An opaque signature (Anthropic thinking, Gemini thought signature), sent back as is."""
    provider_data: Mapping[str, Any] = field(default_factory=dict)
    """Format-only data (e.g. ``{"redacted": "<blob>"}``), sent back as is."""
    kind: Literal["reasoning"] = "reasoning"


@dataclass(frozen=True, slots=True)
class ProviderPart:
    """A block only one wire format understands, kept to be sent back unchanged.

    For example Anthropic ``server_tool_use`` / ``web_search_tool_result`` blocks. Sending
    it in another format raises UnsupportedFeatureError.
    """

    format: str
    """The wire format it belongs to (``anthropic``, ``gemini`` ...)."""
    data: Mapping[str, Any]
    """The block exactly as the server sent it."""
    kind: Literal["provider"] = "provider"


Part: TypeAlias = (
    TextPart
    | ImagePart
    | FilePart
    | AudioPart
    | VideoPart
    | ToolCallPart
    | ToolResultPart
    | ReasoningPart
    | ProviderPart
)


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation."""

    role: Role
    """Who speaks: system, user, assistant, or tool (a tool result)."""
    parts: tuple[Part, ...]
    """The content, in order."""
    name: str | None = None
    """An optional participant name (OpenAI ``name``)."""

    @staticmethod
    def text(role: Role, text: str) -> Message:
        """A message holding a single text part."""
        return Message(role, (TextPart(text),))


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """A tool the model may call."""

    name: str
    """The tool's name."""
    description: str = ""
    """What the tool does, for the model."""
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    """A JSON schema (an ``object`` schema) of the arguments."""
    strict: bool | None = None
    """OpenAI structured-outputs ``strict`` flag; None leaves it out."""
    provider_data: Mapping[str, Any] = field(default_factory=dict)
    """Format-only data (e.g. ``{"cache_control": ...}`` for Anthropic)."""


@dataclass(frozen=True, slots=True)
class ServerTool:
    """A tool the provider runs itself: Anthropic ``web_search_20250305``, Gemini
    ``google_search``, the Responses API's ``web_search`` ...

    It belongs to one wire format and is sent there exactly as given, next to the function
    tools; any other format refuses it with UnsupportedFeatureError. Build one from the
    provider's own spelling with ``juhe_core.wire.server_tool``.
    """

    format: str
    """The wire format that runs it (``anthropic``, ``gemini``, ``responses``)."""
    spec: Mapping[str, Any]
    """The tool exactly as that format's API takes it."""

    @property
    def label(self) -> str:
        """A short name for messages: its ``type``, else its one key."""
        kind = self.spec.get("type")
        return str(kind) if kind else ", ".join(self.spec) or "<empty>"


@dataclass(frozen=True, slots=True)
class NamedToolChoice:
    """Force a call to the named tool."""

    name: str
    """The tool to call."""


ToolChoice: TypeAlias = Literal["auto", "none", "required"] | NamedToolChoice


@dataclass(frozen=True, slots=True)
class JsonObjectFormat:
    """Ask for any JSON object (OpenAI ``json_object`` mode)."""


@dataclass(frozen=True, slots=True)
class JsonSchemaFormat:
    """Ask for JSON that matches a schema."""

    name: str
    """A name for the schema."""
    schema: Mapping[str, Any]
    """The JSON schema."""
    strict: bool | None = None
    """Ask the server to enforce the schema exactly."""
    description: str | None = None
    """A description of the schema, for the model."""


ResponseFormat: TypeAlias = JsonObjectFormat | JsonSchemaFormat


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """Everything one chat call asks for, in neutral form."""

    model: str
    """The model name, sent unchanged."""
    messages: Sequence[Message]
    """The conversation."""
    tools: Sequence[ToolDefinition] = ()
    """Tools the model may call."""
    server_tools: Sequence[ServerTool] = ()
    """Provider-run tools (web search, code execution ...), sent after ``tools``."""
    tool_choice: ToolChoice | None = None
    """How the model should pick tools; None leaves it to the server."""
    parallel_tool_calls: bool | None = None
    """Allow several tool calls in one turn; None leaves it to the server."""
    response_format: ResponseFormat | None = None
    """Structured output; None for free text."""
    temperature: float | None = None
    """Sampling temperature."""
    top_p: float | None = None
    """Nucleus sampling."""
    max_tokens: int | None = None
    """The most tokens to generate."""
    stop: Sequence[str] = ()
    """Stop sequences."""
    seed: int | None = None
    """A sampling seed."""
    reasoning_effort: str | None = None
    """Reasoning effort (``minimal``/``low``/``medium``/``high``...)."""
    thinking_budget: int | None = None
    """Reasoning tokens to allow (Anthropic ``budget_tokens``, Gemini ``thinkingBudget``);
    0 turns thinking off where the format allows."""
    modalities: Sequence[str] = ()
    """Output modalities to ask for (``text``, ``image``, ``audio``); empty = the default."""
    logprobs: bool | None = None
    """Return log probabilities."""
    top_logprobs: int | None = None
    """How many alternatives to return per token with ``logprobs``."""
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    """Fields merged into the wire body as they are (last word over encoded fields)."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call."""

    input_tokens: int = 0
    """Prompt tokens, including cached ones."""
    output_tokens: int = 0
    """Generated tokens, including reasoning tokens."""
    total_tokens: int = 0
    """Input plus output (as the server reports it)."""
    cache_read_tokens: int = 0
    """Input tokens served from the prompt cache."""
    cache_write_tokens: int = 0
    """Input tokens written to the prompt cache (Anthropic)."""
    reasoning_tokens: int = 0
    """Output tokens spent on reasoning."""


@dataclass(frozen=True, slots=True)
class ChatResult:
    """A whole chat answer."""

    parts: tuple[Part, ...]
    """The assistant's content: text, reasoning and tool calls, in order."""
    finish_reason: FinishReason | None
    """Why generation stopped (normalised)."""
    usage: Usage | None = None
    """Token counts, when the server sent them."""
    model: str | None = None
    """The model that answered (may differ from the one asked: the relay redirects names)."""
    id: str | None = None
    """The response id."""
    request_id: str | None = None
    """The relay's request id (``X-Oneapi-Request-Id``)."""
    system_fingerprint: str | None = None
    """OpenAI ``system_fingerprint``, when present."""
    raw_finish_reason: str | None = None
    """The finish reason exactly as the server sent it."""
    logprobs: Any = None
    """Log probabilities as the server sent them, when asked for."""
    refusal: str | None = None
    """A refusal message (OpenAI ``refusal``), when the model refused."""
    raw: Any = None
    """The decoded response body (non-stream only)."""
    fallbacks: tuple[str, ...] = ()
    """Models tried first that failed (``fallback_models``), in order; empty normally."""

    @property
    def text(self) -> str:
        """All text parts joined."""
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def reasoning(self) -> str:
        """All reasoning text joined."""
        return "".join(p.text for p in self.parts if isinstance(p, ReasoningPart))

    @property
    def tool_calls(self) -> list[ToolCallPart]:
        """The tool calls, in order."""
        return [p for p in self.parts if isinstance(p, ToolCallPart)]


# --- stream deltas: one small object per piece of news, built once per chunk ---


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of answer text."""

    text: str
    """The new text."""


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of reasoning text, or a signature for the reasoning so far."""

    text: str
    """The new reasoning text (may be empty when only a signature arrives)."""
    signature: str | None = None
    """A signature that closes the current reasoning block, when sent."""


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a tool call; fragments with the same index belong together."""

    index: int
    """Which call (the server's index, which may start at 1)."""
    id: str | None = None
    """The call id, on the first fragment."""
    name: str | None = None
    """The tool name, on the first fragment."""
    arguments: str = ""
    """A fragment of the JSON arguments text."""


@dataclass(frozen=True, slots=True)
class UsageDelta:
    """Token counts (sent once, usually at the end)."""

    usage: Usage
    """The counts."""


@dataclass(frozen=True, slots=True)
class FinishDelta:
    """Generation stopped."""

    reason: FinishReason
    """Why (normalised)."""
    raw_reason: str | None = None
    """The reason exactly as sent."""


@dataclass(frozen=True, slots=True)
class MetadataDelta:
    """Response metadata, sent once when first known."""

    id: str | None = None
    """The response id."""
    model: str | None = None
    """The model that answers."""
    system_fingerprint: str | None = None
    """OpenAI ``system_fingerprint``."""


@dataclass(frozen=True, slots=True)
class PartDelta:
    """A whole part that arrives at once in a stream (an image, audio, a provider block)."""

    part: Part
    """The part."""


StreamDelta: TypeAlias = (
    TextDelta
    | ReasoningDelta
    | ToolCallDelta
    | UsageDelta
    | FinishDelta
    | MetadataDelta
    | PartDelta
)
