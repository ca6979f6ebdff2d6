"""Pure mappings of LlamaIndex call options to a neutral ``ChatRequest``.

Tools (``BaseTool`` or the OpenAI tool dicts llama-index-llms-openai users pass),
``tool_choice`` in LlamaIndex's spellings, and structured-output response formats.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.bridge.pydantic import BaseModel
from llama_index.core.tools.types import BaseTool

from juhe_core.errors import UnsupportedFeatureError
from juhe_core.messages import (
    ChatRequest,
    JsonObjectFormat,
    JsonSchemaFormat,
    NamedToolChoice,
    ResponseFormat,
    ServerTool,
    ToolChoice,
    ToolDefinition,
)
from juhe_core.wire import is_server_tool, server_tool
from llama_index_juhe._convert import map_messages

__all__ = [
    "NOT_CARRIED",
    "REQUEST_OPTIONS",
    "chat_request",
    "map_response_format",
    "map_tool_choice",
    "map_tools",
    "refuse_uncarried",
    "schema_format",
    "strict_schema",
]


def strict_schema(schema: Any) -> Any:
    """A copy of a JSON schema in the shape OpenAI's ``strict`` mode demands.

    Every object forbids extra keys and lists all its properties as required
    (https://platform.openai.com/docs/guides/structured-outputs#supported-schemas).
    """
    if isinstance(schema, list):
        return [strict_schema(s) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    out = {k: strict_schema(v) for k, v in schema.items()}
    if out.get("type") == "object" and isinstance(out.get("properties"), Mapping):
        out["additionalProperties"] = False
        out["required"] = list(out["properties"])
    return out


def _tool_definition(tool: Any, strict: bool) -> ToolDefinition | ServerTool:
    if isinstance(tool, (ToolDefinition, ServerTool)):
        return tool
    if is_server_tool(tool):  # {"type": "web_search_20250305", ...}, {"google_search": {}}
        return server_tool(tool)
    extra: dict[str, Any] = {}
    if isinstance(tool, BaseTool):
        meta = tool.metadata
        name, description, params = meta.get_name(), meta.description, meta.get_parameters_dict()
    elif isinstance(tool, Mapping) and isinstance(tool.get("function"), Mapping):
        # The OpenAI tool dicts users of llama-index-llms-openai pass as ``tools=``; an
        # Anthropic ``cache_control`` beside ``function`` is kept for the codec.
        fn = tool["function"]
        name, description = fn["name"], fn.get("description") or ""
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        strict = bool(fn.get("strict", strict))
        if tool.get("cache_control"):
            extra["cache_control"] = tool["cache_control"]
    elif isinstance(tool, Mapping):
        server_tool(tool)  # raises, naming the server-tool shapes it knows
        raise AssertionError("unreachable")
    else:
        raise UnsupportedFeatureError(f"not a tool: {tool!r:.200}")
    if strict:
        return ToolDefinition(
            name, description, strict_schema(params), strict=True, provider_data=extra
        )
    return ToolDefinition(name, description, params, provider_data=extra)


def map_tools(tools: Sequence[Any], *, strict: bool = False) -> list[ToolDefinition | ServerTool]:
    """``BaseTool``s (or OpenAI tool dicts, or ``ToolDefinition``s) as neutral tools, and
    provider-run tools in their provider's spelling (``{"type": "web_search_20250305",
    "name": "web_search"}``, ``{"google_search": {}}``) as ``ServerTool``s."""
    return [_tool_definition(t, strict) for t in tools]


def map_tool_choice(choice: Any, *, tool_required: bool = False) -> ToolChoice:
    """LlamaIndex's ``tool_choice`` (mode, tool name or OpenAI dict) as a neutral choice.

    Like llama-index-llms-openai: no choice means ``required`` when ``tool_required``,
    else ``auto``; a string that is not a mode names the tool to call.
    """
    if choice is None:
        return "required" if tool_required else "auto"
    if isinstance(choice, NamedToolChoice):
        return choice
    if isinstance(choice, Mapping):
        fn = choice.get("function")
        name = fn.get("name") if isinstance(fn, Mapping) else choice.get("name")
        if not isinstance(name, str):
            raise UnsupportedFeatureError(f"tool_choice names no tool: {choice!r}")
        return NamedToolChoice(name)
    if choice in ("auto", "none", "required"):
        return choice  # type: ignore[no-any-return]
    return NamedToolChoice(str(choice))


def schema_format(output_cls: type[BaseModel], *, strict: bool = False) -> JsonSchemaFormat:
    """A JSON-schema response format asking for an instance of ``output_cls``."""
    schema = output_cls.model_json_schema()
    return JsonSchemaFormat(
        # OpenAI allows [a-zA-Z0-9_-]{1,64} in a schema name.
        name=re.sub(r"[^a-zA-Z0-9_-]", "_", output_cls.__name__)[:64] or "output",
        schema=strict_schema(schema) if strict else schema,
        strict=True if strict else None,
        description=schema.get("description"),
    )


def map_response_format(value: Any) -> ResponseFormat:
    """``response_format=``: a neutral format, a pydantic class, or an OpenAI dict."""
    if isinstance(value, (JsonObjectFormat, JsonSchemaFormat)):
        return value
    if isinstance(value, type) and issubclass(value, BaseModel):
        return schema_format(value)
    if isinstance(value, Mapping) and value.get("type") == "json_object":
        return JsonObjectFormat()
    if isinstance(value, Mapping) and isinstance(value.get("json_schema"), Mapping):
        spec = value["json_schema"]
        return JsonSchemaFormat(
            name=spec.get("name", "output"),
            schema=spec.get("schema", {}),
            strict=spec.get("strict"),
            description=spec.get("description"),
        )
    raise UnsupportedFeatureError(f"unsupported response_format: {value!r:.200}")


# Options with a neutral field; any other option goes into the body as it is.
REQUEST_OPTIONS: Final = (
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
    "reasoning_effort",
    "logprobs",
    "top_logprobs",
    "parallel_tool_calls",
    "thinking_budget",
    "modalities",
)


def chat_request(
    model: str, messages: Sequence[ChatMessage], options: Mapping[str, Any], *, strict: bool
) -> ChatRequest:
    """A neutral request from LlamaIndex messages and call options.

    ``options`` merges the LLM's fields, its ``additional_kwargs`` and the call's kwargs
    (later wins). ``tools``, ``tool_choice``, ``response_format`` and ``stop`` are mapped;
    names in ``REQUEST_OPTIONS`` become request fields; everything else (and
    ``extra_body``) is sent in the body unchanged, as ``additional_kwargs`` are sent by
    llama-index-llms-openai.
    """
    opts = dict(options)
    mapped = map_tools(opts.pop("tools", None) or (), strict=strict)
    choice = opts.pop("tool_choice", None)
    response_format = opts.pop("response_format", None)
    stop = opts.pop("stop", None) or ()
    fields = {k: opts.pop(k) for k in REQUEST_OPTIONS if k in opts}
    extra_body = dict(opts.pop("extra_body", None) or {})
    extra_body.update(opts)
    return ChatRequest(
        model=model,
        messages=map_messages(messages),
        tools=[t for t in mapped if isinstance(t, ToolDefinition)],
        server_tools=[t for t in mapped if isinstance(t, ServerTool)],
        tool_choice=None if choice is None else map_tool_choice(choice),
        response_format=None if response_format is None else map_response_format(response_format),
        stop=[stop] if isinstance(stop, str) else list(stop),
        extra_body=extra_body,
        **fields,
    )


# Options these codecs leave out of the body without an error (juhe_core.wire today:
# responses has no logprobs, and neither it nor anthropic has output modalities). Refused
# here so that nothing is dropped silently; redundant once the codecs refuse them.
NOT_CARRIED: Final[Mapping[str, tuple[str, ...]]] = {
    "responses": ("logprobs", "top_logprobs", "modalities"),
    "anthropic": ("modalities",),
}


def _asks_for(request: ChatRequest, option: str) -> bool:
    if option == "modalities":  # text alone is what every format answers with anyway
        return any(m != "text" for m in request.modalities)
    return getattr(request, option) not in (None, False)


def refuse_uncarried(request: ChatRequest, api_format: str) -> None:
    """UnsupportedFeatureError naming the format and option, for ``NOT_CARRIED`` options."""
    for option in NOT_CARRIED.get(api_format, ()):
        if _asks_for(request, option):
            raise UnsupportedFeatureError(
                f"the {api_format} format has no {option}; use the openai or gemini format"
            )
