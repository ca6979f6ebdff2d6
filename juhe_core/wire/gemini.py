"""The Gemini generateContent wire format (``/v1beta/models/{model}:generateContent``), sans-IO.

Carries what the OpenAI format loses: thinking with thought signatures (kept on the part
that carried them and sent back unchanged), inline PDF/audio/video input, and image and
audio output. Streams use ``:streamGenerateContent?alt=sse`` (always ``alt=sse``: older
relays need it, relay-behavior.md §12) and end with the chunk carrying ``finishReason``;
there is no ``[DONE]``, so a body that ends before that chunk is a StreamError.

A blocked prompt (``promptFeedback.blockReason``) or answer (a ``finishReason`` such as
``SAFETY`` or ``RECITATION``, with or without partial text) raises BadRequestError (status
200; StreamError in a stream, after the text already streamed) whose ``code`` is the reason
and whose ``body`` keeps the ``safetyRatings``.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

from typing_extensions import assert_never

from juhe_core._json import loads
from juhe_core._sse import ServerSentEvent
from juhe_core.catalogue import capabilities_for
from juhe_core.errors import (
    APIError,
    BadRequestError,
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
from juhe_core.wire._common import foreign_block, image_mime
from juhe_core.wire._gemini_schema import to_gemini_schema
from juhe_core.wire._reasoning import budget_for
from juhe_core.wire._server_tools import encode_server_tools

__all__ = [
    "BLOCKED",
    "FINISH_REASONS",
    "ChatStreamAccumulator",
    "chat_path",
    "decode_chat_response",
    "encode_chat_request",
    "new_accumulator",
    "wav_from_pcm",
]

FORMAT: Final = "gemini"
FINISH_REASONS: Final[Mapping[str, FinishReason]] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
}
# Finish reasons that mean the answer was blocked or cut off by a filter (Gemini API
# ``Candidate.FinishReason``): never a normal answer, so they raise (see ``_blocked``).
BLOCKED: Final = frozenset(k for k, v in FINISH_REASONS.items() if v == "content_filter")
_HIGH: Final = frozenset({"MEDIUM", "HIGH"})
_TOOL_MODES: Final = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
SIGNATURE: Final = "thought_signature"
PCM_RATE: Final = 24_000  # Gemini TTS output: 24 kHz, 16-bit, mono
_WAV_HEADER: Final = 44


def chat_path(request: ChatRequest, *, stream: bool) -> str:
    """``/v1beta/models/{model}:generateContent`` (or the ``alt=sse`` stream path)."""
    model = quote(request.model.removeprefix("models/"), safe="-._~")
    if stream:
        return f"/v1beta/models/{model}:streamGenerateContent?alt=sse"
    return f"/v1beta/models/{model}:generateContent"


# --- encoding ---


def _inline(data: bytes, mime: str) -> dict[str, Any]:
    return {"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}}


def _media(url: str | None, data: bytes | None, mime: str) -> dict[str, Any]:
    if url is not None and url.startswith("data:"):
        header, _, payload = url.partition(",")
        return {"inlineData": {"mimeType": header[5:].split(";")[0], "data": payload}}
    if url is not None:
        return {"fileData": {"mimeType": mime, "fileUri": url}}
    if data is None:
        raise UnsupportedFeatureError("a media part needs a url or data")
    return _inline(data, mime)


def _signed(part: dict[str, Any], provider_data: Mapping[str, Any]) -> dict[str, Any]:
    if SIGNATURE in provider_data:
        part["thoughtSignature"] = provider_data[SIGNATURE]
    return part


def _encode_part(part: Part, names: Mapping[str, str]) -> dict[str, Any] | None:
    match part:
        case TextPart(text=text, provider_data=extra):
            if not text and SIGNATURE not in extra:
                return None  # empty text says nothing; a turn left empty is skipped
            return _signed({"text": text}, extra)
        case ImagePart(url=url, data=data):
            return _media(url, data, image_mime(part, "image/jpeg"))
        case FilePart(url=url, data=data, mime_type=mime):
            return _media(url, data, mime)
        case AudioPart(data=data, mime_type=mime):
            return _inline(data, mime)
        case VideoPart(url=url, data=data, mime_type=mime):
            return _media(url, data, mime)
        case ToolCallPart(name=name, arguments=args, provider_data=extra):
            try:
                parsed = loads(args) if args.strip() else {}
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                raise UnsupportedFeatureError(
                    f"tool call {name!r} has arguments that are not a JSON object; the gemini "
                    "format needs them parsed"
                )
            return _signed({"functionCall": {"name": name, "args": parsed}}, extra)
        case ToolResultPart():
            return _encode_tool_result(part, names)
        case ReasoningPart(text=text, signature=sig, provider_data=extra):
            if sig is None or extra.get("format", FORMAT) != FORMAT:
                return None  # unsigned or foreign reasoning cannot be verified by Gemini
            return {"text": text, "thought": True, "thoughtSignature": sig}
        case ProviderPart(format=fmt, data=data):
            if fmt != FORMAT:
                raise foreign_block(fmt, data, FORMAT)
            return dict(data)
        case _:
            assert_never(part)


def _encode_tool_result(part: ToolResultPart, names: Mapping[str, str]) -> dict[str, Any]:
    name = part.name or names.get(part.tool_call_id)
    if not name:
        raise UnsupportedFeatureError(
            f"the gemini format needs the tool name for result {part.tool_call_id!r}"
        )
    if isinstance(part.content, str):
        text = part.content
    elif all(isinstance(p, TextPart) for p in part.content):
        text = "".join(p.text for p in part.content if isinstance(p, TextPart))
    else:
        raise UnsupportedFeatureError("a gemini tool result can only carry text")
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    response = value if isinstance(value, dict) else {"result": text}
    if part.is_error:
        response = {"error": text}
    return {"functionResponse": {"name": name, "response": response}}


def _encode_contents(messages: Sequence[Message]) -> tuple[list[dict[str, Any]], list[str]]:
    names = {p.id: p.name for m in messages for p in m.parts if isinstance(p, ToolCallPart)}
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            for part in message.parts:
                if not isinstance(part, TextPart):
                    raise UnsupportedFeatureError("a gemini system instruction can only be text")
                system.append(part.text)
            continue
        role = "model" if message.role == "assistant" else "user"
        parts = [p for p in (_encode_part(x, names) for x in message.parts) if p is not None]
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return contents, system


def _thinking_budget(request: ChatRequest) -> int | None:
    """The ``thinkingBudget`` to send, within what the model accepts (catalogue).

    ``reasoning_effort="minimal"`` asks for as little thinking as the model allows: 0 where
    thinking can be turned off, else the model's minimum (2.5 Pro: 128); ``"xhigh"`` /
    ``"max"`` as much as it allows (2.5 Flash: 24,576). An explicit ``thinking_budget`` (or
    effort ``none``) the model refuses raises, naming the limit.
    """
    budget = budget_for(request.reasoning_effort, request.thinking_budget)
    if budget is None or budget < 0:  # -1: dynamic thinking, Gemini's own setting
        return budget
    caps = capabilities_for(request.model)
    effort = (request.reasoning_effort or "").lower() if request.thinking_budget is None else ""
    if budget == 0 and not caps.thinking_off:
        if effort == "minimal":
            return caps.min_thinking_budget
        asked = f"reasoning_effort={effort!r}" if effort else "thinking_budget=0"
        raise UnsupportedFeatureError(
            f"{request.model} cannot turn thinking off ({asked}); its smallest "
            f"thinking_budget is {caps.min_thinking_budget}, or use reasoning_effort='minimal'"
        )
    if 0 < budget < caps.min_thinking_budget:
        off = ", or 0 for no thinking" if caps.thinking_off else ""
        raise UnsupportedFeatureError(
            f"thinking_budget={budget} is below {request.model}'s minimum of "
            f"{caps.min_thinking_budget}{off}"
        )
    if caps.max_thinking_budget and budget > caps.max_thinking_budget:
        if effort:  # an effort level means "this much, as far as the model goes"
            return caps.max_thinking_budget
        raise UnsupportedFeatureError(
            f"thinking_budget={budget} is above {request.model}'s maximum of "
            f"{caps.max_thinking_budget}"
        )
    return budget


def _generation_config(request: ChatRequest) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key, value in (
        ("temperature", request.temperature),
        ("topP", request.top_p),
        ("maxOutputTokens", request.max_tokens),
        ("seed", request.seed),
    ):
        if value is not None:
            config[key] = value
    if request.stop:
        config["stopSequences"] = list(request.stop)
    fmt = request.response_format
    if fmt is not None:
        config["responseMimeType"] = "application/json"
        if not isinstance(fmt, JsonObjectFormat):
            config["responseSchema"] = to_gemini_schema(fmt.schema)
    budget = _thinking_budget(request)
    if budget is not None:
        config["thinkingConfig"] = (
            {"thinkingBudget": budget, "includeThoughts": True} if budget else {"thinkingBudget": 0}
        )
    if request.modalities:
        config["responseModalities"] = [m.upper() for m in request.modalities]
    if request.logprobs:
        config["responseLogprobs"] = True
        if request.top_logprobs is not None:
            config["logprobs"] = request.top_logprobs
    return config


def encode_chat_request(request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    """The JSON body of a chat call (streaming is chosen by the path, not the body)."""
    contents, system = _encode_contents(request.messages)
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    if request.tools:
        declarations = []
        for tool in request.tools:
            declaration: dict[str, Any] = {"name": tool.name, "description": tool.description}
            if tool.parameters.get("properties"):
                declaration["parameters"] = to_gemini_schema(tool.parameters)
            declarations.append(declaration)
        body["tools"] = [{"functionDeclarations": declarations}]
    if request.server_tools:  # each its own Tool object: {"google_search": {}} ...
        body.setdefault("tools", []).extend(encode_server_tools(request, FORMAT))
    # Gemini has no switch for parallel calls: parallel_tool_calls is a permission it
    # cannot enforce, so it is not sent.
    choice = request.tool_choice
    if choice is not None:
        if isinstance(choice, NamedToolChoice):
            calling = {"mode": "ANY", "allowedFunctionNames": [choice.name]}
        else:
            calling = {"mode": _TOOL_MODES[choice]}
        body["toolConfig"] = {"functionCallingConfig": calling}
    config = _generation_config(request)
    if config:
        body["generationConfig"] = config
    body.update(request.extra_body)
    return body


# --- decoding ---


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, Mapping):
        return None

    def num(key: str) -> int:
        value = raw.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    thoughts = num("thoughtsTokenCount")
    inp, out = num("promptTokenCount"), num("candidatesTokenCount") + thoughts
    return Usage(
        input_tokens=inp,
        output_tokens=out,
        total_tokens=num("totalTokenCount") or inp + out,
        cache_read_tokens=num("cachedContentTokenCount"),
        reasoning_tokens=thoughts,
    )


def _decode_part(raw: Mapping[str, Any], call_index: int) -> Part | None:
    sig = raw.get("thoughtSignature")
    extra = {SIGNATURE: sig} if isinstance(sig, str) else {}
    if isinstance(raw.get("text"), str):
        if raw.get("thought") is True:
            return ReasoningPart(
                raw["text"], sig if isinstance(sig, str) else None, {"format": FORMAT}
            )
        return TextPart(raw["text"], extra)
    call = raw.get("functionCall")
    if isinstance(call, Mapping) and isinstance(call.get("name"), str):
        call_id = call.get("id")
        return ToolCallPart(
            call_id if isinstance(call_id, str) else f"call_{call_index}",
            call["name"],
            json.dumps(call.get("args") or {}, ensure_ascii=False),
            extra,
        )
    inline = raw.get("inlineData")
    if isinstance(inline, Mapping) and isinstance(inline.get("data"), str):
        mime = str(inline.get("mimeType", "application/octet-stream"))
        data = base64.b64decode(inline["data"])
        rate = _pcm_rate(mime)
        if rate is not None:
            return AudioPart(wav_from_pcm(data, rate), "audio/wav")
        if mime.startswith("audio/"):
            return AudioPart(data, mime)
        return ImagePart(data=data, mime_type=mime)
    if sig is not None and len(raw) == 1:
        return ReasoningPart("", sig, {"format": FORMAT})  # a bare signature part
    return ProviderPart(FORMAT, dict(raw)) if raw else None


def _pcm_rate(mime: str) -> int | None:
    """The sample rate of raw PCM audio (``audio/L16;codec=pcm;rate=24000``, what Gemini
    TTS answers), else None. 24 kHz when the type names none (the TTS docs' rate)."""
    kind, *params = (p.strip() for p in mime.split(";"))
    if kind.lower() not in ("audio/l16", "audio/pcm"):
        return None
    fields = {k.strip().lower(): v.strip() for k, _, v in (p.partition("=") for p in params)}
    rate = fields.get("rate", "")
    return int(rate) if rate.isdigit() else PCM_RATE


def _raw_pcm_rate(raw: Any) -> int | None:
    inline = raw.get("inlineData") if isinstance(raw, Mapping) else None
    return _pcm_rate(str(inline.get("mimeType", ""))) if isinstance(inline, Mapping) else None


def wav_from_pcm(pcm: bytes, rate: int) -> bytes:
    """A WAV file of raw 16-bit little-endian mono PCM: the 44-byte RIFF header, then the
    samples (Gemini's ``audio/L16`` is little-endian, despite RFC 2586; players need the
    header)."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)  # PCM, mono, 16-bit
    header = struct.pack("<4sI4s4sI", b"RIFF", 36 + len(pcm), b"WAVE", b"fmt ", len(fmt))
    return header + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm


def _candidate(body: Mapping[str, Any], request_id: str | None) -> Mapping[str, Any] | None:
    candidates = body.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], Mapping):
        return candidates[0]
    feedback = body.get("promptFeedback")
    reason = feedback.get("blockReason") if isinstance(feedback, Mapping) else None
    if reason:
        ratings = feedback.get("safetyRatings") if isinstance(feedback, Mapping) else None
        raise _blocked("prompt", str(reason), ratings, body, request_id)
    return None


def _blocked(
    what: str, reason: str, ratings: Any, body: Mapping[str, Any], request_id: str | None
) -> BadRequestError:
    """The error for a blocked prompt (``promptFeedback.blockReason``) or answer
    (a candidate's ``finishReason`` in ``BLOCKED``): ``code`` is the reason, ``body`` the
    response with its ``safetyRatings``, and the message names the flagged categories."""
    flagged = [
        f"{r.get('category')}: {r.get('probability')}"
        for r in (ratings if isinstance(ratings, list) else ())
        if isinstance(r, Mapping) and (r.get("blocked") or r.get("probability") in _HIGH)
    ]
    detail = f"; {', '.join(flagged)}" if flagged else ""
    return BadRequestError(
        f"Gemini blocked the {what} ({reason}{detail})",
        status=200,
        type=f"{what}_blocked",
        code=reason,
        request_id=request_id,
        body=dict(body),
    )


def _finish(raw: str | None, parts: Sequence[Part]) -> FinishReason | None:
    if raw is None:
        return None
    if raw == "STOP" and any(isinstance(p, ToolCallPart) for p in parts):
        return "tool_calls"
    return FINISH_REASONS.get(raw, "other")


def decode_chat_response(body: Any, *, request_id: str | None = None) -> ChatResult:
    """A ``GenerateContentResponse`` as a neutral result; typed errors otherwise."""
    if not isinstance(body, Mapping):
        raise APIError("malformed gemini response: not an object", request_id=request_id)
    candidate = _candidate(body, request_id)
    if candidate is None:
        raise APIError("malformed gemini response: no candidates", request_id=request_id)
    content = candidate.get("content")
    raw_parts = content.get("parts") if isinstance(content, Mapping) else None
    parts: list[Part] = []
    for raw in raw_parts if isinstance(raw_parts, list) else []:
        if isinstance(raw, Mapping):
            part = _decode_part(raw, sum(isinstance(p, ToolCallPart) for p in parts))
            if part is not None:
                parts.append(part)
    reason = candidate.get("finishReason")
    reason = reason if isinstance(reason, str) else None
    if reason in BLOCKED:
        # Blocked, or cut off part-way: never a normal answer (any partial text is in body).
        raise _blocked("answer", reason, candidate.get("safetyRatings"), body, request_id)
    model, rid = body.get("modelVersion"), body.get("responseId")
    return ChatResult(
        parts=tuple(parts),
        finish_reason=_finish(reason, parts),
        usage=_usage(body.get("usageMetadata")),
        model=model if isinstance(model, str) else None,
        id=rid if isinstance(rid, str) else None,
        request_id=request_id,
        raw_finish_reason=reason,
        raw=body,
    )


class ChatStreamAccumulator:
    """Folds Gemini stream chunks into deltas; the chunk with ``finishReason`` ends it."""

    def __init__(self, *, request_id: str | None = None) -> None:
        self._rid = request_id
        self._parts: list[Part] = []
        self._calls = 0
        self._usage: Usage | None = None
        self._usage_sent = False
        self._raw_reason: str | None = None
        self._meta_sent = False
        self._model: str | None = None
        self._id: str | None = None
        self._blocked: BadRequestError | None = None
        self._pcm_rate: int | None = None  # of the last part, when it was raw PCM audio

    def feed(self, event: ServerSentEvent) -> list[StreamDelta]:
        """Deltas carried by one chunk."""
        try:
            chunk = loads(event.data)
        except ValueError:
            raise StreamError(
                f"malformed stream event (not JSON): {event.data[:200]!r}",
                request_id=self._rid,
                status=200,
            ) from None
        if not isinstance(chunk, dict):
            raise StreamError(
                "malformed gemini stream chunk (not an object)", request_id=self._rid, status=200
            )
        if find_error_object(chunk) is not None:
            raise stream_error_from_object(chunk, self._rid)
        deltas: list[StreamDelta] = []
        if not self._meta_sent:
            self._meta_sent = True
            model, rid = chunk.get("modelVersion"), chunk.get("responseId")
            self._model = model if isinstance(model, str) else None
            self._id = rid if isinstance(rid, str) else None
            deltas.append(MetadataDelta(self._id, self._model))
        try:
            candidate = _candidate(chunk, self._rid)
        except BadRequestError as exc:
            raise _as_stream_error(exc) from None
        if candidate is not None:
            self._candidate(candidate, deltas)
            if self._raw_reason in BLOCKED and self._blocked is None:
                ratings = candidate.get("safetyRatings")
                self._blocked = _blocked("answer", self._raw_reason, ratings, chunk, self._rid)
        usage = _usage(chunk.get("usageMetadata"))
        if usage is not None:
            self._usage = usage
        if self._raw_reason is not None and self._usage is not None and not self._usage_sent:
            self._usage_sent = True
            deltas.append(UsageDelta(self._usage))
        return deltas

    def _candidate(self, candidate: Mapping[str, Any], deltas: list[StreamDelta]) -> None:
        content = candidate.get("content")
        raw_parts = content.get("parts") if isinstance(content, Mapping) else None
        for raw in raw_parts if isinstance(raw_parts, list) else []:
            part = _decode_part(raw, self._calls) if isinstance(raw, Mapping) else None
            if part is not None:
                deltas.append(self._add(part, _raw_pcm_rate(raw)))
        reason = candidate.get("finishReason")
        if isinstance(reason, str) and reason:
            self._raw_reason = reason
            deltas.append(FinishDelta(_finish(reason, self._parts) or "other", reason))

    def _add(self, part: Part, pcm_rate: int | None = None) -> StreamDelta:
        last = self._parts[-1] if self._parts else None
        merge = pcm_rate is not None and pcm_rate == self._pcm_rate
        self._pcm_rate = pcm_rate
        if isinstance(part, TextPart):
            if isinstance(last, TextPart):
                extra = {**last.provider_data, **part.provider_data}
                self._parts[-1] = TextPart(last.text + part.text, extra)
            else:
                self._parts.append(part)
            return TextDelta(part.text)
        if isinstance(part, ReasoningPart):
            if isinstance(last, ReasoningPart) and last.signature is None:
                self._parts[-1] = ReasoningPart(
                    last.text + part.text, part.signature, part.provider_data
                )
            else:
                self._parts.append(part)
            return ReasoningDelta(part.text, part.signature)
        if merge and pcm_rate and isinstance(part, AudioPart) and isinstance(last, AudioPart):
            # TTS streams its PCM in pieces: each delta is a playable WAV of its piece; the
            # result holds one WAV of them all.
            pcm = last.data[_WAV_HEADER:] + part.data[_WAV_HEADER:]
            self._parts[-1] = AudioPart(wav_from_pcm(pcm, pcm_rate), "audio/wav")
            return PartDelta(part)
        self._parts.append(part)
        if isinstance(part, ToolCallPart):
            self._calls += 1
            return ToolCallDelta(self._calls - 1, part.id, part.name, part.arguments)
        return PartDelta(part)

    def finish(self) -> ChatResult:
        """The whole result; StreamError when no chunk carried a ``finishReason``, or
        when it was a block (``BLOCKED``), even after some text."""
        if self._raw_reason is None:
            raise StreamError(
                "gemini stream ended without a finishReason: the answer is incomplete",
                request_id=self._rid,
                status=200,
            )
        if self._blocked is not None:
            # The text streamed so far was delivered; the answer still ends in an error.
            raise _as_stream_error(self._blocked)
        return ChatResult(
            parts=tuple(self._parts),
            finish_reason=_finish(self._raw_reason, self._parts),
            usage=self._usage,
            model=self._model,
            id=self._id,
            request_id=self._rid,
            raw_finish_reason=self._raw_reason,
        )


def _as_stream_error(exc: BadRequestError) -> StreamError:
    return StreamError(
        exc.message,
        request_id=exc.request_id,
        status=200,
        type=exc.type,
        code=exc.code,
        body=exc.body,
    )


def new_accumulator(*, request_id: str | None = None) -> ChatStreamAccumulator:
    """A fresh stream accumulator (the codec-protocol entry point)."""
    return ChatStreamAccumulator(request_id=request_id)
