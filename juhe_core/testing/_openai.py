"""OpenAI-format responses: a ``Turn`` rendered as the relay would pass it on.

``completion`` and ``chunk_plan`` render a turn as the non-stream ``chat.completion`` body or
as the chunk sequence of a stream (relay-behavior.md §4, §8, §9); ``embedding_list``,
``model_list`` and ``model_not_found`` render the other OpenAI-format routes. Pure functions:
randomness (chunk sizes) comes in as a ``random.Random``. Each wire format gets a renderer
module like this one; the built-in model and the scripting stay format-neutral.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._openai_request import ChatOptions
from ._relay import relay_error
from ._stream import ChunkPlan
from ._text import pieces
from ._turn import Turn

__all__ = [
    "Meta",
    "chunk_plan",
    "completion",
    "embedding_list",
    "model_list",
    "model_not_found",
    "usage",
    "verbatim_plan",
]


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
