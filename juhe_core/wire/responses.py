"""The OpenAI Responses wire format (``POST /v1/responses``), sans-IO.

The only route to models such as ``o3-pro`` (juhe-api.md §3.2). Input items, top-level
``instructions``, flat function tools, ``reasoning`` {effort, summary}, and streamed
``response.*`` events. The relay re-emits each event as ``event: <type>`` + ``data:``
with no ``[DONE]`` (relay-behavior.md §7), so the stream must end with
``response.completed`` / ``response.incomplete``. ``response.completed`` can carry an
empty ``output`` (relay issue #4362): the result is built from the deltas.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from typing_extensions import assert_never

from juhe_core._json import data_url, loads
from juhe_core._sse import ServerSentEvent
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
    JsonObjectFormat,
    Message,
    MetadataDelta,
    NamedToolChoice,
    Part,
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
from juhe_core.wire._common import foreign_block, refuse_options
from juhe_core.wire._reasoning import effort_for
from juhe_core.wire._server_tools import encode_server_tools

__all__ = [
    "ChatStreamAccumulator",
    "chat_path",
    "decode_chat_response",
    "encode_chat_request",
    "new_accumulator",
]

FORMAT: Final = "responses"
_INCOMPLETE: Final[Mapping[str, FinishReason]] = {
    "max_output_tokens": "length",
    "content_filter": "content_filter",
}


def chat_path(request: ChatRequest, *, stream: bool) -> str:
    """The path of a chat call in this format."""
    return "/v1/responses"


# --- encoding ---


def _content_item(part: Part) -> dict[str, Any]:
    match part:
        case TextPart(text=text):
            return {"type": "input_text", "text": text}
        case ImagePart(url=url, data=data, mime_type=mime, detail=detail):
            image_url = url if url is not None else data_url(data or b"", mime or "image/png")
            return {"type": "input_image", "image_url": image_url, "detail": detail or "auto"}
        case FilePart(data=data, file_id=file_id, mime_type=mime, filename=name):
            if file_id:
                return {"type": "input_file", "file_id": file_id}
            if data is None:
                raise UnsupportedFeatureError("the responses format takes files as data or file_id")
            return {
                "type": "input_file",
                "file_data": data_url(data, mime),
                "filename": name or "document.pdf",
            }
        case AudioPart() | VideoPart() | ToolCallPart() | ToolResultPart() | ReasoningPart():
            raise UnsupportedFeatureError(
                f"a {part.kind} part cannot appear in message content in the responses format"
            )
        case ProviderPart(format=fmt):
            raise foreign_block(fmt, part.data, FORMAT)
        case _:
            assert_never(part)


def _assistant_items(message: Message) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            items.append({"role": "assistant", "content": part.text})
        elif isinstance(part, ToolCallPart):
            items.append(
                {
                    "type": "function_call",
                    "call_id": part.id,
                    "name": part.name,
                    "arguments": part.arguments,
                }
            )
        elif isinstance(part, ReasoningPart):
            item = part.provider_data.get("item")
            if part.provider_data.get("format") == FORMAT and isinstance(item, Mapping):
                items.append(dict(item))  # sent back as received (id, encrypted content)
        elif isinstance(part, ProviderPart):
            if part.format != FORMAT:
                raise foreign_block(part.format, part.data, FORMAT)
            items.append(dict(part.data))
        else:
            raise UnsupportedFeatureError(
                f"an assistant message cannot carry a {part.kind} part in the responses format"
            )
    return items


def _input_items(message: Message) -> list[dict[str, Any]]:
    if message.role == "assistant":
        return _assistant_items(message)
    items: list[dict[str, Any]] = []
    content = [p for p in message.parts if not isinstance(p, ToolResultPart)]
    for part in message.parts:
        if isinstance(part, ToolResultPart):
            if not isinstance(part.content, str) and not all(
                isinstance(p, TextPart) for p in part.content
            ):
                raise UnsupportedFeatureError("responses tool results can only carry text")
            output = (
                part.content
                if isinstance(part.content, str)
                else "".join(p.text for p in part.content if isinstance(p, TextPart))
            )
            items.append(
                {"type": "function_call_output", "call_id": part.tool_call_id, "output": output}
            )
    if content:
        role = "user" if message.role == "tool" else message.role
        items.append({"role": role, "content": [_content_item(p) for p in content]})
    return items


def encode_chat_request(request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    """The JSON body of a responses call. ``extra_body`` fields are merged last, as given."""
    instructions = [
        p.text
        for m in request.messages
        if m.role == "system"
        for p in m.parts
        if isinstance(p, TextPart)
    ]
    items = [i for m in request.messages if m.role != "system" for i in _input_items(m)]
    body: dict[str, Any] = {"model": request.model, "input": items}
    if instructions:
        body["instructions"] = "\n\n".join(instructions)
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": dict(t.parameters),
                **({"strict": t.strict} if t.strict is not None else {}),
            }
            for t in request.tools
        ]
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.server_tools:
        body.setdefault("tools", []).extend(encode_server_tools(request, FORMAT))
    choice = request.tool_choice
    if choice is not None:
        body["tool_choice"] = (
            {"type": "function", "name": choice.name}
            if isinstance(choice, NamedToolChoice)
            else choice
        )
    effort = effort_for(request.reasoning_effort, request.thinking_budget)
    if effort is not None:
        body["reasoning"] = {"effort": effort, "summary": "auto"}
    fmt = request.response_format
    if fmt is not None:
        body["text"] = {
            "format": {"type": "json_object"}
            if isinstance(fmt, JsonObjectFormat)
            else {
                "type": "json_schema",
                "name": fmt.name,
                "schema": dict(fmt.schema),
                **({"strict": fmt.strict} if fmt.strict is not None else {}),
            }
        }
    for key, value in (
        ("max_output_tokens", request.max_tokens),
        ("temperature", request.temperature),
        ("top_p", request.top_p),
    ):
        if value is not None:
            body[key] = value
    refuse_options(request, FORMAT, ("stop", "seed", "logprobs", "top_logprobs", "modalities"))
    if stream:
        body["stream"] = True
    body.update(request.extra_body)
    return body


# --- decoding ---


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, Mapping):
        return None

    def num(obj: Any, key: str) -> int:
        value = obj.get(key) if isinstance(obj, Mapping) else None
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    inp, out = num(raw, "input_tokens"), num(raw, "output_tokens")
    return Usage(
        input_tokens=inp,
        output_tokens=out,
        total_tokens=num(raw, "total_tokens") or inp + out,
        cache_read_tokens=num(raw.get("input_tokens_details"), "cached_tokens"),
        reasoning_tokens=num(raw.get("output_tokens_details"), "reasoning_tokens"),
    )


def _item_parts(item: Mapping[str, Any]) -> list[Part]:
    kind = item.get("type")
    if kind == "message":
        content = item.get("content")
        return (
            [
                TextPart(str(c.get("text", "")))
                for c in content
                if isinstance(c, Mapping) and c.get("type") == "output_text"
            ]
            if isinstance(content, list)
            else []
        )
    if kind == "reasoning":
        summary = item.get("summary")
        text = (
            "".join(str(s.get("text", "")) for s in summary if isinstance(s, Mapping))
            if isinstance(summary, list)
            else ""
        )
        return [ReasoningPart(text, provider_data={"format": FORMAT, "item": dict(item)})]
    if kind == "function_call":
        return [
            ToolCallPart(
                str(item.get("call_id", "")),
                str(item.get("name", "")),
                str(item.get("arguments", "")),
            )
        ]
    return [ProviderPart(FORMAT, dict(item))]


def _finish(
    response: Mapping[str, Any], parts: list[Part]
) -> tuple[FinishReason | None, str | None]:
    status = response.get("status")
    if status == "completed":
        return (
            "tool_calls" if any(isinstance(p, ToolCallPart) for p in parts) else "stop"
        ), "completed"
    if status == "incomplete":
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, Mapping) else None
        return _INCOMPLETE.get(str(reason), "other"), str(reason)
    return None, status if isinstance(status, str) else None


def decode_chat_response(body: Any, *, request_id: str | None = None) -> ChatResult:
    """A ``response`` object as a neutral result; APIError for a failed or malformed one."""
    if not isinstance(body, Mapping) or not isinstance(body.get("output"), list):
        raise APIError("malformed responses body: no output list", request_id=request_id)
    if body.get("status") == "failed":
        raise stream_error_from_object(body, request_id)
    parts = [p for item in body["output"] if isinstance(item, Mapping) for p in _item_parts(item)]
    finish, raw = _finish(body, parts)
    model, rid = body.get("model"), body.get("id")
    return ChatResult(
        tuple(parts),
        finish,
        _usage(body.get("usage")),
        model if isinstance(model, str) else None,
        rid if isinstance(rid, str) else None,
        request_id,
        raw_finish_reason=raw,
        raw=body,
    )


class ChatStreamAccumulator:
    """Folds ``response.*`` events into deltas; ``response.completed`` ends the stream."""

    def __init__(self, *, request_id: str | None = None) -> None:
        self._rid = request_id
        self._items: dict[int, dict[str, Any]] = {}  # output_index -> item being built
        self._final: Mapping[str, Any] | None = None
        self._usage: Usage | None = None

    def feed(self, event: ServerSentEvent) -> list[StreamDelta]:
        """Deltas carried by one event."""
        try:
            data = loads(event.data)
        except ValueError:
            raise StreamError(
                f"malformed stream event (not JSON): {event.data[:200]!r}",
                request_id=self._rid,
                status=200,
            ) from None
        if not isinstance(data, dict):
            raise StreamError(
                "malformed responses event (not an object)", request_id=self._rid, status=200
            )
        kind = data.get("type", event.event)
        index = data.get("output_index", 0)
        index = index if isinstance(index, int) else 0
        if kind == "response.created":
            response = _obj(data.get("response"))
            return [MetadataDelta(_str(response.get("id")), _str(response.get("model")))]
        if kind == "response.output_item.added":
            item = _obj(data.get("item"))
            self._items[index] = {**item, "_text": [], "_args": []}
            if item.get("type") == "function_call":
                return [ToolCallDelta(index, _str(item.get("call_id")), _str(item.get("name")), "")]
            return []
        state = self._items.setdefault(index, {"type": "message", "_text": [], "_args": []})
        delta = data.get("delta")
        delta = delta if isinstance(delta, str) else ""
        if kind == "response.output_text.delta":
            state["_text"].append(delta)
            return [TextDelta(delta)]
        if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            state["_text"].append(delta)
            return [ReasoningDelta(delta)]
        if kind == "response.function_call_arguments.delta":
            state["_args"].append(delta)
            return [ToolCallDelta(index, None, None, delta)]
        if kind == "response.output_item.done" and isinstance(data.get("item"), dict):
            state["_done"] = data["item"]
            return []
        if kind in ("response.completed", "response.incomplete"):
            return self._complete(_obj(data.get("response")))
        if kind in ("response.failed", "error"):
            raise stream_error_from_object(_obj(data.get("response")) or data, self._rid)
        return []

    def _complete(self, response: Mapping[str, Any]) -> list[StreamDelta]:
        self._final = response
        self._usage = _usage(response.get("usage"))
        finish, raw = _finish(response, self._parts())
        deltas: list[StreamDelta] = []
        if self._usage is not None:
            deltas.append(UsageDelta(self._usage))
        deltas.append(FinishDelta(finish or "other", raw))
        return deltas

    def _parts(self) -> list[Part]:
        parts: list[Part] = []
        for index in sorted(self._items):
            state = self._items[index]
            kind, text = state.get("type"), "".join(state["_text"])
            if kind == "function_call":
                args = "".join(state["_args"]) or str(_obj(state.get("_done")).get("arguments", ""))
                parts.append(
                    ToolCallPart(str(state.get("call_id", "")), str(state.get("name", "")), args)
                )
            elif kind == "reasoning":
                item = state.get("_done") or {
                    k: v for k, v in state.items() if not k.startswith("_")
                }
                parts.append(ReasoningPart(text, provider_data={"format": FORMAT, "item": item}))
            elif kind == "message":
                if text:
                    parts.append(TextPart(text))
            elif "_done" in state:
                parts.append(ProviderPart(FORMAT, state["_done"]))
        return parts

    def finish(self) -> ChatResult:
        """The whole result; StreamError without ``response.completed``/``incomplete``."""
        if self._final is None:
            raise StreamError(
                "responses stream ended before response.completed: the answer is incomplete",
                request_id=self._rid,
                status=200,
            )
        parts = self._parts()
        finish, raw = _finish(self._final, parts)
        model, rid = self._final.get("model"), self._final.get("id")
        return ChatResult(
            tuple(parts),
            finish,
            self._usage,
            model if isinstance(model, str) else None,
            rid if isinstance(rid, str) else None,
            self._rid,
            raw_finish_reason=raw,
        )


def new_accumulator(*, request_id: str | None = None) -> ChatStreamAccumulator:
    """A fresh stream accumulator (the codec-protocol entry point)."""
    return ChatStreamAccumulator(request_id=request_id)
