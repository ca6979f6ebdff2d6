"""The OpenAI Responses format (``POST /v1/responses``): requests in, turns out.

``parse_responses`` reads a body into the neutral ``ChatQuery`` plus ``ResponsesOptions``;
``response_object`` and ``response_stream`` render a ``Turn`` as OpenAI answers and the
relay passes it on (relay-behavior.md §7): a ``response`` object, or ``event: <type>`` +
``data:`` events with no ``[DONE]`` from ``response.created`` to ``response.completed``
(``response.incomplete`` when ``max_output_tokens`` cut the answer).

Output items: a ``reasoning`` item when the request has ``reasoning`` or the model reasons
by name (its ``summary`` holds the thinking text only when ``reasoning.summary`` is set),
then a ``message`` with ``output_text``, or ``function_call`` items.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._events import NativeStream, event_frame
from ._openai_request import InvalidRequest, is_reasoning_model
from ._relay import relay_error
from ._stream import PING
from ._text import count_tokens, pieces
from ._turn import ChatQuery, PromptMessage, ToolSpec, Turn

__all__ = ["ResponsesOptions", "parse_responses", "response_object", "response_stream"]

_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


@dataclass(frozen=True)
class ResponsesOptions:
    """Request fields echoed in the response object or shaping the stream."""

    stream: bool = False
    """``stream: true``."""
    summary: bool = False
    """``reasoning.summary`` was set: the reasoning item carries the thinking text."""
    echo: Mapping[str, Any] | None = None
    """Request fields the response object repeats (instructions, tools, reasoning ...)."""


def _content(raw: Any) -> tuple[str, int, int, int]:
    if isinstance(raw, str):
        return raw, 0, 0, 0
    texts: list[str] = []
    images = audio = files = 0
    for part in raw if isinstance(raw, list) else ():
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind in ("input_text", "output_text", "text"):
            texts.append(str(part.get("text", "")))
        elif kind == "input_image":
            images += 1
        elif kind == "input_audio":
            audio += 1
        elif kind == "input_file":
            files += 1
    return "\n".join(texts), images, audio, files


def _items(raw: Any) -> list[PromptMessage]:
    if isinstance(raw, str):
        return [PromptMessage("user", raw)]
    if not isinstance(raw, list):
        raise InvalidRequest("input must be a string or an array of items")
    names: dict[str, str] = {}
    out: list[PromptMessage] = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise InvalidRequest("input items must be objects")
        kind = item.get("type", "message")
        if kind == "function_call":
            name = str(item.get("name", ""))
            names[str(item.get("call_id", ""))] = name
            out.append(PromptMessage("assistant", tool_calls=(name,)))
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
            called = names.get(str(item.get("call_id", "")))
            out.append(PromptMessage("tool", text=text, tool_name=called))
        elif kind == "message":
            role = str(item.get("role", "user"))
            role = "system" if role == "developer" else role
            out.append(PromptMessage(role, *_content(item.get("content"))))
    return out


def _tools(raw: Any) -> tuple[ToolSpec, ...]:
    tools = []
    for entry in raw if isinstance(raw, list) else ():
        if isinstance(entry, Mapping) and entry.get("type") == "function" and entry.get("name"):
            params = entry.get("parameters")
            tools.append(
                ToolSpec(
                    str(entry["name"]),
                    str(entry.get("description") or ""),
                    params if isinstance(params, Mapping) else {},
                )
            )
    return tuple(tools)


def _tool_choice(raw: Any) -> tuple[str, str | None]:
    if isinstance(raw, Mapping):
        name = raw.get("name")
        return ("required", str(name)) if name else ("auto", None)
    return (str(raw), None) if raw in ("auto", "none", "required") else ("auto", None)


def _format(body: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, bool]:
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, Mapping) else None
    if not isinstance(fmt, Mapping):
        return None, False
    schema = fmt.get("schema")
    if fmt.get("type") == "json_schema" and isinstance(schema, Mapping):
        return schema, False
    return None, fmt.get("type") == "json_object"


_ECHO = ("instructions", "max_output_tokens", "tools", "tool_choice", "reasoning", "text")


def parse_responses(body: Mapping[str, Any]) -> tuple[ChatQuery, ResponsesOptions]:
    """Read a ``/v1/responses`` body; raises ``InvalidRequest`` where the relay refuses it."""
    if body.get("input") is None:
        raise InvalidRequest("input is required")
    max_tokens = body.get("max_output_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 0):
        raise InvalidRequest("max_output_tokens is invalid")
    model = str(body["model"])
    messages: list[PromptMessage] = []
    if isinstance(body.get("instructions"), str):
        messages.append(PromptMessage("system", body["instructions"]))
    messages += _items(body["input"])
    tools = _tools(body.get("tools"))
    choice, forced = _tool_choice(body.get("tool_choice"))
    schema, json_object = _format(body)
    reasoning = body.get("reasoning")
    reasoning = reasoning if isinstance(reasoning, Mapping) else None
    thinks = (
        reasoning.get("effort") != "none" if reasoning is not None else is_reasoning_model(model)
    )
    query = ChatQuery(
        model=model,
        messages=tuple(messages),
        tools=tools,
        tool_choice=choice,
        forced_tool=forced,
        parallel_tool_calls=body.get("parallel_tool_calls") is not False,
        json_schema=schema,
        json_object=json_object,
        reasoning=thinks,
        max_tokens=max_tokens,
        prompt_extra_tokens=count_tokens(json.dumps(body.get("tools"))) if tools else 0,
    )
    options = ResponsesOptions(
        stream=body.get("stream") is True,
        summary=reasoning is not None and reasoning.get("summary") is not None,
        echo={k: body[k] for k in _ECHO if k in body},
    )
    return query, options


@dataclass(frozen=True)
class Ids:
    """Ids of one response and its items."""

    response: str
    """``resp_…``."""
    reasoning: str
    """``rs_…``."""
    message: str
    """``msg_…``."""
    calls: tuple[str, ...]
    """``fc_…`` per tool call."""


def _usage(turn: Turn, overlay: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "input_tokens": turn.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": turn.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": turn.reasoning_tokens},
        "total_tokens": turn.prompt_tokens + turn.completion_tokens,
    }
    return {**out, **overlay} if overlay else out


def _output(turn: Turn, ids: Ids, options: ResponsesOptions) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if turn.reasoning:
        summary = [{"type": "summary_text", "text": turn.reasoning}] if options.summary else []
        items.append({"id": ids.reasoning, "type": "reasoning", "summary": summary})
    if turn.text or not turn.tool_calls:
        text = {"type": "output_text", "annotations": [], "logprobs": [], "text": turn.text}
        items.append(
            {
                "id": ids.message,
                "type": "message",
                "status": "completed",
                "content": [text],
                "role": "assistant",
            }
        )
    for item_id, call in zip(ids.calls, turn.tool_calls, strict=True):
        items.append(
            {
                "id": item_id,
                "type": "function_call",
                "status": "completed",
                "arguments": call.arguments,
                "call_id": call.id,
                "name": call.name,
            }
        )
    return items


def response_object(
    turn: Turn,
    ids: Ids,
    model: str,
    options: ResponsesOptions,
    overlay: Mapping[str, Any] | None,
    *,
    done: bool = True,
) -> dict[str, Any]:
    """The ``response`` object of a turn (``done=False``: as ``response.created`` shows it)."""
    reason = _INCOMPLETE.get(turn.finish_reason)
    status = ("incomplete" if reason else "completed") if done else "in_progress"
    echo = dict(options.echo or {})
    return {
        "id": ids.response,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": {"reason": reason} if reason and done else None,
        "instructions": echo.get("instructions"),
        "max_output_tokens": echo.get("max_output_tokens"),
        "model": model,
        "output": _output(turn, ids, options) if done else [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": echo.get("reasoning", {"effort": None, "summary": None}),
        "store": True,
        "temperature": 1.0,
        "text": echo.get("text", {"format": {"type": "text"}}),
        "tool_choice": echo.get("tool_choice", "auto"),
        "tools": echo.get("tools", []),
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": _usage(turn, overlay) if done else None,
        "user": None,
        "metadata": {},
    }


def _split(text: str, rng: random.Random, chars: bool = False) -> list[str]:
    parts, out, i = (list(text) if chars else pieces(text)), [], 0
    while i < len(parts):
        size = rng.randint(1, 6 if chars else 3)
        out.append("".join(parts[i : i + size]))
        i += size
    return out


def _item_events(item: dict[str, Any], index: int, rng: random.Random) -> list[dict[str, Any]]:
    kind, item_id = item["type"], item["id"]
    at = {"item_id": item_id, "output_index": index}
    added = {**item, "status": "in_progress"} if "status" in item else dict(item)
    if kind == "reasoning":
        added["summary"] = []
    elif kind == "message":
        added["content"] = []
    elif kind == "function_call":
        added["arguments"] = ""
    events: list[dict[str, Any]] = [
        {"type": "response.output_item.added", "output_index": index, "item": added}
    ]
    if kind == "reasoning":
        for s_index, part in enumerate(item["summary"]):
            where = {**at, "summary_index": s_index}
            empty = {"type": "summary_text", "text": ""}
            events.append({"type": "response.reasoning_summary_part.added", **where, "part": empty})
            for delta in _split(part["text"], rng):
                events.append(
                    {"type": "response.reasoning_summary_text.delta", **where, "delta": delta}
                )
            events.append(
                {"type": "response.reasoning_summary_text.done", **where, "text": part["text"]}
            )
            events.append({"type": "response.reasoning_summary_part.done", **where, "part": part})
    elif kind == "message":
        part = item["content"][0]
        where = {**at, "content_index": 0}
        empty = {**part, "text": ""}
        events.append({"type": "response.content_part.added", **where, "part": empty})
        for delta in _split(part["text"], rng):
            events.append(
                {"type": "response.output_text.delta", **where, "delta": delta, "logprobs": []}
            )
        events.append(
            {"type": "response.output_text.done", **where, "text": part["text"], "logprobs": []}
        )
        events.append({"type": "response.content_part.done", **where, "part": part})
    elif kind == "function_call":
        for delta in _split(item["arguments"], rng, chars=True):
            events.append({"type": "response.function_call_arguments.delta", **at, "delta": delta})
        events.append(
            {"type": "response.function_call_arguments.done", **at, "arguments": item["arguments"]}
        )
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events


def response_stream(
    turn: Turn,
    ids: Ids,
    model: str,
    options: ResponsesOptions,
    overlay: Mapping[str, Any] | None,
    rng: random.Random,
    request_id: str,
) -> NativeStream:
    """The ``response.*`` events of a streamed turn, each with its ``sequence_number``."""
    final = response_object(turn, ids, model, options, overlay)
    start = response_object(turn, ids, model, options, overlay, done=False)
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": start},
        {"type": "response.in_progress", "response": start},
    ]
    for index, item in enumerate(final["output"]):
        events += _item_events(item, index, rng)
    ending = "response.completed" if final["status"] == "completed" else "response.incomplete"
    events.append({"type": ending, "response": final})
    for number, event in enumerate(events):
        event["sequence_number"] = number
    error = {
        "type": "error",
        "code": "server_error",
        "message": "The server had an error while processing your request. Sorry about that!",
        "param": None,
    }
    return NativeStream(
        frames=[event_frame(e) for e in events],
        end=len(events) - 1,
        finish=None,
        error_event=event_frame(error),
        bare_error=relay_error("upstream stream ended with an error", request_id, "bad_response"),
        ping=PING,
    )
