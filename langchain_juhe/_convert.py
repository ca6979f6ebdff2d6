"""Pure mappings between LangChain messages and the ``juhe_core`` neutral model.

Nothing here touches a client, a socket or a clock: ``ChatJuhe`` calls these functions
around ``JuheClient.chat`` / ``chat_stream`` and they are tested without a server.

Inputs are read through ``BaseMessage.content_blocks``, so every format langchain-core
understands (OpenAI ``image_url`` / ``input_audio`` / ``file`` blocks, Anthropic
``image`` / ``document`` / ``thinking`` / ``tool_use`` blocks, LangChain v0 and v1 data
blocks) arrives here as one standard block type. A block with no neutral equivalent raises
``UnsupportedFeatureError``; content the chosen wire format cannot carry is refused by its
codec in ``juhe_core.wire`` with the same error.

An answer keeps LangChain's usual shape (text ``content``, ``tool_calls``) and puts the
rest in ``additional_kwargs`` so that it goes back unchanged in history:

- ``reasoning_content``: the reasoning text (the langchain-deepseek/-groq/-ollama key,
  which langchain-core shows as a standard ``reasoning`` content block);
- ``reasoning_blocks``: each reasoning part with its signature and format data, when the
  format has any (Anthropic thinking signatures, Gemini thought signatures);
- ``tool_call_provider_data`` (by call id), ``text_provider_data`` and ``provider_parts``
  (blocks only one format understands, e.g. Anthropic server-tool results).

``response_metadata`` has ``model_name``, ``model_provider`` ("juhe"), ``finish_reason``,
the ids, and ``fallbacks`` (the models that failed first) when a fallback model answered.

Media output (images, audio) makes ``content`` a list of standard blocks.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, cast

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    InvalidToolCall,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.tool import ToolCallChunk, invalid_tool_call, tool_call
from langchain_core.messages.tool import tool_call_chunk as make_tool_call_chunk
from typing_extensions import assert_never

from juhe_core._json import parse_tool_arguments
from juhe_core.errors import UnsupportedFeatureError
from juhe_core.messages import (
    AudioPart,
    ChatRequest,
    ChatResult,
    FilePart,
    FinishDelta,
    ImagePart,
    Message,
    MetadataDelta,
    Part,
    PartDelta,
    ProviderPart,
    ReasoningDelta,
    ReasoningPart,
    Role,
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
from langchain_juhe._binding import to_response_format, to_tool_choice, to_tool_definitions

__all__ = [
    "PROVIDER",
    "ChunkBuilder",
    "check_carried",
    "to_ai_message",
    "to_chat_request",
    "to_messages",
    "to_usage_metadata",
]

Block = Mapping[str, Any]

PROVIDER: Final = "juhe"
"""``response_metadata["model_provider"]`` of every message we produce."""
REASONING: Final = "reasoning_content"
REASONING_BLOCKS: Final = "reasoning_blocks"
CALL_DATA: Final = "tool_call_provider_data"
TEXT_DATA: Final = "text_provider_data"
CITATIONS: Final = "citations"
PROVIDER_PARTS: Final = "provider_parts"

_DATA_BLOCKS: Final = frozenset({"image", "file", "audio", "video", "text-plain"})
_ROLES: Final[Mapping[str, Role]] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
}
# Call-time keywords that become ChatRequest fields; anything else goes to extra_body.
_REQUEST_FIELDS: Final = (
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
    "reasoning_effort",
    "thinking_budget",
    "modalities",
    "logprobs",
    "top_logprobs",
    "parallel_tool_calls",
)


# --- LangChain messages -> neutral messages ---


def to_messages(messages: Sequence[BaseMessage]) -> list[Message]:
    """LangChain messages as neutral messages, in order."""
    return [_map_message(m) for m in messages]


def _map_message(message: BaseMessage) -> Message:
    if isinstance(message, AIMessage):
        return Message("assistant", _map_ai_parts(message), message.name)
    if isinstance(message, ToolMessage):
        return Message("tool", (_map_tool_result(message),))
    if isinstance(message, (HumanMessage, SystemMessage)):
        role: Role = "user" if isinstance(message, HumanMessage) else "system"
        return Message(role, _map_input_parts(message), message.name)
    if isinstance(message, ChatMessage) and message.role in _ROLES:
        role = _ROLES[message.role]
        if role == "assistant":
            return Message(role, _map_ai_parts(AIMessage(message.content)), message.name)
        return Message(role, _map_input_parts(message), message.name)
    raise UnsupportedFeatureError(
        f"{type(message).__name__} {getattr(message, 'role', '')!s} is not supported; "
        "use System/Human/AI/ToolMessage"
    )


def _blocks(message: BaseMessage) -> list[Block]:
    return cast("list[Block]", message.content_blocks)


def _name(block: Block) -> str:
    value = block.get("value")
    if block["type"] == "non_standard" and isinstance(value, Mapping):
        return repr(value.get("type"))
    return repr(block["type"])


def _b64(data: str, what: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise UnsupportedFeatureError(f"the {what} block's base64 data is not valid") from None


def _extra(block: Block, key: str) -> Any:
    if block.get(key) is not None:
        return block[key]
    extras = block.get("extras")
    return extras.get(key) if isinstance(extras, Mapping) else None


def _cache_data(block: Block) -> dict[str, Any]:
    """Anthropic's ``cache_control`` on a block (top level or in ``extras``), as
    ``provider_data`` for the codec; formats that cache on their own ignore it."""
    cache_control = _extra(block, "cache_control")
    return {"cache_control": cache_control} if cache_control else {}


def _map_data_block(block: Block) -> Part:
    """A standard image/file/audio/video/text-plain block as a neutral part."""
    kind = block["type"]
    data = _b64(block["base64"], kind) if block.get("base64") else None
    url, mime, file_id = block.get("url"), block.get("mime_type"), block.get("file_id")
    if kind == "image":
        if file_id:
            raise UnsupportedFeatureError("images by file_id are not supported; pass url or base64")
        return ImagePart(
            url=url,
            data=data,
            mime_type=mime,
            detail=_extra(block, "detail"),
            provider_data=_cache_data(block),
        )
    if kind == "audio":
        if data is None:
            raise UnsupportedFeatureError("audio must be given as base64 data, not by url or id")
        return AudioPart(data=data, mime_type=mime or "audio/wav")
    if kind == "video":
        return VideoPart(data=data, url=url, mime_type=mime or "video/mp4")
    if kind == "text-plain" and isinstance(block.get("text"), str):
        data, mime = block["text"].encode(), mime or "text/plain"
    return FilePart(
        data=data,
        url=url,
        mime_type=mime or "application/pdf",
        filename=_extra(block, "filename"),
        file_id=file_id,
        provider_data=_cache_data(block),
    )


def _text_part(block: Block) -> TextPart:
    """A text block; Anthropic's ``cache_control`` on it is kept for the codec."""
    return TextPart(block["text"], _cache_data(block))


def _map_input_parts(message: BaseMessage) -> tuple[Part, ...]:
    parts: list[Part] = []
    for block in _blocks(message):
        value = block.get("value")
        if block["type"] == "text":
            parts.append(_text_part(block))
        elif block["type"] in _DATA_BLOCKS:
            parts.append(_map_data_block(block))
        elif isinstance(value, Mapping) and value.get("type") == "tool_result":
            parts.append(_map_anthropic_tool_result(value))
        else:
            raise UnsupportedFeatureError(
                f"a {message.type} message cannot carry a {_name(block)} block"
            )
    return tuple(parts)


def _map_anthropic_tool_result(value: Block) -> ToolResultPart:
    """An Anthropic ``tool_result`` block inside a human message."""
    content = value.get("content", "")
    return ToolResultPart(
        tool_call_id=str(value.get("tool_use_id", "")),
        content=content if isinstance(content, str) else _tool_content(HumanMessage(content)),
        is_error=bool(value.get("is_error")),
        provider_data=_cache_data(value),
    )


def _tool_content(message: BaseMessage) -> str | tuple[Part, ...]:
    if isinstance(message.content, str):
        return message.content
    parts: list[Part] = []
    for block in _blocks(message):
        if block["type"] == "text":
            parts.append(_text_part(block))
        elif block["type"] in _DATA_BLOCKS:
            parts.append(_map_data_block(block))
        elif block["type"] == "non_standard":
            # A tool's structured output (a JSON value) is given to the model as JSON text.
            parts.append(TextPart(json.dumps(block["value"], ensure_ascii=False)))
        else:
            raise UnsupportedFeatureError(f"a tool result cannot carry a {_name(block)} block")
    return tuple(parts)


def _map_tool_result(message: ToolMessage) -> ToolResultPart:
    return ToolResultPart(
        tool_call_id=message.tool_call_id,
        content=_tool_content(message),
        name=message.name,
        is_error=message.status == "error",
    )


def _reasoning_from_kwargs(kwargs: Mapping[str, Any]) -> list[Part] | None:
    blocks = kwargs.get(REASONING_BLOCKS)
    if not isinstance(blocks, list):
        return None
    return [
        ReasoningPart(
            str(b.get("reasoning", "")),
            signature=b.get("signature"),
            provider_data=dict(b.get("provider_data") or {}),
        )
        for b in blocks
        if isinstance(b, Mapping)
    ]


def _map_ai_parts(message: AIMessage) -> tuple[Part, ...]:
    kwargs = message.additional_kwargs
    exact_reasoning = _reasoning_from_kwargs(kwargs)
    parts: list[Part] = list(exact_reasoning or ())
    parts += [ProviderPart(p["format"], p["data"]) for p in kwargs.get(PROVIDER_PARTS) or ()]
    calls = [*message.tool_calls, *message.invalid_tool_calls]
    bound = {c.get("id") or "" for c in calls}  # LangChain keeps calls in two places
    call_ids: set[str] = set()
    for block in _blocks(message):
        kind = block["type"]
        if kind == "text" and block["text"]:
            parts.append(TextPart(block["text"], dict(kwargs.get(TEXT_DATA) or {})))
        elif kind == "refusal":
            parts.append(TextPart(block.get("refusal", "")))  # the model sees its own turn
        elif kind == "reasoning":
            if exact_reasoning is None:
                text, sig = block.get("reasoning", ""), _extra(block, "signature")
                parts.append(ReasoningPart(text, signature=sig))
        elif kind in ("tool_call", "invalid_tool_call", "tool_call_chunk"):
            parts.append(_call_part(block, kwargs))
            call_ids.add(block.get("id") or "")
        elif kind in _DATA_BLOCKS:
            parts.append(_map_data_block(block))  # the codec refuses what it cannot carry
        elif kind == "non_standard":
            parts.extend(_map_non_standard_ai(block["value"], bound | call_ids, kwargs))
        elif kind != "text":
            raise UnsupportedFeatureError(f"an ai message cannot carry a {_name(block)} block")
    for call in calls:
        if (call.get("id") or "") not in call_ids:
            parts.append(_call_part(cast("Block", call), kwargs))
    return tuple(parts)


def _call_part(call: Block, kwargs: Mapping[str, Any]) -> ToolCallPart:
    args = call.get("args")
    arguments = args if isinstance(args, str) else json.dumps(args or {}, ensure_ascii=False)
    call_id = call.get("id") or ""
    data = (kwargs.get(CALL_DATA) or {}).get(call_id) or {}
    return ToolCallPart(call_id, call.get("name") or "", arguments, dict(data))


def _map_non_standard_ai(value: Any, skip_ids: set[str], kwargs: Mapping[str, Any]) -> list[Part]:
    """Anthropic-style blocks in an AI message (``thinking``, ``tool_use`` ...)."""
    kind = value.get("type") if isinstance(value, Mapping) else None
    if kind == "thinking":
        return [ReasoningPart(value.get("thinking", ""), signature=value.get("signature"))]
    if kind == "redacted_thinking":
        return [ReasoningPart("", provider_data={"redacted": value.get("data")})]
    if kind == "tool_use":
        if value.get("id") in skip_ids:
            return []  # the same call is in tool_calls, mapped from there
        call = {"id": value.get("id"), "name": value.get("name"), "args": value.get("input")}
        return [_call_part(call, kwargs)]
    raise UnsupportedFeatureError(f"an ai message cannot carry a {kind!r} block")


def to_chat_request(
    messages: Sequence[BaseMessage],
    *,
    model: str,
    params: Mapping[str, Any],
    stop: Sequence[str] | None,
) -> ChatRequest:
    """The neutral request from the model's settings merged with bound and call keywords.

    Known keys become request fields; ``model_kwargs``, ``extra_body`` and unknown keys
    are sent in the body as they are (in that order, later ones winning).
    """
    rest = {k: v for k, v in params.items() if v is not None}
    if "max_completion_tokens" in rest:
        rest["max_tokens"] = rest.pop("max_completion_tokens")
    fields = {k: rest.pop(k) for k in _REQUEST_FIELDS if k in rest}
    if "modalities" in fields:
        fields["modalities"] = tuple(fields["modalities"])
    tools, server_tools = to_tool_definitions(rest.pop("tools", ()))
    tool_choice = to_tool_choice(rest.pop("tool_choice", None))
    response_format = to_response_format(rest.pop("response_format", None))
    default_stop = rest.pop("stop", None)
    extra_body = {**rest.pop("model_kwargs", {}), **rest.pop("extra_body", {}), **rest}
    if extra_body.get("n", 1) != 1:
        raise UnsupportedFeatureError("n > 1 is not supported: one answer per call")
    return ChatRequest(
        model=model,
        messages=to_messages(messages),
        tools=tools,
        server_tools=server_tools,
        tool_choice=tool_choice,
        response_format=response_format,
        stop=tuple(stop or default_stop or ()),
        extra_body=extra_body,
        **fields,
    )


# Request fields some juhe_core codecs leave out of their format without a word (a
# juhe_core gap, reported): refused here by name so that nothing is dropped silently.
_NOT_CARRIED: Final[Mapping[str, tuple[str, ...]]] = {
    "anthropic": ("modalities", "top_logprobs"),
    "responses": ("logprobs", "top_logprobs", "modalities"),
}


def check_carried(request: ChatRequest, api_format: str) -> None:
    """UnsupportedFeatureError when ``request`` sets a field ``api_format`` cannot carry."""
    for name in _NOT_CARRIED.get(api_format, ()):
        if getattr(request, name) not in (None, (), False):
            raise UnsupportedFeatureError(
                f"the {api_format} format cannot carry {name}; the openai and gemini formats can"
            )


# --- neutral results -> LangChain messages ---


def to_usage_metadata(usage: Usage) -> UsageMetadata:
    """Token counts in LangChain's shape (cache and reasoning details included)."""
    inputs = InputTokenDetails(cache_read=usage.cache_read_tokens)
    if usage.cache_write_tokens:
        inputs["cache_creation"] = usage.cache_write_tokens
    return UsageMetadata(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
        input_token_details=inputs,
        output_token_details=OutputTokenDetails(reasoning=usage.reasoning_tokens),
    )


def _response_metadata(result: ChatResult, model: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "model_name": result.model or model,
        "model_provider": PROVIDER,
        "finish_reason": result.finish_reason,
    }
    if result.raw_finish_reason and result.raw_finish_reason != result.finish_reason:
        metadata["raw_finish_reason"] = result.raw_finish_reason
    for key in ("id", "request_id", "system_fingerprint", "logprobs"):
        value = getattr(result, key)
        if value is not None:
            metadata[key] = value
    if result.fallbacks:
        metadata["fallbacks"] = list(result.fallbacks)
    return metadata


def _exact_kwargs(parts: Sequence[Part]) -> dict[str, Any]:
    """What text, tool-call and reasoning fields alone would lose (see module docstring)."""
    out: dict[str, Any] = {}
    reasoning = [p for p in parts if isinstance(p, ReasoningPart)]
    if any(p.signature or p.provider_data for p in reasoning):
        out[REASONING_BLOCKS] = [
            {"reasoning": p.text, "signature": p.signature, "provider_data": dict(p.provider_data)}
            for p in reasoning
        ]
    calls = {p.id: dict(p.provider_data) for p in parts if isinstance(p, ToolCallPart)}
    if any(calls.values()):
        out[CALL_DATA] = {k: v for k, v in calls.items() if v}
    text_data = {
        k: v
        for p in parts
        if isinstance(p, TextPart)
        for k, v in p.provider_data.items()
        if k != CITATIONS  # shown on the content blocks, output only
    }
    if text_data:
        out[TEXT_DATA] = text_data
    provider = [
        {"format": p.format, "data": dict(p.data)} for p in parts if isinstance(p, ProviderPart)
    ]
    if provider:
        out[PROVIDER_PARTS] = provider
    return out


def _media_block(part: ImagePart | AudioPart | FilePart | VideoPart) -> dict[str, Any]:
    block: dict[str, Any] = {"type": part.kind}
    url = getattr(part, "url", None)
    if part.data is not None:
        block["base64"] = base64.b64encode(part.data).decode("ascii")
    elif url:
        block["url"] = url
    if part.mime_type:
        block["mime_type"] = part.mime_type
    if isinstance(part, AudioPart) and part.transcript:
        block["extras"] = {"transcript": part.transcript}
    return block


def _content(parts: Sequence[Part], refusal: str | None) -> str | list[str | dict[str, Any]]:
    media = [p for p in parts if isinstance(p, (ImagePart, AudioPart, FilePart, VideoPart))]
    texts = [p for p in parts if isinstance(p, TextPart)]
    cited = any(CITATIONS in p.provider_data for p in texts)
    if not media and not refusal and not cited:
        return "".join(p.text for p in texts)
    content: list[str | dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart) and part.text:
            block = {"type": "text", "text": part.text}
            if CITATIONS in part.provider_data:  # ChatAnthropic's shape: sources per block
                block[CITATIONS] = part.provider_data[CITATIONS]
            content.append(block)
        elif isinstance(part, (ImagePart, AudioPart, FilePart, VideoPart)):
            content.append(_media_block(part))
    if refusal:
        # A refusal block lets structured-output parsers raise ModelRefusalError.
        content.append({"type": "refusal", "refusal": refusal})
    return content


def _tool_calls(calls: Iterable[ToolCallPart]) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    valid: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for call in calls:
        try:
            args = parse_tool_arguments(call.arguments)
        except UnsupportedFeatureError as exc:
            invalid.append(
                invalid_tool_call(name=call.name, args=call.arguments, id=call.id, error=str(exc))
            )
        else:
            valid.append(tool_call(name=call.name, args=args, id=call.id))
    return valid, invalid


def to_ai_message(result: ChatResult, *, model: str) -> AIMessage:
    """A whole answer as an ``AIMessage`` (``model`` names it when the server does not)."""
    valid, invalid = _tool_calls(result.tool_calls)
    kwargs = _exact_kwargs(result.parts)
    if result.reasoning:
        kwargs[REASONING] = result.reasoning
    return AIMessage(
        content=_content(result.parts, result.refusal),
        additional_kwargs=kwargs,
        tool_calls=valid,
        invalid_tool_calls=invalid,
        usage_metadata=to_usage_metadata(result.usage) if result.usage else None,
        response_metadata=_response_metadata(result, model),
    )


class ChunkBuilder:
    """Turns stream deltas into ``AIMessageChunk``s that merge into the whole answer.

    Metadata, finish reason, usage, and what deltas cannot carry exactly (signatures,
    format data) go on the last chunk only: LangChain merges chunks by concatenating
    strings, so a model name sent twice would read ``"gpt-4ogpt-4o"``. For the same
    reason a tool call's id and name are sent once per index, even when an upstream
    repeats them in every fragment.
    """

    __slots__ = ("_ids", "_model", "_names", "_stream_usage")

    def __init__(self, *, model: str, stream_usage: bool = True) -> None:
        self._model = model
        self._stream_usage = stream_usage
        self._ids: set[int] = set()
        self._names: set[int] = set()

    def chunk(self, delta: StreamDelta) -> AIMessageChunk | None:
        """The chunk for one delta, or None for news that waits for the last chunk."""
        if isinstance(delta, TextDelta):
            return AIMessageChunk(content=delta.text)
        if isinstance(delta, ReasoningDelta):
            if not delta.text:
                return None  # a bare signature: the last chunk has it with its block
            return AIMessageChunk(content="", additional_kwargs={REASONING: delta.text})
        if isinstance(delta, ToolCallDelta):
            return AIMessageChunk(content="", tool_call_chunks=[self._call_chunk(delta)])
        if isinstance(delta, PartDelta):
            return self._part_chunk(delta.part)
        if isinstance(delta, (UsageDelta, FinishDelta, MetadataDelta)):
            return None
        assert_never(delta)

    def _call_chunk(self, delta: ToolCallDelta) -> ToolCallChunk:
        call_id = delta.id if delta.id and delta.index not in self._ids else None
        name = delta.name if delta.name and delta.index not in self._names else None
        if call_id:
            self._ids.add(delta.index)
        if name:
            self._names.add(delta.index)
        return make_tool_call_chunk(name=name, args=delta.arguments, id=call_id, index=delta.index)

    def _part_chunk(self, part: Part) -> AIMessageChunk | None:
        if isinstance(part, TextPart):
            return AIMessageChunk(content=part.text)
        if isinstance(part, (ImagePart, AudioPart, FilePart, VideoPart)):
            return AIMessageChunk(content=[_media_block(part)])
        if isinstance(part, ReasoningPart):
            kwargs = {REASONING: part.text} if part.text else {}
            return AIMessageChunk(content="", additional_kwargs=kwargs) if kwargs else None
        if isinstance(part, ToolCallPart):
            index = 1_000 + len(self._ids)  # apart from the server's streamed indexes
            self._ids.add(index)
            chunk = make_tool_call_chunk(
                name=part.name, args=part.arguments, id=part.id, index=index
            )
            return AIMessageChunk(content="", tool_call_chunks=[chunk])
        if isinstance(part, (ProviderPart, ToolResultPart)):
            return None  # provider blocks ride on the last chunk, exactly as received
        assert_never(part)

    def last(self, result: ChatResult, model: str | None = None) -> AIMessageChunk:
        """The closing chunk: metadata, finish reason, exact data and (unless off) usage.

        ``model`` names the answer when the server does not (a fallback may have answered).
        """
        usage = to_usage_metadata(result.usage) if result.usage and self._stream_usage else None
        content: str | list[str | dict[str, Any]] = ""
        if result.refusal:
            content = [{"type": "refusal", "refusal": result.refusal}]
        return AIMessageChunk(
            content=content,
            additional_kwargs=_exact_kwargs(result.parts),
            usage_metadata=usage,
            response_metadata=_response_metadata(result, model or self._model),
            chunk_position="last",
        )
