"""The Gemini generateContent format (``/v1beta/models/{model}:…``): requests in, turns out.

``parse_generate`` reads a body into the neutral ``ChatQuery`` plus ``GenerateOptions``;
``response_body`` and ``response_stream`` render a ``Turn`` as a Gemini upstream answers
and the relay passes it through (relay-behavior.md §6, §12): a ``GenerateContentResponse``,
or ``data:`` chunks with no ``[DONE]`` where the last chunk carries ``finishReason`` and the
full ``usageMetadata``.

Model behaviour specific to this format:

- ``thinkingConfig.includeThoughts`` shows the reasoning as ``thought: true`` parts, the
  last one carrying a ``thoughtSignature``. Thinking is on with ``includeThoughts`` or a
  non-zero ``thinkingBudget``; then the first ``functionCall`` part carries a signature too.
- ``responseMimeType: application/json`` with ``responseSchema`` (Gemini's OpenAPI subset,
  upper-case types) or ``responseJsonSchema``: the text is an instance of it.
- A ``content_filter`` turn is blocked as Gemini blocks it: ``finishReason: SAFETY`` with
  ``safetyRatings`` and no content (in a stream, after the text chunks sent so far).
- ``responseModalities`` with ``IMAGE`` adds an ``inlineData`` PNG part; with ``AUDIO`` an
  ``inlineData`` raw PCM part, ``audio/L16;codec=pcm;rate=24000``, as Gemini TTS sends it.
"""

from __future__ import annotations

import base64
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._anthropic import signature
from ._events import NativeStream
from ._media import pcm, png, speech_seconds
from ._openai_request import InvalidRequest, UpstreamReject
from ._relay import dumps, relay_error
from ._stream import data_frame
from ._text import count_tokens, pieces
from ._turn import ChatQuery, PromptMessage, ToolSpec, Turn

__all__ = [
    "FINISH_REASONS",
    "PCM_MIME",
    "GenerateOptions",
    "model_list",
    "parse_generate",
    "response_body",
    "response_stream",
]

FINISH_REASONS = {
    "stop": "STOP",
    "tool_calls": "STOP",
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
}
"""Neutral finish reason → Gemini ``finishReason`` (function calls end with ``STOP``)."""
PCM_MIME = "audio/L16;codec=pcm;rate=24000"
"""The MIME type of Gemini's audio output: 16-bit little-endian mono PCM at 24 kHz."""
_SAFETY_RATINGS = [
    {"category": f"HARM_CATEGORY_{c}", "probability": "NEGLIGIBLE"}
    for c in ("SEXUALLY_EXPLICIT", "HATE_SPEECH", "HARASSMENT")
] + [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]
"""What a ``SAFETY`` candidate carries: the category that blocked it is ``blocked: true``."""
_THINKING_SUFFIX = re.compile(r"-thinking(?:-\d+)?$")
_MODES = {"AUTO": "auto", "ANY": "required", "VALIDATED": "auto", "NONE": "none"}


@dataclass(frozen=True)
class GenerateOptions:
    """Request fields that only shape the Gemini rendering."""

    thinking: bool = False
    """Thinking is on (signatures on function calls)."""
    image: bool = False
    """``responseModalities`` asks for an image."""
    audio: bool = False
    """``responseModalities`` asks for audio."""


def _part_counts(parts: list[Any]) -> tuple[str, int, int, int]:
    texts: list[str] = []
    images = audio = files = 0
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        if isinstance(part.get("text"), str) and part.get("thought") is not True:
            texts.append(part["text"])
        media = part.get("inlineData") or part.get("fileData")
        mime = str(media.get("mimeType", "")) if isinstance(media, Mapping) else ""
        if mime.startswith("image/"):
            images += 1
        elif mime.startswith(("audio/", "video/")):
            audio += 1
        elif mime:
            files += 1
    return "\n".join(texts), images, audio, files


def _content(item: Mapping[str, Any]) -> list[PromptMessage]:
    role = item.get("role", "user")
    if role not in ("user", "model", "function", "tool"):
        raise UpstreamReject(f"Please use a valid role: user, model. Got: {role}", "contents.role")
    parts = item.get("parts")
    if not isinstance(parts, list) or not parts:
        raise UpstreamReject(
            "* GenerateContentRequest.contents.parts: contents.parts must not be empty.",
            "contents",
        )
    out: list[PromptMessage] = []
    for part in parts:
        response = part.get("functionResponse") if isinstance(part, Mapping) else None
        if isinstance(response, Mapping):
            text = json.dumps(response.get("response"), ensure_ascii=False)
            out.append(PromptMessage("tool", text=text, tool_name=str(response.get("name", ""))))
    calls = tuple(
        str(p["functionCall"].get("name", ""))
        for p in parts
        if isinstance(p, Mapping) and isinstance(p.get("functionCall"), Mapping)
    )
    text, images, audio, files = _part_counts(parts)
    if text or images or audio or files or calls or not out:
        speaker = "assistant" if role == "model" else "user"
        out.append(PromptMessage(speaker, text, images, audio, files, tool_calls=calls))
    return out


def _tools(raw: Any) -> tuple[ToolSpec, ...]:
    specs = []
    for tool in raw if isinstance(raw, list) else ():
        decls = tool.get("functionDeclarations") if isinstance(tool, Mapping) else None
        for decl in decls if isinstance(decls, list) else ():
            if not isinstance(decl, Mapping) or not decl.get("name"):
                continue
            params = decl.get("parametersJsonSchema", decl.get("parameters"))
            specs.append(
                ToolSpec(
                    name=str(decl["name"]),
                    description=str(decl.get("description") or ""),
                    parameters=json_schema(params) if isinstance(params, Mapping) else {},
                )
            )
    return tuple(specs)


def json_schema(schema: Any) -> Any:
    """Gemini's OpenAPI-style schema as JSON schema: lower-case types, ``nullable``."""
    if isinstance(schema, list):
        return [json_schema(s) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            out["type"] = value.lower()
        elif key in ("properties", "$defs", "definitions") and isinstance(value, Mapping):
            out[key] = {k: json_schema(v) for k, v in value.items()}
        elif key in ("items", "anyOf", "oneOf", "allOf", "prefixItems"):
            out[key] = json_schema(value)
        elif key not in ("nullable", "propertyOrdering"):
            out[key] = value
    if schema.get("nullable") is True and isinstance(out.get("type"), str):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def _tool_config(raw: Any) -> tuple[str, str | None]:
    config = raw.get("functionCallingConfig") if isinstance(raw, Mapping) else None
    if not isinstance(config, Mapping):
        return "auto", None
    choice = _MODES.get(str(config.get("mode", "AUTO")).upper(), "auto")
    allowed = config.get("allowedFunctionNames")
    if choice == "required" and isinstance(allowed, list) and len(allowed) == 1:
        return choice, str(allowed[0])
    return choice, None


def _thinking(config: Mapping[str, Any], model: str) -> tuple[bool, bool]:
    """(thinking on, thoughts shown) from ``thinkingConfig`` and the model name."""
    thinking = config.get("thinkingConfig")
    thinking = thinking if isinstance(thinking, Mapping) else {}
    # The relay's thinking adapter turns a "-thinking" / "-thinking-<N>" model suffix into
    # includeThoughts (relay-behavior.md §4, model-name suffixes).
    shown = thinking.get("includeThoughts") is True or _THINKING_SUFFIX.search(model) is not None
    budget = thinking.get("thinkingBudget")
    if budget == 0 and model.startswith("gemini-2.5-pro"):
        # 2.5 Pro cannot turn thinking off (Gemini thinking docs: budget 128-32768).
        raise UpstreamReject(
            "Budget 0 is invalid. This model only works in thinking mode.",
            "generationConfig.thinkingConfig.thinkingBudget",
        )
    return shown or (isinstance(budget, int) and budget != 0), shown


def parse_generate(body: Mapping[str, Any], model: str) -> tuple[ChatQuery, GenerateOptions]:
    """Read a ``generateContent`` body; raises ``InvalidRequest`` or ``UpstreamReject``."""
    contents = body.get("contents")
    if not contents:
        raise InvalidRequest("contents is required")
    if not isinstance(contents, list):
        raise InvalidRequest(
            "json: cannot unmarshal into Go struct field GeminiChatRequest.contents "
            "of type []dto.GeminiChatContent"
        )
    config = body.get("generationConfig")
    config = config if isinstance(config, Mapping) else {}
    max_tokens = config.get("maxOutputTokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 0):
        raise InvalidRequest("maxOutputTokens is invalid")
    system = body.get("systemInstruction") or body.get("system_instruction")
    messages: list[PromptMessage] = []
    if isinstance(system, Mapping):
        messages.append(PromptMessage("system", _part_counts(system.get("parts") or [])[0]))
    elif isinstance(system, str):
        messages.append(PromptMessage("system", system))
    for item in contents:
        if not isinstance(item, Mapping):
            raise InvalidRequest("contents must be objects")
        messages += _content(item)
    tools = _tools(body.get("tools"))
    choice, forced = _tool_config(body.get("toolConfig"))
    schema = config.get("responseJsonSchema", config.get("responseSchema"))
    wants_json = config.get("responseMimeType") == "application/json"
    modalities = {str(m).upper() for m in config.get("responseModalities") or ()}
    stops = config.get("stopSequences")
    thinking, shown = _thinking(config, model)
    query = ChatQuery(
        model=model,
        messages=tuple(messages),
        tools=tools,
        tool_choice=choice,
        forced_tool=forced,
        json_schema=json_schema(schema) if wants_json and isinstance(schema, Mapping) else None,
        json_object=wants_json and not isinstance(schema, Mapping),
        reasoning=shown,
        stop=tuple(s for s in stops if isinstance(s, str)) if isinstance(stops, list) else (),
        max_tokens=max_tokens,
        prompt_extra_tokens=count_tokens(json.dumps(body.get("tools"))) if tools else 0,
    )
    return query, GenerateOptions(thinking, "IMAGE" in modalities, "AUDIO" in modalities)


def _inline(mime: str, data: bytes) -> dict[str, Any]:
    return {"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode("ascii")}}


def _answer_parts(turn: Turn, options: GenerateOptions) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if turn.text or not (turn.tool_calls or options.image or options.audio):
        parts.append({"text": turn.text})
    if options.image:
        parts.append(_inline("image/png", png(turn.text or "image")))
    if options.audio:
        # Gemini TTS answers raw PCM, not a WAV file (Gemini speech-generation docs).
        parts.append(_inline(PCM_MIME, pcm(speech_seconds(turn.text))))
    for i, call in enumerate(turn.tool_calls):
        try:
            args = json.loads(call.arguments) if call.arguments.strip() else {}
        except ValueError:
            args = {"arguments": call.arguments}
        part: dict[str, Any] = {"functionCall": {"name": call.name, "args": args}}
        if options.thinking and i == 0:
            part["thoughtSignature"] = signature(call.name + call.arguments)
        parts.append(part)
    return parts


def _thought(text: str, signed: bool) -> dict[str, Any]:
    part: dict[str, Any] = {"text": text, "thought": True}
    if signed:
        part["thoughtSignature"] = signature(text)
    return part


def _usage(turn: Turn, overlay: Mapping[str, Any] | None) -> dict[str, Any]:
    visible = turn.completion_tokens - turn.reasoning_tokens
    out: dict[str, Any] = {
        "promptTokenCount": turn.prompt_tokens,
        "candidatesTokenCount": visible,
        "totalTokenCount": turn.prompt_tokens + turn.completion_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": turn.prompt_tokens}],
    }
    if turn.reasoning_tokens:
        out["thoughtsTokenCount"] = turn.reasoning_tokens
    return {**out, **overlay} if overlay else out


def _wrap(
    parts: list[dict[str, Any]], meta: tuple[str, str], finish: str | None, usage: Any
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}} if parts else {}
    if finish is not None:
        candidate["finishReason"] = finish
    candidate["index"] = 0
    if finish == "SAFETY":
        candidate["safetyRatings"] = _SAFETY_RATINGS
    out: dict[str, Any] = {"candidates": [candidate]}
    if usage is not None:
        out["usageMetadata"] = usage
    out["modelVersion"], out["responseId"] = meta
    return out


def response_body(
    turn: Turn,
    options: GenerateOptions,
    meta: tuple[str, str],
    overlay: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The non-stream ``GenerateContentResponse``; ``meta`` is (modelVersion, responseId)."""
    parts = [_thought(turn.reasoning, True)] if turn.reasoning else []
    parts += _answer_parts(turn, options)
    finish = FINISH_REASONS.get(turn.finish_reason, "OTHER")
    if finish == "SAFETY":
        parts = []  # a blocked candidate comes without content
    return _wrap(parts, meta, finish, _usage(turn, overlay))


def _split(text: str, rng: random.Random) -> list[str]:
    parts, out, i = pieces(text), [], 0
    while i < len(parts):
        size = rng.randint(2, 6)
        out.append("".join(parts[i : i + size]))
        i += size
    return out


def response_stream(
    turn: Turn,
    options: GenerateOptions,
    meta: tuple[str, str],
    overlay: Mapping[str, Any] | None,
    rng: random.Random,
    request_id: str,
) -> NativeStream:
    """The ``alt=sse`` chunks of a turn: the last one carries ``finishReason`` and usage."""
    thoughts = _split(turn.reasoning, rng)
    groups: list[list[dict[str, Any]]] = [
        [_thought(t, i == len(thoughts) - 1)] for i, t in enumerate(thoughts)
    ]
    answer = _answer_parts(turn, options)
    for part in answer:
        if isinstance(part.get("text"), str) and part["text"]:
            groups += [[{"text": piece}] for piece in _split(part["text"], rng)]
        else:
            groups.append([part])
    finish = FINISH_REASONS.get(turn.finish_reason, "OTHER")
    if finish == "SAFETY":
        groups.append([])  # the text so far went out; the block comes in a chunk of its own
    chunks = [_wrap(g, meta, None, None) for g in groups[:-1]]
    chunks.append(
        _wrap(groups[-1] if groups else [{"text": ""}], meta, finish, _usage(turn, overlay))
    )
    # An upstream stream error is one more data line, passed through as it is (§6).
    upstream = {
        "error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}
    }
    return NativeStream(
        frames=[data_frame(c) for c in chunks],
        end=len(chunks) - 1,
        finish=None,
        error_event=data_frame(upstream),
        bare_error=relay_error("upstream stream ended with an error", request_id, "bad_response"),
        ping=None,
    )


def model_list(ids: list[str]) -> bytes:
    """The relay's ``GET /v1beta/models`` body: bare names, other fields null (§8, §12)."""
    fields = (
        "baseModelId",
        "version",
        "description",
        "inputTokenLimit",
        "outputTokenLimit",
        "supportedGenerationMethods",
        "thinking",
        "temperature",
        "maxTemperature",
        "topP",
        "topK",
    )
    models = [{"name": i, "displayName": i, **dict.fromkeys(fields)} for i in ids]
    return dumps({"models": models, "nextPageToken": None})
