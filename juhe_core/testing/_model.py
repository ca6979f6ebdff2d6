"""The emulator's built-in model: deterministic, scripted behaviour, not a language model.

Given a neutral ``ChatQuery`` it answers with a ``Turn`` by general rules only (no prompt or
tool is special-cased), so framework test suites can run against it:

- Text: quotes the last user message and notes attached images, audio and files.
- Reasoning (``ChatQuery.reasoning``): a short deterministic thinking text.
- Tools: after a tool result, a text answer that cites the result. Otherwise, when tools are
  offered and ``tool_choice`` is not ``none``: the forced tool; else every tool named in the
  request when several are and parallel calls are allowed; else the tool whose name and
  description share the most words with the request (``auto``: only when some word is
  shared; ``required``: the best one, the first on a tie). Arguments come from the tool's
  JSON schema filled with values from the request (see ``_schema``).
- Structured output: an instance of the requested schema; JSON mode: an object with the keys
  the request names in quotes, else ``{"answer": …}``.
- ``stop`` cuts the text at the first stop string; ``max_tokens`` truncates (reasoning first)
  and reports ``length``. Tool-call arguments are never truncated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from ._schema import Values, instance
from ._text import content_words, count_tokens, summary, truncate_tokens
from ._turn import ChatQuery, PromptMessage, ToolCall, ToolSpec, Turn

__all__ = ["answer", "make_turn", "prompt_tokens"]

# Rough prompt-token costs of non-text parts (fixed, so usage stays deterministic).
_IMAGE_TOKENS = 85
_AUDIO_TOKENS = 50
_FILE_TOKENS = 100
_MESSAGE_OVERHEAD = 3
_NO_ARGS = {"type": "object", "properties": {}}
_JSON_KEY = re.compile(r"['\"`]([A-Za-z_][A-Za-z0-9_]{0,63})['\"`]")


def prompt_tokens(query: ChatQuery) -> int:
    """Prompt token count of ``query``: text tokens plus fixed costs per part and message."""
    total = query.prompt_extra_tokens
    for m in query.messages:
        total += count_tokens(m.text) + _MESSAGE_OVERHEAD
        total += m.images * _IMAGE_TOKENS + m.audio * _AUDIO_TOKENS + m.files * _FILE_TOKENS
    return total


def answer(query: ChatQuery, new_call_id: Callable[[], str]) -> Turn:
    """The built-in model's turn for ``query``; ``new_call_id`` names tool calls."""
    last = query.messages[-1] if query.messages else PromptMessage(role="user")
    user = _last_user(query)
    reasoning = _reasoning(query, user) if query.reasoning else ""
    calls: tuple[ToolCall, ...] = ()
    if last.role == "tool":
        text = _after_tools(query)
    else:
        chosen = _choose_tools(query, user.text, from_user=last.role == "user")
        calls = _calls(chosen, user.text, new_call_id) if chosen else ()
        text = "" if calls else _text_answer(query, user)
    return _finish(query, text, reasoning, calls)


def _calls(
    tools: list[ToolSpec], text: str, new_call_id: Callable[[], str]
) -> tuple[ToolCall, ...]:
    """One call per tool, arguments filled from ``text`` (values shared across the calls)."""
    values = Values(text)
    return tuple(
        ToolCall(new_call_id(), t.name, _dumps(instance(t.parameters or _NO_ARGS, values)))
        for t in tools
    )


def _finish(query: ChatQuery, text: str, reasoning: str, calls: tuple[ToolCall, ...]) -> Turn:
    finish = "tool_calls" if calls else "stop"
    for stop in query.stop:
        if stop and stop in text:
            text = text[: text.index(stop)]
    if query.max_tokens is not None:
        reasoning, cut_r = truncate_tokens(reasoning, query.max_tokens)
        budget = max(query.max_tokens - count_tokens(reasoning), 0)
        text, cut_t = truncate_tokens(text, budget) if not cut_r else ("", bool(text))
        if cut_r or cut_t:
            finish = "length"
    return make_turn(query, text, reasoning, calls, finish)


def make_turn(
    query: ChatQuery, text: str, reasoning: str, calls: tuple[ToolCall, ...], finish: str
) -> Turn:
    """A ``Turn`` with its token counts (completion = text + reasoning + tool calls)."""
    r_tokens = count_tokens(reasoning)
    c_tokens = count_tokens(text) + r_tokens
    c_tokens += sum(count_tokens(c.name) + count_tokens(c.arguments) for c in calls)
    return Turn(
        text=text,
        reasoning=reasoning,
        tool_calls=calls,
        finish_reason=finish,
        prompt_tokens=prompt_tokens(query),
        completion_tokens=c_tokens,
        reasoning_tokens=r_tokens,
    )


def _last_user(query: ChatQuery) -> PromptMessage:
    for m in reversed(query.messages):
        if m.role == "user":
            return m
    return PromptMessage(role="user")


def _attachments(m: PromptMessage) -> str:
    notes = []
    for count, noun in ((m.images, "image"), (m.audio, "audio clip"), (m.files, "file")):
        if count:
            notes.append(f"{count} {noun}{'' if count == 1 else 's'}")
    return f" I received {' and '.join(notes)}." if notes else ""


def _text_answer(query: ChatQuery, user: PromptMessage) -> str:
    if query.json_schema is not None:
        return _dumps(instance(query.json_schema, Values(user.text)))
    if query.json_object:
        return _dumps(_json_object(user.text))
    quote = summary(user.text)
    head = f'Emulator reply to: "{quote}".' if quote else "Emulator reply."
    return head + _attachments(user)


def _json_object(text: str) -> dict[str, str]:
    keys = list(dict.fromkeys(_JSON_KEY.findall(text)))
    values = Values(text)
    if not keys:
        return {"answer": f'Emulator reply to: "{summary(text)}".'}
    return {key: values.string(key) for key in keys}


def _reasoning(query: ChatQuery, user: PromptMessage) -> str:
    quote = summary(user.text, 120)
    if query.messages and query.messages[-1].role == "tool":
        return "A tool result arrived; I will report it to the user."
    if query.tools and query.tool_choice != "none":
        return f'The user asks: "{quote}". I will check whether one of the tools fits.'
    return f'The user asks: "{quote}". I will answer by restating the request.'


def _after_tools(query: ChatQuery) -> str:
    results: list[PromptMessage] = []
    for m in reversed(query.messages):
        if m.role != "tool":
            break
        results.append(m)
    parts = []
    for m in reversed(results):
        name = m.tool_name or "tool"
        parts.append(f"The {name} tool returned: {summary(m.text) or '(empty)'}")
    return " ".join(parts) + "."


def _tool_words(tool: ToolSpec) -> tuple[set[str], set[str]]:
    return set(content_words(tool.name)), set(content_words(tool.description))


def _named(tool: ToolSpec, lowered: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(tool.name.lower())}(?![\w])", lowered) is not None


def _choose_tools(query: ChatQuery, text: str, *, from_user: bool) -> list[ToolSpec]:
    if not query.tools or query.tool_choice == "none":
        return []
    if query.forced_tool is not None:
        return [t for t in query.tools if t.name == query.forced_tool][:1]
    if not from_user and query.tool_choice != "required":
        return []
    lowered = text.lower()
    named = [t for t in query.tools if _named(t, lowered)]
    if len(named) >= 2 and query.parallel_tool_calls:
        return named
    request = set(content_words(text))
    best: ToolSpec | None = None
    best_score = 0
    for tool in query.tools:
        name_words, desc_words = _tool_words(tool)
        score = 2 * len(name_words & request) + len(desc_words & request)
        score += 10 if tool in named else 0
        if score > best_score:
            best, best_score = tool, score
    if best is not None:
        return [best]
    return [query.tools[0]] if query.tool_choice == "required" else []


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)
