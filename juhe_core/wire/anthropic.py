"""The Anthropic messages wire format (``POST /v1/messages``), sans-IO.

Carries what the OpenAI format loses: thinking blocks with signatures (sent back
unchanged), redacted thinking, PDF document blocks, server tools such as web search
(kept as ``ProviderPart`` blocks), and ``cache_control`` breakpoints (from a part's or
a tool's ``provider_data``) on text, image, document, tool-use and tool-result blocks,
system blocks and tools.

Relay specifics (relay-behavior.md §5, §10, §11): converted streams send no ``ping``;
upstream streams may lack ``message_stop`` (issue #4697), which we report as an error;
a mid-stream upstream error ends the stream, possibly followed by a bare JSON line.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from typing_extensions import assert_never

from juhe_core._json import loads, parse_tool_arguments
from juhe_core._sse import ServerSentEvent
from juhe_core.catalogue import capabilities_for
from juhe_core.errors import (
    APIError,
    StreamError,
    UnsupportedFeatureError,
    stream_error_from_object,
)
from juhe_core.messages import (
    AudioPart,
    ChatRequest,
    ChatResult,
    FilePart,
    FinishDelta,
    FinishReason,
    ImagePart,
    Message,
    MetadataDelta,
    NamedToolChoice,
    Part,
    PartDelta,
    ProviderPart,
    ReasoningDelta,
    ReasoningPart,
    StreamDelta,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolResultPart,
    Usage,
    UsageDelta,
    VideoPart,
)
from juhe_core.wire._common import foreign_block, image_mime, refuse_options
from juhe_core.wire._reasoning import budget_for
from juhe_core.wire._server_tools import encode_server_tools

__all__ = [
    "ANTHROPIC_VERSION",
    "HEADERS",
    "STOP_REASONS",
    "ChatStreamAccumulator",
    "chat_path",
    "decode_chat_response",
    "encode_chat_request",
    "new_accumulator",
]

FORMAT: Final = "anthropic"
ANTHROPIC_VERSION: Final = "2023-06-01"
# Bearer auth works on /v1/messages (relay-behavior.md §2); the version header is required.
HEADERS: Final[Mapping[str, str]] = {"anthropic-version": ANTHROPIC_VERSION}
STOP_REASONS: Final[Mapping[str, FinishReason]] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
DEFAULT_MAX_TOKENS: Final = 8_192
MIN_THINKING_BUDGET: Final = 1_024
_PASSTHROUGH_BLOCKS: Final = ("server_tool_use", "web_search_tool_result")


def chat_path(request: ChatRequest, *, stream: bool) -> str:
    """The path of a chat call in this format."""
    return "/v1/messages"


# --- encoding ---


def _source(url: str | None, data: bytes | None, mime: str | None) -> dict[str, Any]:
    if url is not None and url.startswith("data:"):
        header, _, payload = url.partition(",")
        return {"type": "base64", "media_type": header[5:].split(";")[0], "data": payload}
    if url is not None:
        return {"type": "url", "url": url}
    if data is None:
        raise UnsupportedFeatureError("an image or document part needs a url or data")
    return {"type": "base64", "media_type": mime, "data": base64.b64encode(data).decode()}


def _cached(block: dict[str, Any], provider_data: Mapping[str, Any]) -> dict[str, Any]:
    """``block`` with the part's ``cache_control`` breakpoint, when it has one."""
    if "cache_control" in provider_data:
        block["cache_control"] = provider_data["cache_control"]
    return block


def _text_block(part: TextPart) -> dict[str, Any]:
    return _cached({"type": "text", "text": part.text}, part.provider_data)


def _encode_part(part: Part) -> dict[str, Any] | None:
    match part:
        case TextPart(text=text):
            # The API refuses empty or blank text blocks ("text content blocks must be
            # non-empty"); they carry nothing, so they are left out.
            return _text_block(part) if text.strip() else None
        case ImagePart(url=url, data=data, provider_data=extra):
            block = {"type": "image", "source": _source(url, data, image_mime(part, "image/png"))}
            return _cached(block, extra)
        case FilePart(url=url, data=data, mime_type=mime, filename=name, provider_data=extra):
            block = {"type": "document", "source": _source(url, data, mime)}
            return _cached({**block, "title": name} if name else block, extra)
        case ToolCallPart(id=call_id, name=name, arguments=args, provider_data=extra):
            try:
                arguments = parse_tool_arguments(args)
            except UnsupportedFeatureError as exc:
                raise UnsupportedFeatureError(
                    f"tool call {call_id!r} has arguments that are not a JSON object ({exc}); "
                    "the anthropic format needs them parsed"
                ) from None
            block = {"type": "tool_use", "id": call_id, "name": name, "input": arguments}
            return _cached(block, extra)
        case ToolResultPart():
            return _encode_tool_result(part)
        case ReasoningPart(text=text, signature=signature, provider_data=extra):
            if "redacted" in extra:
                return {"type": "redacted_thinking", "data": extra["redacted"]}
            if signature is None or extra.get("format", FORMAT) != FORMAT:
                # Unsigned or foreign reasoning cannot be verified by Anthropic, and
                # earlier turns' thinking is ignored by the API anyway.
                return None
            return {"type": "thinking", "thinking": text, "signature": signature}
        case ProviderPart(format=fmt, data=data):
            if fmt != FORMAT:
                raise foreign_block(fmt, data, FORMAT)
            return dict(data)
        case AudioPart() | VideoPart():
            raise UnsupportedFeatureError(f"the anthropic format cannot carry {part.kind} input")
        case _:
            assert_never(part)


def _encode_tool_result(part: ToolResultPart) -> dict[str, Any]:
    content: str | list[dict[str, Any]]
    if isinstance(part.content, str):
        content = part.content
    else:
        content = []
        for sub in part.content:
            if not isinstance(sub, (TextPart, ImagePart, FilePart)):
                raise UnsupportedFeatureError(
                    f"an anthropic tool result cannot carry a {sub.kind} part"
                )
            encoded = _encode_part(sub)
            if encoded is not None:
                content.append(encoded)
    block: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": part.tool_call_id,
        "content": content,
    }
    if part.is_error:
        block["is_error"] = True
    return _cached(block, part.provider_data)


def _encode_messages(
    messages: Sequence[Message],
) -> tuple[list[dict[str, Any]], list[TextPart]]:
    system: list[TextPart] = []
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            for part in message.parts:
                if not isinstance(part, TextPart):
                    raise UnsupportedFeatureError("an anthropic system prompt can only be text")
                system.append(part)
            continue
        role = "assistant" if message.role == "assistant" else "user"  # tool results: user
        if role == "assistant" and any(isinstance(p, (ImagePart, FilePart)) for p in message.parts):
            raise UnsupportedFeatureError(
                "the anthropic format takes images and documents in user turns only, not in "
                "an assistant message"
            )
        blocks = [b for b in map(_encode_part, message.parts) if b is not None]
        if not blocks:
            continue  # an empty turn (e.g. AIMessage("")) is refused by the API: skipped
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)  # the API wants alternating roles
        else:
            out.append({"role": role, "content": blocks})
    return out, system


def _tool_choice(request: ChatRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    out: dict[str, Any] | None
    if choice is None:
        out = None
    elif isinstance(choice, NamedToolChoice):
        out = {"type": "tool", "name": choice.name}
    else:
        out = {"type": {"auto": "auto", "none": "none", "required": "any"}[choice]}
    # disable_parallel_tool_use exists on auto/any/tool only (ToolChoiceNoneParam has
    # just ``type``): with "none" no tool is called at all, so there is nothing to limit.
    if request.parallel_tool_calls is False and request.tools and choice != "none":
        out = {**(out or {"type": "auto"}), "disable_parallel_tool_use": True}
    return out


def _check_unsupported(request: ChatRequest) -> None:
    refuse_options(request, FORMAT, ("seed", "logprobs", "top_logprobs", "modalities"))
    refuse_options(
        request,
        FORMAT,
        ("response_format",),
        "; use tool calling for structured output, or the openai format",
    )


def _max_tokens_and_budget(request: ChatRequest) -> tuple[int, int | None]:
    """``max_tokens`` and the thinking budget (None/0: no thinking), checked as the API
    checks them: ``budget_tokens`` >= 1024 and ``max_tokens`` > ``budget_tokens``. User
    values that fail raise UnsupportedFeatureError; only our default max_tokens is raised."""
    budget = budget_for(request.reasoning_effort, request.thinking_budget)
    caps = capabilities_for(request.model)
    default = min(caps.max_output_tokens, DEFAULT_MAX_TOKENS)
    if not budget:
        return request.max_tokens or default, None
    name = (
        f"thinking_budget={budget}"
        if request.thinking_budget is not None
        else f"the thinking budget {budget} of reasoning_effort={request.reasoning_effort!r}"
    )
    if budget < MIN_THINKING_BUDGET:
        raise UnsupportedFeatureError(
            f"{name} is below the anthropic format's minimum of {MIN_THINKING_BUDGET} "
            "thinking tokens; ask for at least that, or 0 for no thinking"
        )
    if request.max_tokens is not None:
        if request.max_tokens <= budget:
            raise UnsupportedFeatureError(
                f"max_tokens={request.max_tokens} must be greater than {name}: the anthropic "
                "format counts thinking within max_tokens"
            )
        return request.max_tokens, budget
    if default <= budget:
        default = budget + DEFAULT_MAX_TOKENS
        if caps.known:
            default = min(default, caps.max_output_tokens)
        if default <= budget:
            raise UnsupportedFeatureError(
                f"{name} leaves no room for an answer within {request.model}'s "
                f"{caps.max_output_tokens} output tokens"
            )
    return default, budget


def encode_chat_request(request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    """The JSON body of a chat call. ``extra_body`` fields are merged last, as given."""
    _check_unsupported(request)
    messages, system = _encode_messages(request.messages)
    max_tokens, budget = _max_tokens_and_budget(request)
    body: dict[str, Any] = {"model": request.model, "max_tokens": max_tokens, "messages": messages}
    if any("cache_control" in p.provider_data for p in system):
        body["system"] = [_text_block(p) for p in system]  # blocks keep cache_control
    elif system:
        body["system"] = "\n\n".join(p.text for p in system)
    if budget:
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if request.tools:
        body["tools"] = [
            _cached(
                {"name": t.name, "description": t.description, "input_schema": dict(t.parameters)},
                t.provider_data,
            )
            for t in request.tools
        ]
    if request.server_tools:
        body.setdefault("tools", []).extend(encode_server_tools(request, FORMAT))
    choice = _tool_choice(request)
    if choice is not None:
        body["tool_choice"] = choice
    for key, value in (("temperature", request.temperature), ("top_p", request.top_p)):
        if value is not None:
            body[key] = value
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if stream:
        body["stream"] = True
    body.update(request.extra_body)
    return body


# --- decoding ---


def _usage(raw: Any, previous: Usage | None = None) -> Usage | None:
    if not isinstance(raw, Mapping):
        return previous

    def num(key: str, default: int) -> int:
        value = raw.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    base = previous or Usage()
    fresh = num("input_tokens", -1)
    read = num("cache_read_input_tokens", base.cache_read_tokens)
    write = num("cache_creation_input_tokens", base.cache_write_tokens)
    # Our input_tokens include cached tokens (as OpenAI's prompt_tokens do).
    inp = fresh + read + write if fresh >= 0 else base.input_tokens
    out = num("output_tokens", base.output_tokens)
    return Usage(
        input_tokens=inp,
        output_tokens=out,
        total_tokens=inp + out,
        cache_read_tokens=read,
        cache_write_tokens=write,
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _block_part(block: Mapping[str, Any]) -> Part | None:
    kind = block.get("type")
    if kind == "text":
        # Web search (and document) answers cite their sources on each text block.
        citations = block.get("citations")
        data = {"citations": list(citations)} if isinstance(citations, list) and citations else {}
        return TextPart(str(block.get("text", "")), data)
    if kind == "thinking":
        sig = block.get("signature")
        return ReasoningPart(
            str(block.get("thinking", "")),
            sig if isinstance(sig, str) else None,
            {"format": FORMAT},
        )
    if kind == "redacted_thinking":
        return ReasoningPart("", provider_data={"format": FORMAT, "redacted": block.get("data")})
    if kind == "tool_use":
        return ToolCallPart(
            str(block.get("id", "")),
            str(block.get("name", "")),
            json.dumps(block.get("input") or {}, ensure_ascii=False),
        )
    if isinstance(kind, str):
        return ProviderPart(FORMAT, dict(block))  # server tools, results, future blocks
    return None


def decode_chat_response(body: Any, *, request_id: str | None = None) -> ChatResult:
    """A ``message`` body as a neutral result; APIError if it is not one."""
    if not isinstance(body, Mapping) or not isinstance(body.get("content"), list):
        raise APIError("malformed anthropic message: no content list", request_id=request_id)
    parts = []
    for block in body["content"]:
        part = _block_part(block) if isinstance(block, Mapping) else None
        if part is None:
            raise APIError(
                f"malformed anthropic content block: {block!r:.200}", request_id=request_id
            )
        parts.append(part)
    raw_reason = body.get("stop_reason")
    raw_reason = raw_reason if isinstance(raw_reason, str) else None
    model, msg_id = body.get("model"), body.get("id")
    return ChatResult(
        parts=tuple(parts),
        finish_reason=STOP_REASONS.get(raw_reason, "other") if raw_reason else None,
        usage=_usage(body.get("usage")),
        model=model if isinstance(model, str) else None,
        id=msg_id if isinstance(msg_id, str) else None,
        request_id=request_id,
        raw_finish_reason=raw_reason,
        raw=body,
    )


class ChatStreamAccumulator:
    """Folds Anthropic stream events into deltas and, at ``message_stop``, the result."""

    def __init__(self, *, request_id: str | None = None) -> None:
        self._rid = request_id
        self._blocks: dict[int, dict[str, Any]] = {}
        self._usage: Usage | None = None
        self._id: str | None = None
        self._model: str | None = None
        self._raw_reason: str | None = None
        self._done = False

    def _error(self, message: str) -> StreamError:
        return StreamError(message, request_id=self._rid, status=200)

    def feed(self, event: ServerSentEvent) -> list[StreamDelta]:
        """Deltas carried by one event."""
        try:
            data = loads(event.data)
        except ValueError:
            raise self._error(f"malformed stream event (not JSON): {event.data[:200]!r}") from None
        if not isinstance(data, dict):
            raise self._error(f"malformed stream event (not an object): {event.data[:200]!r}")
        kind = data.get("type")
        handler = _HANDLERS.get(kind if isinstance(kind, str) else event.event)
        if handler is None:
            return []  # unknown event types are skipped, as the API docs ask
        return handler(self, data)

    def _message_start(self, data: dict[str, Any]) -> list[StreamDelta]:
        message = data.get("message")
        if not isinstance(message, dict):
            raise self._error("message_start without a message")
        self._id, self._model = _str(message.get("id")), _str(message.get("model"))
        self._usage = _usage(message.get("usage"))
        return [MetadataDelta(self._id, self._model)]

    def _block_start(self, data: dict[str, Any]) -> list[StreamDelta]:
        index, block = data.get("index"), data.get("content_block")
        if (
            not isinstance(index, int)
            or not isinstance(block, dict)
            or not isinstance(block.get("type"), str)
        ):
            raise self._error(f"malformed content_block_start: {data!r:.200}")
        state = self._blocks[index] = {**block, "_text": [], "_json": []}
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str) and block["text"]:
            state["_text"].append(block["text"])
            return [TextDelta(block["text"])]
        if kind == "tool_use":
            return [ToolCallDelta(index, block.get("id"), block.get("name"), "")]
        if kind == "redacted_thinking":
            return [ReasoningDelta("")]
        return []

    def _block_delta(self, data: dict[str, Any]) -> list[StreamDelta]:
        index, delta = data.get("index"), data.get("delta")
        state = self._blocks.get(index) if isinstance(index, int) else None
        if state is None or not isinstance(delta, dict):
            raise self._error(f"content_block_delta for an unknown block: {data!r:.200}")
        kind = delta.get("type")
        if kind == "text_delta":
            state["_text"].append(str(delta.get("text", "")))
            return [TextDelta(state["_text"][-1])]
        if kind == "thinking_delta":
            state["_text"].append(str(delta.get("thinking", "")))
            return [ReasoningDelta(state["_text"][-1])]
        if kind == "signature_delta":
            state["signature"] = delta.get("signature")
            return [ReasoningDelta("", signature=state["signature"])]
        if kind == "input_json_delta":
            fragment = str(delta.get("partial_json", ""))
            state["_json"].append(fragment)
            if state.get("type") == "tool_use":
                assert isinstance(index, int)
                return [ToolCallDelta(index, None, None, fragment)]
            return []
        if kind == "citations_delta":
            if not isinstance(state.get("citations"), list):
                state["citations"] = []  # the block may start with "citations": null
            state["citations"].append(delta.get("citation"))
        return []

    def _block_stop(self, data: dict[str, Any]) -> list[StreamDelta]:
        index = data.get("index")
        state = self._blocks.get(index) if isinstance(index, int) else None
        if state is not None and state.get("type") in _PASSTHROUGH_BLOCKS:
            return [PartDelta(_finish_block(state))]
        return []

    def _message_delta(self, data: dict[str, Any]) -> list[StreamDelta]:
        delta = data.get("delta")
        deltas: list[StreamDelta] = []
        self._usage = _usage(data.get("usage"), self._usage)
        if self._usage is not None:
            deltas.append(UsageDelta(self._usage))
        reason = delta.get("stop_reason") if isinstance(delta, dict) else None
        if isinstance(reason, str):
            self._raw_reason = reason
            deltas.append(FinishDelta(STOP_REASONS.get(reason, "other"), reason))
        return deltas

    def _message_stop(self, data: dict[str, Any]) -> list[StreamDelta]:
        self._done = True
        return []

    def _error_event(self, data: dict[str, Any]) -> list[StreamDelta]:
        raise stream_error_from_object(data, self._rid)

    def finish(self) -> ChatResult:
        """The whole result; StreamError without ``message_stop`` or a stop reason."""
        if not self._done:
            raise self._error(
                "anthropic stream ended before message_stop: the answer is incomplete"
            )
        if self._raw_reason is None:
            raise self._error("anthropic stream ended without a stop_reason")
        parts = [_finish_block(self._blocks[i]) for i in sorted(self._blocks)]
        return ChatResult(
            parts=tuple(parts),
            finish_reason=STOP_REASONS.get(self._raw_reason, "other"),
            usage=self._usage,
            model=self._model,
            id=self._id,
            request_id=self._rid,
            raw_finish_reason=self._raw_reason,
        )


def _finish_block(state: dict[str, Any]) -> Part:
    block = {k: v for k, v in state.items() if not k.startswith("_")}
    text = "".join(state["_text"])
    if block.get("type") == "text":
        block["text"] = text
    elif block.get("type") == "thinking":
        block["thinking"] = text
    if state["_json"]:
        raw = "".join(state["_json"])
        if block.get("type") == "tool_use":
            return ToolCallPart(str(block.get("id", "")), str(block.get("name", "")), raw)
        try:
            block["input"] = loads(raw)
        except ValueError:
            block["input"] = raw
    part = _block_part(block)
    assert part is not None  # every block came with a string type
    return part


_HANDLERS: Final = {
    "message_start": ChatStreamAccumulator._message_start,
    "content_block_start": ChatStreamAccumulator._block_start,
    "content_block_delta": ChatStreamAccumulator._block_delta,
    "content_block_stop": ChatStreamAccumulator._block_stop,
    "message_delta": ChatStreamAccumulator._message_delta,
    "message_stop": ChatStreamAccumulator._message_stop,
    "error": ChatStreamAccumulator._error_event,
}


def new_accumulator(*, request_id: str | None = None) -> ChatStreamAccumulator:
    """A fresh stream accumulator (the codec-protocol entry point)."""
    return ChatStreamAccumulator(request_id=request_id)
