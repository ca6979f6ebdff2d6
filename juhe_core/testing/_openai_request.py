"""OpenAI-format requests: a ``/v1/chat/completions`` body read into neutral form.

``parse_chat`` turns the body into the format-neutral ``ChatQuery`` the built-in model reads,
plus the OpenAI-only ``ChatOptions`` the renderer (``_openai``) needs. It raises
``InvalidRequest`` where the relay itself rejects the body (relay-behavior.md §3: 500
``invalid_request``) and ``UpstreamReject`` where the upstream would (400).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._text import count_tokens
from ._turn import ChatQuery, PromptMessage, ToolSpec

__all__ = [
    "ChatOptions",
    "InvalidRequest",
    "UpstreamReject",
    "is_reasoning_model",
    "parse_chat",
]

# Model names that think by default (o1*/o3*/o4*, *reasoner*, *thinking*, DeepSeek R1).
_REASONING_MODEL = re.compile(r"^(?:[\w.-]+/)?(?:o[134]|deepseek-r1)|reasoner|thinking", re.I)
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


def _calls_of(item: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(id, name) of each tool call of an assistant message."""
    raw = item.get("tool_calls")
    out = []
    for call in raw if isinstance(raw, list) else ():
        fn = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(fn, Mapping):
            out.append((str(call.get("id", "")), str(fn.get("name", ""))))
    return out


def _messages(raw: list[Any]) -> tuple[PromptMessage, ...]:
    names: dict[str, str] = {}
    out: list[PromptMessage] = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise InvalidRequest("messages must be objects")
        role = str(item.get("role", "user"))
        text, images, audio, files = _text_of(item.get("content"))
        calls = _calls_of(item)
        names.update(calls)
        tool_name = names.get(str(item.get("tool_call_id", ""))) or item.get("name")
        out.append(
            PromptMessage(
                role="tool" if role == "function" else role,
                text=text,
                images=images,
                audio=audio,
                files=files,
                tool_name=str(tool_name) if tool_name else None,
                tool_calls=tuple(name for _, name in calls),
            )
        )
    return tuple(out)


def _tools(body: Mapping[str, Any]) -> tuple[ToolSpec, ...]:
    functions = body.get("functions")
    legacy = functions if isinstance(functions, list) else []
    raw = body.get("tools") or [{"function": f} for f in legacy]
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


def is_reasoning_model(model: str) -> bool:
    """Whether ``model`` thinks by default, judged by its name."""
    return bool(_REASONING_MODEL.search(model)) and not _NO_REASONING.search(model)


def _reasoning(body: Mapping[str, Any], model: str) -> bool:
    effort = body.get("reasoning_effort")
    if effort is not None:
        return bool(effort != "none")
    return is_reasoning_model(model)


def _max_tokens(body: Mapping[str, Any]) -> int | None:
    value = body.get("max_completion_tokens", body.get("max_tokens"))
    if value is None:
        return None
    if value < 0:
        raise InvalidRequest("max_tokens is invalid")
    return int(value)


def _response_format(body: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, bool]:
    """The structured-output schema, and whether JSON mode was asked."""
    fmt = body.get("response_format")
    fmt = fmt if isinstance(fmt, Mapping) else {}
    schema = None
    spec = fmt.get("json_schema")
    if fmt.get("type") == "json_schema" and isinstance(spec, Mapping):
        schema = spec.get("schema")
    return (schema if isinstance(schema, Mapping) else None), fmt.get("type") == "json_object"


def _options(body: Mapping[str, Any]) -> ChatOptions:
    stream_options = body.get("stream_options")
    include = not (
        isinstance(stream_options, Mapping) and stream_options.get("include_usage") is False
    )
    top = body.get("top_logprobs")
    return ChatOptions(
        stream=body.get("stream") is True,
        include_usage=include,
        logprobs=(top if isinstance(top, int) else 0) if body.get("logprobs") is True else None,
    )


# Fields whose type the relay's request DTO fixes: a JSON value of another type fails its
# unmarshalling, which the relay answers with 500 invalid_request (relay-behavior.md §3).
_DTO_FIELDS: dict[str, tuple[type, str]] = {
    "messages": (list, "[]dto.Message"),
    "stream": (bool, "bool"),
    "max_tokens": (int, "uint"),
    "max_completion_tokens": (int, "uint"),
    "n": (int, "int"),
    "top_logprobs": (int, "int"),
    "logprobs": (bool, "bool"),
    "parallel_tool_calls": (bool, "bool"),
    "tools": (list, "[]dto.ToolCallRequest"),
    "response_format": (dict, "dto.ResponseFormat"),
    "stream_options": (dict, "dto.StreamOptions"),
    "reasoning_effort": (str, "string"),
}


def _json_type(value: Any) -> str:
    for kind, name in ((bool, "bool"), (str, "string"), (list, "array"), (dict, "object")):
        if isinstance(value, kind):
            return name
    return "number"


def _check_types(body: Mapping[str, Any]) -> None:
    for name, (kind, go_type) in _DTO_FIELDS.items():
        value = body.get(name)
        if value is None:
            continue
        wrong_bool = isinstance(value, bool) and kind is not bool
        if wrong_bool or not isinstance(value, kind):
            raise InvalidRequest(
                f"json: cannot unmarshal {_json_type(value)} into Go struct field "
                f"GeneralOpenAIRequest.{name} of type {go_type}"
            )


def parse_chat(body: Mapping[str, Any]) -> tuple[ChatQuery, ChatOptions]:
    """Read a chat-completions body; raises ``InvalidRequest`` or ``UpstreamReject``."""
    _check_types(body)
    raw_messages = body.get("messages")
    if not raw_messages:
        raise InvalidRequest("field messages is required")
    n = body.get("n")
    if n is not None and n != 1:
        raise UpstreamReject("The emulator supports only n=1.", "n")
    model = str(body["model"])
    tools = _tools(body)
    choice, forced = _tool_choice(body)
    schema, json_object = _response_format(body)
    stop = body.get("stop")
    listed = stop if isinstance(stop, list) else []
    stops = (stop,) if isinstance(stop, str) else tuple(s for s in listed if isinstance(s, str))
    raw_tools = body.get("tools") or body.get("functions")
    query = ChatQuery(
        model=model,
        messages=_messages(raw_messages),
        tools=tools,
        tool_choice=choice,
        forced_tool=forced,
        parallel_tool_calls=body.get("parallel_tool_calls") is not False,
        json_schema=schema,
        json_object=json_object,
        reasoning=_reasoning(body, model),
        stop=stops,
        max_tokens=_max_tokens(body),
        prompt_extra_tokens=count_tokens(json.dumps(raw_tools)) if tools else 0,
    )
    return query, _options(body)
