"""The OpenAI wire format of the emulator: request parsing and response rendering.

``parse_chat`` reads a ``/v1/chat/completions`` body into the neutral ``ChatQuery`` plus the
OpenAI-only ``ChatOptions``; ``completion`` and ``chunk_plan`` render a ``Turn`` as the
non-stream body or as the chunk sequence of a stream (relay-behavior.md §4, §8, §9);
``embedding_list`` and ``model_list`` render the other OpenAI-format routes. Pure functions:
randomness (ids, chunk sizes) comes in as a ``random.Random``.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._relay import relay_error
from ._stream import ChunkPlan
from ._text import count_tokens, pieces
from ._turn import ChatQuery, PromptMessage, ToolSpec, Turn

__all__ = [
    "ChatOptions",
    "InvalidRequest",
    "UpstreamReject",
    "chunk_plan",
    "completion",
    "embedding_list",
    "model_list",
    "parse_chat",
    "usage",
]

_REASONING_MODEL = re.compile(r"(^|/)o[134](-|$)|reasoner|thinking|(^|/)deepseek-r1", re.I)
_NO_REASONING = re.compile(r"nothinking|non-reasoning", re.I)


class InvalidRequest(ValueError):
    """A body the relay rejects itself: 500 ``invalid_request`` (§3)."""


class UpstreamReject(ValueError):
    """A body the upstream would reject: 400 ``invalid_request_error``, passed through."""

    def __init__(self, message: str, param: str) -> None:
        """Remember the offending parameter."""
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class ChatOptions:
    """Request fields that only shape the OpenAI rendering."""

    stream: bool = False
    """``stream: true``."""
    include_usage: bool = True
    """False only when ``stream_options.include_usage`` is false (§8)."""
    logprobs: int | None = None
    """``top_logprobs`` count when ``logprobs: true`` was asked, else ``None``."""


def _text_of(content: Any) -> tuple[str, int, int, int]:
    """Text, image, audio and file counts of an OpenAI message ``content``."""
    if isinstance(content, str):
        return content, 0, 0, 0
    texts: list[str] = []
    images = audio = files = 0
    for part in content if isinstance(content, list) else ():
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text":
            texts.append(str(part.get("text", "")))
        elif kind in ("image_url", "image"):
            images += 1
        elif kind in ("input_audio", "audio"):
            audio += 1
        elif kind == "file":
            files += 1
    return "\n".join(texts), images, audio, files


def _messages(raw: list[Any]) -> tuple[PromptMessage, ...]:
    names: dict[str, str] = {}
    out: list[PromptMessage] = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise InvalidRequest("messages must be objects")
        role = str(item.get("role", "user"))
        text, images, audio, files = _text_of(item.get("content"))
        calls = [c for c in item.get("tool_calls") or () if isinstance(c, Mapping)]
        for call in calls:
            names[str(call.get("id", ""))] = str((call.get("function") or {}).get("name", ""))
        tool_name = names.get(str(item.get("tool_call_id", ""))) or item.get("name")
        out.append(
            PromptMessage(
                role="tool" if role == "function" else role,
                text=text,
                images=images,
                audio=audio,
                files=files,
                tool_name=str(tool_name) if tool_name else None,
                tool_calls=tuple(names[str(c.get("id", ""))] for c in calls),
            )
        )
    return tuple(out)


def _tools(body: Mapping[str, Any]) -> tuple[ToolSpec, ...]:
    raw = body.get("tools") or [{"function": f} for f in body.get("functions") or ()]
    tools = []
    for entry in raw if isinstance(raw, list) else ():
        fn = entry.get("function") if isinstance(entry, Mapping) else None
        if isinstance(fn, Mapping) and fn.get("name"):
            params = fn.get("parameters")
            tools.append(
                ToolSpec(
                    name=str(fn["name"]),
                    description=str(fn.get("description") or ""),
                    parameters=params if isinstance(params, Mapping) else {},
                )
            )
    return tuple(tools)


def _tool_choice(body: Mapping[str, Any]) -> tuple[str, str | None]:
    choice = body.get("tool_choice", body.get("function_call"))
    if isinstance(choice, Mapping):
        fn = choice.get("function") if "function" in choice else choice
        name = fn.get("name") if isinstance(fn, Mapping) else None
        return "required", str(name) if name else None
    if choice in ("none", "required", "auto"):
        return str(choice), None
    if choice == "any":
        return "required", None
    return "auto", None


def _reasoning(body: Mapping[str, Any], model: str) -> bool:
    effort = body.get("reasoning_effort")
    if effort is not None:
        return bool(effort != "none")
    return bool(_REASONING_MODEL.search(model)) and not _NO_REASONING.search(model)


def _max_tokens(body: Mapping[str, Any]) -> int | None:
    value = body.get("max_completion_tokens", body.get("max_tokens"))
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidRequest("max_tokens is invalid")
    return value


def parse_chat(body: Mapping[str, Any]) -> tuple[ChatQuery, ChatOptions]:
    """Read a chat-completions body; raises ``InvalidRequest`` or ``UpstreamReject``."""
    raw_messages = body.get("messages")
    if not raw_messages:
        raise InvalidRequest("field messages is required")
    if not isinstance(raw_messages, list):
        raise InvalidRequest("field messages must be an array")
    n = body.get("n")
    if n is not None and n != 1:
        raise UpstreamReject("The emulator supports only n=1.", "n")
    model = str(body["model"])
    tools = _tools(body)
    choice, forced = _tool_choice(body)
    fmt = body.get("response_format")
    fmt = fmt if isinstance(fmt, Mapping) else {}
    schema = (
        (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
    )
    stop = body.get("stop")
    stops = (stop,) if isinstance(stop, str) else tuple(s for s in stop or () if isinstance(s, str))
    extra = count_tokens(json.dumps(body.get("tools") or body.get("functions"))) if tools else 0
    query = ChatQuery(
        model=model,
        messages=_messages(raw_messages),
        tools=tools,
        tool_choice=choice,
        forced_tool=forced,
        parallel_tool_calls=body.get("parallel_tool_calls") is not False,
        json_schema=schema if isinstance(schema, Mapping) else None,
        json_object=fmt.get("type") == "json_object",
        reasoning=_reasoning(body, model),
        stop=stops,
        max_tokens=_max_tokens(body),
        prompt_extra_tokens=extra,
    )
    stream_options = body.get("stream_options")
    include = not (
        isinstance(stream_options, Mapping) and stream_options.get("include_usage") is False
    )
    top = body.get("top_logprobs")
    options = ChatOptions(
        stream=body.get("stream") is True,
        include_usage=include,
        logprobs=(top if isinstance(top, int) else 0) if body.get("logprobs") is True else None,
    )
    return query, options


def usage(turn: Turn, overlay: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """OpenAI ``usage`` of a turn, with ``overlay``'s fields laid over it."""
    out: dict[str, Any] = {
        "prompt_tokens": turn.prompt_tokens,
        "completion_tokens": turn.completion_tokens,
        "total_tokens": turn.prompt_tokens + turn.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": turn.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    return {**out, **overlay} if overlay else out


def _relay_usage(turn: Turn, overlay: Mapping[str, Any] | None) -> dict[str, Any]:
    """The usage object of the relay's own usage chunk, field for field as in §4."""
    out: dict[str, Any] = {
        "prompt_tokens": turn.prompt_tokens,
        "completion_tokens": turn.completion_tokens,
        "total_tokens": turn.prompt_tokens + turn.completion_tokens,
        "prompt_tokens_details": {
            "cached_tokens": 0,
            "text_tokens": 0,
            "audio_tokens": 0,
            "image_tokens": 0,
        },
        "completion_tokens_details": {
            "text_tokens": 0,
            "audio_tokens": 0,
            "image_tokens": 0,
            "reasoning_tokens": turn.reasoning_tokens,
        },
        "input_tokens": 0,
        "output_tokens": 0,
        "input_tokens_details": None,
        "claude_cache_creation_5_m_tokens": 0,
        "claude_cache_creation_1_h_tokens": 0,
    }
    return {**out, **overlay} if overlay else out


def _logprob_entry(token: str, top: int) -> dict[str, Any]:
    base = -round(0.01 + (len(token.strip()) % 7) * 0.05, 4)
    alternatives = [token, token.upper(), token.lower() + "s", " " + token.strip()]
    return {
        "token": token,
        "logprob": base,
        "bytes": list(token.encode("utf-8")),
        "top_logprobs": [
            {"token": t, "logprob": round(base - 0.7 * i, 4), "bytes": list(t.encode("utf-8"))}
            for i, t in enumerate(alternatives[: max(top, 0)])
        ],
    }


def _logprobs(text: str, top: int) -> dict[str, Any]:
    return {"content": [_logprob_entry(t, top) for t in pieces(text)], "refusal": None}


@dataclass(frozen=True)
class Meta:
    """Per-response values shared by the body and every chunk."""

    id: str
    """``chatcmpl-…`` id."""
    created: int
    """Unix time of the answer."""
    model: str
    """Model name echoed from the request."""
    fingerprint: str
    """``system_fingerprint`` of non-stream bodies."""


def completion(
    turn: Turn, meta: Meta, options: ChatOptions, usage_overlay: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The non-stream ``chat.completion`` body of a turn."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": turn.text if turn.text or not turn.tool_calls else None,
        "refusal": None,
        "annotations": [],
    }
    if turn.reasoning:
        message["reasoning_content"] = turn.reasoning
    if turn.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in turn.tool_calls
        ]
    choice = {
        "index": 0,
        "message": message,
        "logprobs": _logprobs(turn.text, options.logprobs)
        if options.logprobs is not None
        else None,
        "finish_reason": turn.finish_reason,
    }
    return {
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "choices": [choice],
        "usage": usage(turn, usage_overlay),
        "system_fingerprint": meta.fingerprint,
    }


def _split(text: str, rng: random.Random) -> list[str]:
    """Text cut into deltas of one to three tokens."""
    parts = pieces(text)
    out: list[str] = []
    i = 0
    while i < len(parts):
        size = rng.randint(1, 3)
        out.append("".join(parts[i : i + size]))
        i += size
    return out


def _arg_fragments(arguments: str, rng: random.Random) -> list[str]:
    """Argument JSON cut at arbitrary character positions."""
    out: list[str] = []
    i = 0
    while i < len(arguments):
        size = rng.randint(1, 8)
        out.append(arguments[i : i + size])
        i += size
    return out


def _deltas(turn: Turn, rng: random.Random, top: int | None) -> list[tuple[dict[str, Any], Any]]:
    """(delta, logprobs) pairs from the role chunk to the last content or tool delta."""
    out: list[tuple[dict[str, Any], Any]] = [({"role": "assistant", "content": ""}, None)]
    out += [({"reasoning_content": p}, None) for p in _split(turn.reasoning, rng)]
    for p in _split(turn.text, rng):
        out.append(({"content": p}, _logprobs(p, top) if top is not None else None))
    for index, call in enumerate(turn.tool_calls):
        head = {"index": index, "id": call.id, "type": "function"}
        out.append(
            ({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]}, None)
        )
        for frag in _arg_fragments(call.arguments, rng):
            out.append(({"tool_calls": [{"index": index, "function": {"arguments": frag}}]}, None))
    return out


def chunk_plan(
    turn: Turn,
    meta: Meta,
    options: ChatOptions,
    rng: random.Random,
    request_id: str,
    usage_overlay: Mapping[str, Any] | None = None,
) -> ChunkPlan:
    """The chunk sequence of a streamed turn, as an OpenAI upstream sends it through the relay."""
    head = {"id": meta.id, "object": "chat.completion.chunk", "created": meta.created}
    head = {**head, "model": meta.model, "system_fingerprint": None}

    def chunk(
        delta: dict[str, Any], logprobs: Any = None, finish: str | None = None
    ) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return {**head, "choices": [choice], "usage": None}

    chunks = [chunk(d, lp) for d, lp in _deltas(turn, rng, options.logprobs)]
    chunks.append(chunk({}, None, turn.finish_reason))
    upstream_error = {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    return ChunkPlan(
        chunks=chunks,
        finish_index=len(chunks) - 1,
        usage={**head, "choices": [], "usage": usage(turn, usage_overlay)},
        relay_usage={**head, "choices": [], "usage": _relay_usage(turn, usage_overlay)},
        error_event={"error": upstream_error},
        bare_error=relay_error("upstream stream ended with an error", request_id, "bad_response"),
    )


def verbatim_plan(chunks: Sequence[Mapping[str, Any]], request_id: str) -> ChunkPlan:
    """A plan over scripted chunks: no usage chunk of our own, faults still apply."""
    finish = None
    for i, c in enumerate(chunks):
        if any((ch or {}).get("finish_reason") for ch in c.get("choices") or ()):
            finish = i
    return ChunkPlan(
        chunks=list(chunks),
        finish_index=finish,
        usage=None,
        relay_usage=None,
        error_event={
            "error": {
                "message": "upstream error",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        },
        bare_error=relay_error("upstream stream ended with an error", request_id, "bad_response"),
    )


def embedding_list(
    vectors: Sequence[list[float] | str], model: str, prompt_tokens: int
) -> dict[str, Any]:
    """The ``/v1/embeddings`` body (``str`` items are base64-encoded vectors)."""
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def model_list(models: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The relay's ``GET /v1/models`` body (§8, §13)."""
    return {"success": True, "object": "list", "data": [dict(m) for m in models]}


def model_not_found(model_id: str) -> dict[str, Any]:
    """The HTTP-200 body of ``GET /v1/models/{id}`` for an unknown id (§6, §8)."""
    message = f"The model '{model_id}' does not exist"
    inner = {"message": message, "type": "invalid_request_error", "param": "model"}
    return {"error": {**inner, "code": "model_not_found"}}
