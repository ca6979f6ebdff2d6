"""The OpenAI chat-completions wire format (``POST /v1/chat/completions``), sans-IO.

Pure functions: neutral request → body dict; body dict → neutral result; and a stream
accumulator fed one SSE event at a time. Nothing here touches a client, clock or socket.

What the relay adds to the vendor's format (relay-behavior.md §4, §8, §9):
- thinking arrives as ``reasoning_content`` (Claude/Gemini upstreams) or ``reasoning``;
- tool-call indexes may start at 1 (Claude block index);
- a usage-only chunk with empty ``choices`` comes before ``[DONE]``;
- the relay ends every stream with ``[DONE]``, even a cut one, so a stream without a
  finish reason is an error, not a short answer.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Final

from typing_extensions import assert_never

from juhe_core._json import data_url, loads
from juhe_core._sse import ServerSentEvent
from juhe_core.errors import (
    APIError,
    StreamError,
    UnsupportedFeatureError,
    find_error_object,
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
    JsonSchemaFormat,
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
from juhe_core.wire._common import foreign_block
from juhe_core.wire._reasoning import effort_for
from juhe_core.wire._server_tools import encode_server_tools

__all__ = [
    "FINISH_REASONS",
    "ChatStreamAccumulator",
    "chat_path",
    "decode_chat_response",
    "decode_usage",
    "encode_chat_request",
    "encode_message",
    "new_accumulator",
]

FORMAT: Final = "openai"
FINISH_REASONS: Final[Mapping[str, FinishReason]] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
_AUDIO_FORMATS: Final[Mapping[str, str]] = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
}
# OpenAI reasoning models refuse ``max_tokens`` and need ``max_completion_tokens``.
_MAX_COMPLETION_PREFIXES: Final = ("o1", "o3", "o4", "gpt-5")


def chat_path(request: ChatRequest, *, stream: bool) -> str:
    """The path of a chat call in this format."""
    return "/v1/chat/completions"


# --- encoding ---


def _encode_part(part: Part) -> dict[str, Any]:
    match part:
        case TextPart(text=text):
            return {"type": "text", "text": text}
        case ImagePart(url=url, data=data, mime_type=mime, detail=detail):
            if url is None:
                if data is None:
                    raise UnsupportedFeatureError("an image part needs a url or data")
                url = data_url(data, mime or "image/png")
            image: dict[str, Any] = {"url": url}
            if detail:
                image["detail"] = detail
            return {"type": "image_url", "image_url": image}
        case FilePart():
            return {"type": "file", "file": _encode_file(part)}
        case AudioPart(data=data, mime_type=mime):
            fmt = _AUDIO_FORMATS.get(mime)
            if fmt is None:
                raise UnsupportedFeatureError(
                    f"the openai format carries wav or mp3 audio input only, not {mime!r}"
                )
            b64 = base64.b64encode(data).decode("ascii")
            return {"type": "input_audio", "input_audio": {"data": b64, "format": fmt}}
        case VideoPart(data=data, url=url, mime_type=mime):
            # The relay's own DTO type for video (dto.ContentTypeVideoUrl), data URLs included.
            video_url = url if url is not None else data_url(data or b"", mime)
            return {"type": "video_url", "video_url": {"url": video_url}}
        case ProviderPart(format=fmt, data=data):
            raise foreign_block(fmt, data, FORMAT)
        case ToolCallPart() | ToolResultPart() | ReasoningPart():
            raise UnsupportedFeatureError(
                f"a {part.kind} part cannot appear inside message content in the openai format"
            )
        case _:
            assert_never(part)


def _encode_file(part: FilePart) -> dict[str, Any]:
    if part.file_id:
        return {"file_id": part.file_id}
    if part.data is None:
        raise UnsupportedFeatureError(
            "the openai format takes files as data (or a file_id), not by URL; "
            "download the file and pass its bytes"
        )
    file: dict[str, Any] = {"file_data": data_url(part.data, part.mime_type)}
    file["filename"] = part.filename or "document.pdf"
    return file


def _content(parts: list[Part], role: str) -> str | list[dict[str, Any]]:
    if all(isinstance(p, TextPart) for p in parts):
        texts = [p.text for p in parts if isinstance(p, TextPart)]
        if role != "user" or len(texts) <= 1:
            return "".join(texts)
    if role == "system":
        raise UnsupportedFeatureError("a system message can only carry text in the openai format")
    return [_encode_part(p) for p in parts]


def _encode_tool_result(part: ToolResultPart) -> dict[str, Any]:
    content: str | list[dict[str, Any]]
    if isinstance(part.content, str):
        content = part.content
    else:
        if not all(isinstance(p, TextPart) for p in part.content):
            raise UnsupportedFeatureError("tool results can only carry text in the openai format")
        content = [_encode_part(p) for p in part.content]
    return {"role": "tool", "tool_call_id": part.tool_call_id, "content": content}


def _encode_assistant(message: Message) -> dict[str, Any]:
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif isinstance(part, ReasoningPart):
            # Only reasoning this format produced (DeepSeek/Qwen/relay-converted text) goes
            # back; another format's signed thinking would be foreign to a strict upstream.
            if part.provider_data.get("format", FORMAT) == FORMAT:
                reasoning.append(part.text)
        elif isinstance(part, ProviderPart):
            raise foreign_block(part.format, part.data, FORMAT)
        elif isinstance(part, ToolCallPart):
            calls.append(
                {
                    "id": part.id,
                    "type": "function",
                    "function": {"name": part.name, "arguments": part.arguments},
                }
            )
        else:
            raise UnsupportedFeatureError(
                f"an assistant message cannot carry a {part.kind} part in the openai format"
            )
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        out["tool_calls"] = calls
    if reasoning:
        # Sent back so that reasoning models keep their chain across tool-call turns.
        out["reasoning_content"] = "".join(reasoning)
    return out


def encode_message(message: Message) -> list[dict[str, Any]]:
    """One neutral message as OpenAI messages (tool results become ``tool`` messages)."""
    if message.role == "assistant":
        encoded = [_encode_assistant(message)]
    else:
        encoded = []
        pending: list[Part] = []
        for part in message.parts:
            if isinstance(part, ToolResultPart):
                if pending:
                    encoded.append(
                        {"role": message.role, "content": _content(pending, message.role)}
                    )
                    pending = []
                encoded.append(_encode_tool_result(part))
            else:
                pending.append(part)
        if pending or not encoded:
            encoded.append({"role": message.role, "content": _content(pending, message.role)})
    if message.name:
        for item in encoded:
            if item["role"] != "tool":
                item["name"] = message.name
    return encoded


def _encode_tool_choice(choice: str | NamedToolChoice) -> Any:
    if isinstance(choice, NamedToolChoice):
        return {"type": "function", "function": {"name": choice.name}}
    return choice


def _encode_response_format(fmt: JsonObjectFormat | JsonSchemaFormat) -> dict[str, Any]:
    if isinstance(fmt, JsonObjectFormat):
        return {"type": "json_object"}
    schema: dict[str, Any] = {"name": fmt.name, "schema": dict(fmt.schema)}
    if fmt.description:
        schema["description"] = fmt.description
    if fmt.strict is not None:
        schema["strict"] = fmt.strict
    return {"type": "json_schema", "json_schema": schema}


def encode_chat_request(request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    """The JSON body of a chat call. ``extra_body`` fields are merged last, as given."""
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [m for message in request.messages for m in encode_message(message)],
    }
    if request.tools:
        body["tools"] = [
            _encode_tool(t.name, t.description, t.parameters, t.strict) for t in request.tools
        ]
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    encode_server_tools(request, FORMAT)  # Chat Completions runs none: any one refuses
    if request.tool_choice is not None:
        body["tool_choice"] = _encode_tool_choice(request.tool_choice)
    if request.response_format is not None:
        body["response_format"] = _encode_response_format(request.response_format)
    _set_options(body, request)
    if stream:
        body["stream"] = True
        # Always ask for usage: old relays send it only when asked, and with
        # include_usage:false the relay drops the finish_reason chunk (issue #7489).
        body["stream_options"] = {"include_usage": True}
    body.update(request.extra_body)
    return body


def _encode_tool(
    name: str, description: str, parameters: Mapping[str, Any], strict: bool | None
) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name, "parameters": dict(parameters)}
    if description:
        function["description"] = description
    if strict is not None:
        function["strict"] = strict
    return {"type": "function", "function": function}


def _set_options(body: dict[str, Any], request: ChatRequest) -> None:
    if request.max_tokens is not None:
        key = (
            "max_completion_tokens"
            if request.model.startswith(_MAX_COMPLETION_PREFIXES)
            else "max_tokens"
        )
        body[key] = request.max_tokens
    for key, value in (
        ("temperature", request.temperature),
        ("top_p", request.top_p),
        ("seed", request.seed),
        ("reasoning_effort", effort_for(request.reasoning_effort, request.thinking_budget)),
        ("logprobs", request.logprobs),
        ("top_logprobs", request.top_logprobs),
    ):
        if value is not None:
            body[key] = value
    if request.stop:
        body["stop"] = list(request.stop)
    if request.modalities:
        body["modalities"] = list(request.modalities)


# --- decoding ---


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def decode_usage(raw: Any) -> Usage | None:
    """Usage from an OpenAI ``usage`` object (None when absent or null)."""
    if not isinstance(raw, Mapping):
        return None
    prompt = raw.get("prompt_tokens_details")
    completion = raw.get("completion_tokens_details")
    inp, out = _int(raw.get("prompt_tokens")), _int(raw.get("completion_tokens"))
    return Usage(
        input_tokens=inp,
        output_tokens=out,
        total_tokens=_int(raw.get("total_tokens")) or inp + out,
        cache_read_tokens=_int(prompt.get("cached_tokens")) if isinstance(prompt, Mapping) else 0,
        reasoning_tokens=(
            _int(completion.get("reasoning_tokens")) if isinstance(completion, Mapping) else 0
        ),
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _finish(raw: Any) -> FinishReason | None:
    if not isinstance(raw, str) or not raw:
        return None
    return FINISH_REASONS.get(raw, "other")


def _malformed(what: str) -> APIError:
    return APIError(f"malformed chat completion: {what}")


def _message_parts(message: Mapping[str, Any]) -> list[Part]:
    parts: list[Part] = []
    reasoning = _str(message.get("reasoning_content")) or _str(message.get("reasoning"))
    if reasoning:
        parts.append(ReasoningPart(reasoning))
    content = message.get("content")
    if isinstance(content, str) and content:
        parts.append(TextPart(content))
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        for call in calls:
            function = call.get("function") if isinstance(call, Mapping) else None
            if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
                raise _malformed("a tool call without a function name")
            args = function.get("arguments")
            parts.append(
                ToolCallPart(
                    id=_str(call.get("id")) or "",
                    name=function["name"],
                    arguments=args if isinstance(args, str) else "",
                )
            )
    return parts


def decode_chat_response(body: Any, *, request_id: str | None = None) -> ChatResult:
    """A ``chat.completion`` body as a neutral result; APIError if it is not one."""
    if not isinstance(body, Mapping):
        raise _malformed(f"expected a JSON object, got {type(body).__name__}")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise _malformed("no choices")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, Mapping):
        raise _malformed("choices[0] has no message")
    raw_reason = _str(choice.get("finish_reason"))
    return ChatResult(
        parts=tuple(_message_parts(message)),
        finish_reason=_finish(raw_reason),
        usage=decode_usage(body.get("usage")),
        model=_str(body.get("model")),
        id=_str(body.get("id")),
        request_id=request_id,
        system_fingerprint=_str(body.get("system_fingerprint")),
        raw_finish_reason=raw_reason,
        logprobs=choice.get("logprobs"),
        refusal=_str(message.get("refusal")),
        raw=body,
    )


class ChatStreamAccumulator:
    """Turns stream events into deltas and, at the end, the whole result.

    ``feed(event)`` returns the deltas one event carries; ``finish()`` returns the result
    or raises StreamError when the stream did not end properly.
    """

    __slots__ = (
        "_calls",
        "_done",
        "_fingerprint",
        "_finish",
        "_id",
        "_logprobs",
        "_meta_sent",
        "_model",
        "_raw_finish",
        "_reasoning",
        "_refusal",
        "_request_id",
        "_text",
        "_usage",
    )

    def __init__(self, *, request_id: str | None = None) -> None:
        self._request_id = request_id
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, list[Any]] = {}  # index -> [id, name, [argument fragments]]
        self._finish: FinishReason | None = None
        self._raw_finish: str | None = None
        self._usage: Usage | None = None
        self._id: str | None = None
        self._model: str | None = None
        self._fingerprint: str | None = None
        self._refusal: list[str] = []
        self._logprobs: list[Any] = []
        self._meta_sent = False
        self._done = False

    def feed(self, event: ServerSentEvent) -> list[StreamDelta]:
        """Deltas carried by one event."""
        data = event.data
        if data == "[DONE]":
            self._done = True
            return []
        try:
            chunk = loads(data)
        except ValueError:
            raise StreamError(
                f"malformed stream event (not JSON): {data[:200]!r}",
                request_id=self._request_id,
                status=200,
            ) from None
        if not isinstance(chunk, dict):
            raise StreamError(
                f"malformed stream event (not an object): {data[:200]!r}",
                request_id=self._request_id,
                status=200,
            )
        if "error" in chunk and find_error_object(chunk) is not None:
            raise stream_error_from_object(chunk, self._request_id)
        deltas: list[StreamDelta] = []
        if not self._meta_sent:
            self._meta_sent = True
            self._id, self._model = _str(chunk.get("id")), _str(chunk.get("model"))
            self._fingerprint = _str(chunk.get("system_fingerprint"))
            deltas.append(MetadataDelta(self._id, self._model, self._fingerprint))
        choices = chunk.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, dict) and choice.get("index", 0) == 0:
                    self._choice(choice, deltas)
        usage = chunk.get("usage")
        if usage is not None:
            decoded = decode_usage(usage)
            if decoded is not None:
                self._usage = decoded
                deltas.append(UsageDelta(decoded))
        return deltas

    def _choice(self, choice: dict[str, Any], deltas: list[StreamDelta]) -> None:
        delta = choice.get("delta")
        if isinstance(delta, dict):
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                self._reasoning.append(reasoning)
                deltas.append(ReasoningDelta(reasoning))
            content = delta.get("content")
            if isinstance(content, str) and content:
                self._text.append(content)
                deltas.append(TextDelta(content))
            refusal = delta.get("refusal")
            if isinstance(refusal, str):
                self._refusal.append(refusal)
            calls = delta.get("tool_calls")
            if isinstance(calls, list):
                for call in calls:
                    self._tool_call(call, deltas)
        logprobs = choice.get("logprobs")
        if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
            self._logprobs.extend(logprobs["content"])
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            self._raw_finish, self._finish = reason, _finish(reason)
            deltas.append(FinishDelta(self._finish or "other", reason))

    def _tool_call(self, call: Any, deltas: list[StreamDelta]) -> None:
        if not isinstance(call, dict) or not isinstance(call.get("index", 0), int):
            raise StreamError(
                f"malformed tool-call fragment: {call!r:.200}",
                request_id=self._request_id,
                status=200,
            )
        index = call.get("index", 0)
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        call_id, name = _str(call.get("id")), _str(function.get("name"))
        args = function.get("arguments")
        args = args if isinstance(args, str) else ""
        slot = self._calls.get(index)
        if slot is None:
            slot = self._calls[index] = [None, None, []]
        if call_id and not slot[0]:
            slot[0] = call_id
        if name and not slot[1]:
            slot[1] = name
        if args:
            slot[2].append(args)
        deltas.append(ToolCallDelta(index, call_id, name, args))

    def finish(self) -> ChatResult:
        """The whole result; StreamError when ``[DONE]`` or the finish reason is missing."""
        if not self._done:
            raise StreamError(
                "chat stream ended before [DONE]: the answer is incomplete",
                request_id=self._request_id,
                status=200,
            )
        if self._finish is None:
            raise StreamError(
                "chat stream ended without a finish reason: the upstream was cut off and "
                "the answer is incomplete",
                request_id=self._request_id,
                status=200,
            )
        parts: list[Part] = []
        if self._reasoning:
            parts.append(ReasoningPart("".join(self._reasoning)))
        if self._text:
            parts.append(TextPart("".join(self._text)))
        for index in sorted(self._calls):
            call_id, name, args = self._calls[index]
            if not name:
                raise StreamError(
                    f"tool call {index} in the stream never got a name",
                    request_id=self._request_id,
                    status=200,
                )
            parts.append(ToolCallPart(call_id or "", name, "".join(args)))
        return ChatResult(
            parts=tuple(parts),
            finish_reason=self._finish,
            usage=self._usage,
            model=self._model,
            id=self._id,
            request_id=self._request_id,
            system_fingerprint=self._fingerprint,
            raw_finish_reason=self._raw_finish,
            logprobs={"content": self._logprobs} if self._logprobs else None,
            refusal="".join(self._refusal) or None,
        )


def new_accumulator(*, request_id: str | None = None) -> ChatStreamAccumulator:
    """A fresh stream accumulator (the codec-protocol entry point)."""
    return ChatStreamAccumulator(request_id=request_id)
