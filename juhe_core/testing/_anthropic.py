"""The Anthropic messages format (``POST /v1/messages``): requests in, turns out.

``parse_messages`` reads a request into the neutral ``ChatQuery`` plus ``MessagesOptions``;
``message_body`` and ``message_stream`` render a ``Turn`` as a Claude upstream answers and
the relay passes it on (relay-behavior.md §5, §11): a ``message`` object, or the event
sequence ``message_start`` … ``message_stop`` with no ``ping`` (pings only come from a
scripted ``StreamFault("ping")``). Thinking blocks carry a deterministic signature.

Upstream checks follow Anthropic's API: ``budget_tokens`` of at least 1,024 and below
``max_tokens``, no forced tool with thinking, ``temperature`` 1 with thinking. Those
rejections reach the client in the relay's Anthropic error shape (§3).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._events import NativeStream, event_frame
from ._openai_request import InvalidRequest, UpstreamReject
from ._relay import dumps
from ._text import count_tokens, pieces
from ._turn import ChatQuery, PromptMessage, ToolSpec, Turn

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "STOP_REASONS",
    "MessagesOptions",
    "error_body",
    "message_body",
    "message_stream",
    "parse_messages",
    "signature",
]

DEFAULT_MAX_TOKENS = 8192
"""What the relay fills in when ``max_tokens`` is missing or 0 (§11)."""
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
"""Neutral finish reason → Claude ``stop_reason`` (relay-behavior.md §5)."""
_MIN_BUDGET = 1024


@dataclass(frozen=True)
class MessagesOptions:
    """Request fields that only shape the Anthropic rendering."""

    stream: bool = False
    """``stream: true``."""
    cache_key: str | None = None
    """Hash of the prompt prefix up to the last ``cache_control`` marker, if any."""
    cache_tokens: int = 0
    """Tokens in that prefix."""


def signature(text: str) -> str:
    """A deterministic thinking signature: base64 of a hash of the thinking text."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=48).digest()
    return base64.b64encode(b"EmuSig" + digest).decode("ascii")


def error_body(message: str, error_type: str) -> bytes:
    """``{"type":"error","error":{"type","message"}}``: the handler's error shape (§3)."""
    return dumps({"type": "error", "error": {"type": error_type, "message": message}})


def _blocks(content: Any) -> list[Mapping[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise InvalidRequest("message content must be a string or an array of blocks")
    return [b for b in content if isinstance(b, Mapping)]


def _result_text(content: Any) -> tuple[str, int]:
    """Text and image count of a ``tool_result`` block's ``content``."""
    if isinstance(content, str):
        return content, 0
    texts, images = [], 0
    for block in content if isinstance(content, list) else ():
        if isinstance(block, Mapping) and block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif isinstance(block, Mapping) and block.get("type") == "image":
            images += 1
    return "\n".join(texts), images


def _message(
    role: str, blocks: list[Mapping[str, Any]], names: dict[str, str]
) -> list[PromptMessage]:
    texts: list[str] = []
    images = files = 0
    calls: list[str] = []
    results: list[PromptMessage] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "image":
            images += 1
        elif kind == "document":
            files += 1
        elif kind == "tool_use":
            name = str(block.get("name", ""))
            names[str(block.get("id", ""))] = name
            calls.append(name)
        elif kind == "tool_result":
            text, result_images = _result_text(block.get("content"))
            tool_name = names.get(str(block.get("tool_use_id", "")))
            results.append(
                PromptMessage("tool", text=text, images=result_images, tool_name=tool_name)
            )
    out = list(results)
    if texts or images or files or calls or not results:
        text = "\n".join(texts)
        out.append(
            PromptMessage(role, text=text, images=images, files=files, tool_calls=tuple(calls))
        )
    return out


def _system(raw: Any) -> list[PromptMessage]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [PromptMessage("system", text=raw)]
    if isinstance(raw, list):
        texts = [str(b.get("text", "")) for b in raw if isinstance(b, Mapping)]
        return [PromptMessage("system", text="\n".join(texts))]
    raise InvalidRequest("system must be a string or an array of text blocks")


def _tools(raw: Any) -> tuple[ToolSpec, ...]:
    tools = []
    for entry in raw if isinstance(raw, list) else ():
        # Server tools (web_search_20250305 ...) have a type and no input_schema.
        if isinstance(entry, Mapping) and entry.get("name") and "input_schema" in entry:
            schema = entry.get("input_schema")
            tools.append(
                ToolSpec(
                    name=str(entry["name"]),
                    description=str(entry.get("description") or ""),
                    parameters=schema if isinstance(schema, Mapping) else {},
                )
            )
    return tuple(tools)


def _tool_choice(raw: Any) -> tuple[str, str | None, bool]:
    """(choice, forced tool, parallel allowed) from Anthropic's ``tool_choice``."""
    if not isinstance(raw, Mapping):
        return "auto", None, True
    parallel = raw.get("disable_parallel_tool_use") is not True
    kind = raw.get("type")
    if kind == "tool" and raw.get("name"):
        return "required", str(raw["name"]), parallel
    if kind == "any":
        return "required", None, parallel
    if kind == "none":
        return "none", None, parallel
    return "auto", None, parallel


def _check_thinking(body: Mapping[str, Any], max_tokens: int, forced: bool) -> bool:
    """Whether thinking is on; ``UpstreamReject`` where Anthropic refuses the settings."""
    thinking = body.get("thinking")
    if not isinstance(thinking, Mapping) or thinking.get("type") != "enabled":
        return False
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < _MIN_BUDGET:
        raise UpstreamReject(
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
            "thinking",
        )
    if budget >= max_tokens:
        raise UpstreamReject(
            "`max_tokens` must be greater than `thinking.budget_tokens`", "max_tokens"
        )
    if forced:
        raise UpstreamReject(
            "Thinking may not be enabled when tool_choice forces tool use.", "tool_choice"
        )
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        raise UpstreamReject(
            "`temperature` may only be set to 1 when thinking is enabled.", "temperature"
        )
    return True


def _cache_prefix(body: Mapping[str, Any]) -> tuple[str | None, int]:
    """Hash and token count of everything up to the last ``cache_control`` marker."""
    # The cached prefix is the prompt in Anthropic's order (tools, system, messages) up to
    # the marker; each block is tagged with its place so equal text elsewhere differs.
    seen: list[Any] = []
    prefix: list[Any] | None = None
    for section in ("tools", "system", "messages"):
        raw = body.get(section)
        items = raw if isinstance(raw, list) else ([raw] if raw is not None else [])
        for number, item in enumerate(items):
            blocks = item.get("content") if isinstance(item, Mapping) else None
            role = item.get("role") if isinstance(item, Mapping) else None
            for block in blocks if isinstance(blocks, list) else [item]:
                seen.append([section, number, role, block])
                if isinstance(block, Mapping) and "cache_control" in block:
                    prefix = list(seen)
    if prefix is None:
        return None, 0
    text = json.dumps(prefix, sort_keys=True, ensure_ascii=False)
    key = hashlib.blake2b(f"{body.get('model')}\n{text}".encode(), digest_size=16).hexdigest()
    return key, count_tokens(text)


def parse_messages(body: Mapping[str, Any]) -> tuple[ChatQuery, MessagesOptions]:
    """Read a ``/v1/messages`` body; raises ``InvalidRequest`` or ``UpstreamReject``."""
    raw_messages = body.get("messages")
    if not raw_messages:
        raise InvalidRequest("field messages is required")
    if not isinstance(raw_messages, list):
        raise InvalidRequest(
            "json: cannot unmarshal into Go struct field ClaudeRequest.messages "
            "of type []dto.ClaudeMessage"
        )
    max_tokens = body.get("max_tokens") or DEFAULT_MAX_TOKENS
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 0:
        raise InvalidRequest("max_tokens is invalid")
    choice, forced, parallel = _tool_choice(body.get("tool_choice"))
    reasoning = _check_thinking(body, max_tokens, forced is not None or choice == "required")
    names: dict[str, str] = {}
    messages = _system(body.get("system"))
    for item in raw_messages:
        if not isinstance(item, Mapping):
            raise InvalidRequest("messages must be objects")
        role = "assistant" if item.get("role") == "assistant" else "user"
        messages += _message(role, _blocks(item.get("content")), names)
    stops = body.get("stop_sequences")
    tools = _tools(body.get("tools"))
    cache_key, cache_tokens = _cache_prefix(body)
    query = ChatQuery(
        model=str(body["model"]),
        messages=tuple(messages),
        tools=tools,
        tool_choice=choice,
        forced_tool=forced,
        parallel_tool_calls=parallel,
        reasoning=reasoning,
        stop=tuple(s for s in stops if isinstance(s, str)) if isinstance(stops, list) else (),
        max_tokens=max_tokens,
        prompt_extra_tokens=count_tokens(json.dumps(body.get("tools"))) if tools else 0,
    )
    options = MessagesOptions(
        stream=body.get("stream") is True, cache_key=cache_key, cache_tokens=cache_tokens
    )
    return query, options


@dataclass(frozen=True)
class Cache:
    """Prompt-cache token counts of one answer."""

    created: int = 0
    """``cache_creation_input_tokens``."""
    read: int = 0
    """``cache_read_input_tokens``."""


def _usage(turn: Turn, cache: Cache, overlay: Mapping[str, Any] | None) -> dict[str, Any]:
    cached = min(cache.created + cache.read, turn.prompt_tokens)
    out: dict[str, Any] = {
        "input_tokens": turn.prompt_tokens - cached,
        "cache_creation_input_tokens": cache.created,
        "cache_read_input_tokens": cache.read,
        "output_tokens": turn.completion_tokens,
    }
    return {**out, **overlay} if overlay else out


def _content(turn: Turn) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if turn.reasoning:
        blocks.append(
            {"type": "thinking", "thinking": turn.reasoning, "signature": signature(turn.reasoning)}
        )
    if turn.text or not turn.tool_calls:
        blocks.append({"type": "text", "text": turn.text})
    for call in turn.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": _input(call.arguments)}
        )
    return blocks


def _input(arguments: str) -> Any:
    try:
        return json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return arguments  # a scripted non-JSON argument string is sent as it is


def message_body(
    turn: Turn, message_id: str, model: str, cache: Cache, overlay: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The non-stream ``message`` object of a turn."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _content(turn),
        "stop_reason": STOP_REASONS.get(turn.finish_reason, turn.finish_reason),
        "stop_sequence": None,
        "usage": _usage(turn, cache, overlay),
    }


def _split(text: str, rng: random.Random) -> list[str]:
    parts, out, i = pieces(text), [], 0
    while i < len(parts):
        size = rng.randint(1, 3)
        out.append("".join(parts[i : i + size]))
        i += size
    return out


def _json_fragments(text: str, rng: random.Random) -> list[str]:
    """``text`` cut at arbitrary character positions (``input_json_delta`` at any boundary)."""
    out, i = [""], 0  # Claude's first input_json_delta is empty
    while i < len(text):
        size = rng.randint(1, 7)
        out.append(text[i : i + size])
        i += size
    return out


def _block_events(turn: Turn, rng: random.Random) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    index = 0

    def block(start: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
        nonlocal index
        events.append({"type": "content_block_start", "index": index, "content_block": start})
        events.extend({"type": "content_block_delta", "index": index, "delta": d} for d in deltas)
        events.append({"type": "content_block_stop", "index": index})
        index += 1

    if turn.reasoning:
        deltas = [{"type": "thinking_delta", "thinking": p} for p in _split(turn.reasoning, rng)]
        deltas.append({"type": "signature_delta", "signature": signature(turn.reasoning)})
        block({"type": "thinking", "thinking": ""}, deltas)
    if turn.text or not turn.tool_calls:
        block(
            {"type": "text", "text": ""},
            [{"type": "text_delta", "text": p} for p in _split(turn.text, rng)],
        )
    for call in turn.tool_calls:
        frags = _json_fragments(call.arguments, rng)
        block(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": {}},
            [{"type": "input_json_delta", "partial_json": f} for f in frags],
        )
    return events


def message_stream(
    turn: Turn,
    message_id: str,
    model: str,
    cache: Cache,
    overlay: Mapping[str, Any] | None,
    rng: random.Random,
    request_id: str,
) -> NativeStream:
    """The event sequence of a streamed turn (§11), and how the relay breaks it (§5, §10)."""
    usage = _usage(turn, cache, overlay)
    start_usage = {**usage, "output_tokens": 1}
    message: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage,
    }
    events = [{"type": "message_start", "message": message}, *_block_events(turn, rng)]
    stop_reason = STOP_REASONS.get(turn.finish_reason, turn.finish_reason)
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": usage,
        }
    )
    events.append({"type": "message_stop"})
    # A mid-stream upstream error event is not passed through (§10): the relay ends the
    # stream and may append the error, as its handler writes errors, with the request id.
    blob = error_body(f"Overloaded (request id: {request_id})", "overloaded_error")
    return NativeStream(
        frames=[event_frame(e) for e in events],
        end=len(events) - 1,
        finish=len(events) - 2,
        error_event=None,
        bare_error=blob,
        ping=event_frame({"type": "ping"}),
    )
