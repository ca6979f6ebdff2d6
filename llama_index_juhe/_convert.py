"""Pure mappings between LlamaIndex chat types and juhe_core's neutral message model.

``map_messages`` turns ``ChatMessage``s (with their blocks) into neutral ``Message``s;
``map_result`` / ``map_parts`` turn a neutral answer into a ``ChatResponse`` /
``ChatMessage``. Nothing here builds a wire payload, touches a client or opens a socket:
the codecs in ``juhe_core.wire`` own the wire, so every ``api_format`` shares this module.

How LlamaIndex represents things, following its OpenAI integration:
- an assistant's tool calls are ``ToolCallBlock``s, mirrored as OpenAI-shaped dicts in
  ``additional_kwargs["tool_calls"]`` (core's ``is_function`` and program utilities read
  that key);
- a tool result is a ``role="tool"`` message with ``additional_kwargs["tool_call_id"]``;
- reasoning is a ``ThinkingBlock`` (signature and format data in its
  ``additional_information``); a streamed piece of it is
  ``ChatResponse.additional_kwargs["thinking_delta"]`` (what ``FunctionAgent`` reads);
- token counts are flat keys of ``ChatResponse.additional_kwargs`` and a ``usage``
  mapping in ``ChatResponse.raw`` (what ``TokenCountingHandler`` reads);
- ``fallback_models`` that failed before the answering model are listed under
  ``additional_kwargs["fallbacks"]`` (the answering model is ``raw["model"]``);
- image and audio output (Gemini) are ``ImageBlock`` / ``AudioBlock`` holding the bytes.

Format-only data that LlamaIndex blocks have no field for rides in the assistant
message's ``additional_kwargs`` and is sent back unchanged (messages.py: "sent back as
is"): a tool call's ``provider_data`` in its ``tool_calls`` entry (Gemini function-call
thought signatures), a text part's under ``provider_data`` and whole ``ProviderPart``s
(Anthropic server-tool blocks) under ``provider_parts``, both keyed by part position.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from llama_index.core.base.llms.types import (
    AudioBlock,
    CachePoint,
    ChatMessage,
    ChatResponse,
    CitableBlock,
    CitationBlock,
    ContentBlock,
    DocumentBlock,
    ImageBlock,
    LogProb,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)
from llama_index.core.llms.llm import ToolSelection
from typing_extensions import assert_never

from juhe_core._json import parse_partial_json, parse_tool_arguments
from juhe_core.errors import UnsupportedFeatureError
from juhe_core.messages import (
    AudioPart,
    ChatResult,
    FilePart,
    ImagePart,
    Message,
    Part,
    ProviderPart,
    ReasoningPart,
    Role,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
    VideoPart,
)

__all__ = [
    "ROLES",
    "map_block",
    "map_message",
    "map_messages",
    "map_parts",
    "map_result",
    "raw_body",
    "response_kwargs",
    "tool_call_dicts",
    "tool_kwargs",
    "tool_selections",
    "usage_counts",
]

ROLES: Final[Mapping[str, Role]] = {
    "system": "system",
    "developer": "system",  # the neutral model has one instruction role
    "user": "user",
    "assistant": "assistant",
    "model": "assistant",
    "chatbot": "assistant",
    "tool": "tool",
}
_AUDIO_MIME: Final[Mapping[str, str]] = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "mpeg": "audio/mpeg",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "webm": "audio/webm",
}
_AUDIO_FORMAT: Final[Mapping[str, str]] = {"audio/mpeg": "mp3", "audio/mp4": "m4a"}
_DEFAULT_DOCUMENT_TITLE: Final = "input_document"  # what DocumentBlock fills in
PROVIDER_DATA: Final = "provider_data"
PROVIDER_PARTS: Final = "provider_parts"
_CACHEABLE: Final = (TextPart, ImagePart, FilePart)  # what a CachePoint can mark


# --- LlamaIndex -> neutral ---


def _image(block: ImageBlock) -> ImagePart:
    if block.image is None and block.path is None and block.url is not None:
        return ImagePart(url=str(block.url), mime_type=block.image_mimetype, detail=block.detail)
    # resolve_image decodes the base64 the block stores, or reads the local path.
    data = block.resolve_image().read()
    return ImagePart(data=data, mime_type=block.image_mimetype, detail=block.detail)


def _document(block: DocumentBlock) -> FilePart:
    mime = block.document_mimetype or "application/pdf"
    filename = Path(str(block.path)).name if block.path else None
    if filename is None and block.title and block.title != _DEFAULT_DOCUMENT_TITLE:
        filename = block.title
    if block.data is None and block.path is None and block.url:
        # Passed on as a URL: whether a URL can be sent is the codec's decision.
        return FilePart(url=block.url, mime_type=mime, filename=filename)
    return FilePart(data=block.resolve_document().read(), mime_type=mime, filename=filename)


def _audio(block: AudioBlock) -> AudioPart:
    if block.audio is None and block.path is None:
        raise UnsupportedFeatureError(
            "audio input needs bytes or a local path; download the audio and pass its bytes"
        )
    fmt = (block.format or "wav").lower()
    mime = _AUDIO_MIME.get(fmt, f"audio/{fmt}")
    return AudioPart(data=block.resolve_audio().read(), mime_type=mime)


def _video(block: VideoBlock) -> VideoPart:
    mime = block.video_mimetype or "video/mp4"
    if block.video is None and block.path is None and block.url is not None:
        return VideoPart(url=str(block.url), mime_type=mime)
    return VideoPart(data=block.resolve_video().read(), mime_type=mime)


def _thinking(block: ThinkingBlock) -> ReasoningPart:
    info = dict(block.additional_information)
    signature = info.pop("signature", None)
    return ReasoningPart(
        block.content or "",
        signature=signature if isinstance(signature, str) else None,
        provider_data=info,
    )


def map_block(block: ContentBlock) -> Part | None:
    """One content block as a neutral part; None for a ``CachePoint`` (see ``_parts``)."""
    match block:
        case TextBlock(text=text):
            return TextPart(text)
        case ImageBlock():
            return _image(block)
        case DocumentBlock():
            return _document(block)
        case AudioBlock():
            return _audio(block)
        case VideoBlock():
            return _video(block)
        case ThinkingBlock():
            return _thinking(block)
        case ToolCallBlock(tool_call_id=call_id, tool_name=name, tool_kwargs=kwargs):
            args = kwargs if isinstance(kwargs, str) else json.dumps(kwargs, ensure_ascii=False)
            return ToolCallPart(call_id or "", name, args)
        case CachePoint():
            return None
        case CitableBlock() | CitationBlock():
            raise UnsupportedFeatureError(
                f"{type(block).__name__} has no equivalent in Juhe's message model; "
                "pass its content as TextBlock / ImageBlock / DocumentBlock"
            )
        case _:
            assert_never(block)


def _parts(blocks: Sequence[ContentBlock]) -> list[Part]:
    parts: list[Part] = []
    for block in blocks:
        part = map_block(block)
        if part is not None:
            parts.append(part)
        elif isinstance(block, CachePoint) and parts and isinstance(parts[-1], _CACHEABLE):
            # As llama-index-llms-anthropic does: the cache point marks the block before
            # it. Formats that cache on their own (OpenAI) ignore the mark; a cache point
            # after audio, video or reasoning has nowhere to go, as in the neutral model.
            marked = {**parts[-1].provider_data, "cache_control": block.cache_control.model_dump()}
            parts[-1] = replace(parts[-1], provider_data=marked)
    return parts


def _legacy_tool_call(call: Any) -> ToolCallPart:
    """A tool call from ``additional_kwargs["tool_calls"]`` (dict or OpenAI SDK object)."""
    data = call.model_dump() if hasattr(call, "model_dump") else call
    function = data.get("function") if isinstance(data, Mapping) else None
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise UnsupportedFeatureError(f"not a function tool call: {call!r:.200}")
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments or {}, ensure_ascii=False)
    extra = data.get(PROVIDER_DATA) or {}
    return ToolCallPart(str(data.get("id") or ""), function["name"], arguments, extra)


def _tool_result(message: ChatMessage) -> ToolResultPart:
    """A tool message as one result; a ``CachePoint`` in it marks the whole result (the
    Anthropic ``tool_result`` block, as langchain-anthropic places it)."""
    parts = [p for p in map(map_block, message.blocks) if p is not None]
    points = [b for b in message.blocks if isinstance(b, CachePoint)]
    extra = {"cache_control": points[-1].cache_control.model_dump()} if points else {}
    call_id = message.additional_kwargs.get("tool_call_id")
    if not call_id:
        raise UnsupportedFeatureError(
            "a tool message needs additional_kwargs['tool_call_id'] (the id of the call it "
            "answers), as LlamaIndex's agents set it"
        )
    content: str | tuple[Part, ...] = (
        "".join(p.text for p in parts if isinstance(p, TextPart))
        if all(isinstance(p, TextPart) for p in parts)
        else tuple(parts)
    )
    name = message.additional_kwargs.get("name")
    return ToolResultPart(
        str(call_id),
        content,
        name=name if isinstance(name, str) else None,
        provider_data=extra,
    )


def _assistant_parts(message: ChatMessage, parts: list[Part]) -> list[Part]:
    """Restore what ``map_parts`` kept in ``additional_kwargs``; drop empty text."""
    kwargs = message.additional_kwargs
    legacy = [_legacy_tool_call(c) for c in kwargs.get("tool_calls") or []]
    if not any(isinstance(p, ToolCallPart) for p in parts):
        # History written by other integrations keeps calls only in additional_kwargs.
        parts.extend(legacy)
    call_data = {c.id: c.provider_data for c in legacy if c.provider_data}
    parts = [
        ToolCallPart(p.id, p.name, p.arguments, call_data[p.id])
        if isinstance(p, ToolCallPart) and not p.provider_data and p.id in call_data
        else p
        for p in parts
    ]
    for entry in sorted(kwargs.get(PROVIDER_PARTS) or [], key=lambda e: int(e["index"])):
        parts.insert(int(entry["index"]), ProviderPart(entry["format"], entry["data"]))
    for entry in kwargs.get(PROVIDER_DATA) or []:
        index = int(entry["index"])
        part = parts[index] if index < len(parts) else None
        if isinstance(part, TextPart):
            parts[index] = TextPart(part.text, {**part.provider_data, **entry["data"]})
    # Empty text says nothing (Anthropic even refuses it), unless it carries a signature.
    return [p for p in parts if not isinstance(p, TextPart) or p.text or p.provider_data]


def map_message(message: ChatMessage) -> Message:
    """One ``ChatMessage`` as a neutral ``Message``."""
    role = ROLES.get(message.role.value)
    if role is None:
        raise UnsupportedFeatureError(
            f"role {message.role.value!r} is not supported; use system, user, assistant or tool"
        )
    if role == "tool":
        return Message("tool", (_tool_result(message),))
    parts = _parts(message.blocks)
    if role == "assistant":
        parts = _assistant_parts(message, parts)
    name = message.additional_kwargs.get("name")
    return Message(role, tuple(parts), name=name if isinstance(name, str) else None)


def map_messages(messages: Sequence[ChatMessage]) -> list[Message]:
    """A LlamaIndex conversation as neutral messages, in order."""
    return [map_message(m) for m in messages]


# --- neutral -> LlamaIndex ---


def tool_kwargs(arguments: str) -> dict[str, Any] | str:
    """A call's arguments as LlamaIndex stores them: a dict once they parse, else the text.

    Keeping unparsable (or still-streaming) text lets ``tool_selections`` parse it
    partially and lets the history send it back exactly as the model wrote it.
    """
    try:
        return parse_tool_arguments(arguments)
    except UnsupportedFeatureError:
        return arguments


def tool_call_dicts(calls: Sequence[ToolCallPart]) -> list[dict[str, Any]]:
    """Tool calls as the OpenAI-shaped dicts of ``additional_kwargs["tool_calls"]``."""
    out = []
    for c in calls:
        entry: dict[str, Any] = {
            "id": c.id,
            "type": "function",
            "function": {"name": c.name, "arguments": c.arguments},
        }
        if c.provider_data:
            entry[PROVIDER_DATA] = dict(c.provider_data)
        out.append(entry)
    return out


def _block(part: Part) -> ContentBlock | None:
    match part:
        case TextPart(text=text):
            return TextBlock(text=text)
        case ReasoningPart(text=text, signature=signature, provider_data=data):
            info = dict(data) | ({"signature": signature} if signature else {})
            return ThinkingBlock(content=text, additional_information=info)
        case ToolCallPart(id=call_id, name=name, arguments=arguments):
            return ToolCallBlock(
                tool_call_id=call_id or None, tool_name=name, tool_kwargs=tool_kwargs(arguments)
            )
        case ImagePart(url=url, data=data, mime_type=mime):
            return ImageBlock(url=url, image=data, image_mimetype=mime)
        case AudioPart(data=data, mime_type=mime):
            return AudioBlock(audio=data, format=_AUDIO_FORMAT.get(mime, mime.rsplit("/", 1)[-1]))
        case VideoPart(url=url, data=data, mime_type=mime):
            return VideoBlock(url=url, video=data, video_mimetype=mime)
        case FilePart(url=url, data=data, mime_type=mime, filename=filename):
            return DocumentBlock(url=url, data=data, document_mimetype=mime, title=filename)
        case ProviderPart():
            return None  # kept in additional_kwargs by map_parts
        case ToolResultPart():
            raise UnsupportedFeatureError("an assistant answer cannot carry a tool result")
        case _:
            assert_never(part)


def map_parts(parts: Sequence[Part], *, refusal: str | None = None) -> ChatMessage:
    """An assistant answer's parts as a ``ChatMessage`` (blocks plus ``additional_kwargs``)."""
    blocks = [b for b in map(_block, parts) if b is not None]
    kwargs: dict[str, Any] = {}
    calls = [p for p in parts if isinstance(p, ToolCallPart)]
    if calls:
        kwargs["tool_calls"] = tool_call_dicts(calls)
    text_data = [
        {"index": i, "data": dict(p.provider_data)}
        for i, p in enumerate(parts)
        if isinstance(p, TextPart) and p.provider_data
    ]
    if text_data:
        kwargs[PROVIDER_DATA] = text_data
    foreign = [
        {"index": i, "format": p.format, "data": dict(p.data)}
        for i, p in enumerate(parts)
        if isinstance(p, ProviderPart)
    ]
    if foreign:
        kwargs[PROVIDER_PARTS] = foreign
    if refusal:
        kwargs["refusal"] = refusal
    return ChatMessage(
        role=MessageRole.ASSISTANT, blocks=blocks or [TextBlock(text="")], additional_kwargs=kwargs
    )


def usage_counts(usage: Usage | None) -> dict[str, int]:
    """Token counts under the names LlamaIndex integrations use (empty when unknown)."""
    if usage is None:
        return {}
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "cached_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
    }


def _logprobs(raw: Any) -> list[list[LogProb]] | None:
    content = raw.get("content") if isinstance(raw, Mapping) else None
    if not isinstance(content, list):
        return None
    out: list[list[LogProb]] = []
    for entry in content:
        alternatives = entry.get("top_logprobs") or [entry]
        out.append(
            [
                LogProb(token=a["token"], logprob=a["logprob"], bytes=a.get("bytes") or [])
                for a in alternatives
            ]
        )
    return out


def raw_body(result: ChatResult) -> dict[str, Any]:
    """The response body as sent, with a ``usage`` mapping added when the format has none."""
    body = dict(result.raw) if isinstance(result.raw, Mapping) else {}
    if not isinstance(body.get("usage"), Mapping):
        body["usage"] = usage_counts(result.usage) or None
    return body


def response_kwargs(usage: Usage | None, fallbacks: Sequence[str]) -> dict[str, Any]:
    """``ChatResponse.additional_kwargs``: token counts, and the ``fallbacks`` that failed
    before the answering model (only when some did, so a normal answer holds counts only)."""
    kwargs: dict[str, Any] = usage_counts(usage)
    if fallbacks:
        kwargs["fallbacks"] = list(fallbacks)
    return kwargs


def map_result(result: ChatResult) -> ChatResponse:
    """A whole neutral answer as a ``ChatResponse``."""
    return ChatResponse(
        message=map_parts(result.parts, refusal=result.refusal),
        raw=raw_body(result),
        logprobs=_logprobs(result.logprobs),
        additional_kwargs=response_kwargs(result.usage, result.fallbacks),
    )


def tool_selections(response: ChatResponse, *, error_on_no_tool_call: bool) -> list[ToolSelection]:
    """Every tool call of ``response`` (complete or still streaming), arguments parsed."""
    blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    if not blocks:
        legacy = response.message.additional_kwargs.get("tool_calls") or []
        blocks = [
            ToolCallBlock(tool_call_id=c.id, tool_name=c.name, tool_kwargs=c.arguments)
            for c in map(_legacy_tool_call, legacy)
        ]
    if not blocks and error_on_no_tool_call:
        raise ValueError("Expected at least one tool call, but got 0 tool calls.")
    selections = []
    for block in blocks:
        kwargs = block.tool_kwargs
        if isinstance(kwargs, str):
            # Partial JSON while streaming: agents read the arguments on every chunk.
            parsed = parse_partial_json(kwargs)
            kwargs = parsed if isinstance(parsed, dict) else {}
        selections.append(
            ToolSelection(
                tool_id=block.tool_call_id or "", tool_name=block.tool_name, tool_kwargs=kwargs
            )
        )
    return selections
