"""Tool binding and structured output for ``ChatJuhe``: formatting, choice, parsers.

Tools are bound as OpenAI-style tool dicts (what ``langchain_core`` produces from
pydantic models, TypedDicts, functions, ``BaseTool``s and JSON schemas), so bound
keywords stay plain data: serialisable and traceable.

Bound tool dicts, tool choices and response formats become neutral ``juhe_core`` values
when a request is built (``to_tool_definitions``, ``to_tool_choice``,
``to_response_format``), whatever spelling the user wrote (OpenAI or Anthropic style).

Structured output picks its default method from the model's profile and the wire format
(``choose_structured_output_method``). A relay serves many families: forcing OpenAI's
``json_schema`` on a model whose upstream lacks it (the "structured output method
mismatch" users of ``ChatOpenAI`` behind relays report) fails, so such models default to
tool calling instead; the Anthropic format carries tool calling only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal, TypeAlias

from langchain_core.language_models import ModelProfile
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.base import OutputParserLike
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.utils.function_calling import (
    convert_to_openai_function,
    convert_to_openai_tool,
)
from langchain_core.utils.pydantic import is_basemodel_subclass

from juhe_core.errors import UnsupportedFeatureError
from juhe_core.messages import (
    JsonObjectFormat,
    JsonSchemaFormat,
    NamedToolChoice,
    ResponseFormat,
    ServerTool,
    ToolChoice,
    ToolDefinition,
)
from juhe_core.wire import is_server_tool, server_tool

__all__ = [
    "FORMAT_METHODS",
    "StructuredOutputMethod",
    "check_method",
    "choose_structured_output_method",
    "format_tool_choice",
    "format_tools",
    "json_schema_response_format",
    "structured_output_parser",
    "to_response_format",
    "to_tool_choice",
    "to_tool_definitions",
]

StructuredOutputMethod: TypeAlias = Literal["json_schema", "function_calling", "json_mode"]
_METHODS: tuple[StructuredOutputMethod, ...] = ("json_schema", "function_calling", "json_mode")
FORMAT_METHODS: Final[Mapping[str, tuple[StructuredOutputMethod, ...]]] = {
    "openai": _METHODS,
    "gemini": _METHODS,  # responseSchema / responseMimeType
    "responses": _METHODS,  # text.format json_schema / json_object
    # The Messages API has no response format at all: only a forced tool call.
    "anthropic": ("function_calling",),
}
"""The structured-output methods each wire format can carry, best first."""
_METHOD_NEEDS: Final[Mapping[StructuredOutputMethod, str]] = {
    "json_schema": "JSON-schema response format",
    "function_calling": "tool calling",
    "json_mode": "JSON mode",
}
_CHOICE_WORDS = frozenset({"auto", "none", "required", "any"})
_TOOL_CHOICES: Final[Mapping[str, ToolChoice]] = {
    "auto": "auto",
    "none": "none",
    "required": "required",
    "any": "required",  # LangChain's spelling of "call some tool"
}


def format_tools(tools: Sequence[Any], *, strict: bool | None = None) -> list[dict[str, Any]]:
    """Tools as OpenAI tool dicts (``{"type": "function", "function": {...}}``).

    A provider-run tool in its provider's spelling (``{"type": "web_search_20250305",
    "name": "web_search"}``, ``{"google_search": {}}``, ``{"type": "web_search"}``) is kept
    as given, to be sent in its own format (``juhe_core.wire.server_tool``). Any other dict
    with a ``type`` but no function raises UnsupportedFeatureError:
    ``convert_to_openai_tool`` would turn it into an empty function of the same name,
    which the model would then call for nothing.
    """
    out = []
    for tool in tools:
        if is_server_tool(tool):
            out.append(dict(tool))
            continue
        kind = tool.get("type") if isinstance(tool, Mapping) else None
        if isinstance(kind, str) and kind not in ("function", "object"):
            server_tool(tool)  # raises, naming the shapes it knows
        out.append(_with_cache_control(convert_to_openai_tool(tool, strict=strict), tool))
    return out


def _cache_control(tool: Any) -> Any:
    """Anthropic's ``cache_control`` of a tool: a key of a tool dict, or of a ``BaseTool``'s
    ``extras`` (where langchain-anthropic reads it); ``convert_to_openai_tool`` drops it."""
    extras = getattr(tool, "extras", None)
    source = tool if isinstance(tool, Mapping) else extras if isinstance(extras, Mapping) else {}
    return source.get("cache_control")


def _with_cache_control(formatted: dict[str, Any], tool: Any) -> dict[str, Any]:
    cache_control = _cache_control(tool)
    return {**formatted, "cache_control": cache_control} if cache_control else formatted


def _tool_name(tool: Mapping[str, Any]) -> str | None:
    function = tool.get("function")
    if isinstance(function, Mapping):
        return function.get("name")
    name = tool.get("name")  # a server tool (Anthropic's may be forced by name)
    return name if isinstance(name, str) else None


def format_tool_choice(
    tool_choice: str | bool | Mapping[str, Any], tools: Sequence[Mapping[str, Any]]
) -> str | dict[str, Any]:
    """``tool_choice`` in OpenAI spelling: ``"any"``/``True`` → ``"required"``, a name → dict.

    A name that is not one of ``tools`` raises ValueError: the server would reject it
    anyway, with a less helpful message.
    """
    if isinstance(tool_choice, bool):
        return "required" if tool_choice else "none"
    if isinstance(tool_choice, Mapping):
        return dict(tool_choice)
    if tool_choice in _CHOICE_WORDS:
        return "required" if tool_choice == "any" else tool_choice
    names = [n for n in (_tool_name(t) for t in tools) if n]
    if tool_choice not in names:
        raise ValueError(
            f"tool_choice {tool_choice!r} is neither 'auto', 'none', 'required'/'any' nor "
            f"one of the bound tools {names}"
        )
    return {"type": "function", "function": {"name": tool_choice}}


def choose_structured_output_method(
    method: str | None, profile: ModelProfile | None, api_format: str
) -> StructuredOutputMethod:
    """The structured-output method to use with ``api_format``.

    With ``method`` None, the best one the model and the format both support, in the order
    native JSON schema → tool calling → JSON mode (the model's side read from its profile).
    A named method is checked against the format only (the user may know the model better
    than the catalogue does): one the format cannot carry raises UnsupportedFeatureError
    naming both, before any request is sent.
    """
    possible = FORMAT_METHODS.get(api_format, _METHODS)
    if method is not None:
        chosen = check_method(method)
        if chosen not in possible:
            raise UnsupportedFeatureError(
                f"the {api_format} format cannot do structured output with method={chosen!r} "
                f"(it has no {_METHOD_NEEDS[chosen]}); use method="
                f"{' or '.join(repr(m) for m in possible)}, or api_format='openai'"
            )
        return chosen
    profile = profile or {}
    model_has = {
        "json_schema": profile.get("structured_output", False),
        "function_calling": profile.get("tool_calling", True),
        "json_mode": True,
    }
    for candidate in _METHODS:
        if candidate in possible and model_has[candidate]:
            return candidate
    raise UnsupportedFeatureError(  # pragma: no cover - every format has one method left
        f"the {api_format} format offers no structured-output method for this model"
    )


def check_method(method: str) -> StructuredOutputMethod:
    """``method`` if it is a known structured-output method, else ValueError."""
    for known in _METHODS:
        if method == known:
            return known
    raise ValueError(f"unknown structured output method {method!r}; expected one of {_METHODS}")


def structured_output_parser(schema: Any, method: StructuredOutputMethod) -> OutputParserLike[Any]:
    """The parser turning the model's message into the schema's type (pydantic) or a dict."""
    is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
    if method == "function_calling":
        if is_pydantic:
            return PydanticToolsParser(tools=[schema], first_tool_only=True)
        name = convert_to_openai_tool(schema)["function"]["name"]
        return JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
    if is_pydantic:
        return PydanticOutputParser(pydantic_object=schema)
    return JsonOutputParser()


# --- bound keywords (OpenAI-style dicts, as bind_tools stores them) -> neutral ---


def to_tool_definitions(
    tools: Iterable[Any],
) -> tuple[tuple[ToolDefinition, ...], tuple[ServerTool, ...]]:
    """Function tools (OpenAI tool dicts, or anything ``convert_to_openai_function``
    takes) and provider-run tools (see ``format_tools``), each in neutral form; a
    ``cache_control`` key on a function tool's dict goes to its ``provider_data``."""
    out = []
    servers = []
    for tool in tools:
        if is_server_tool(tool):
            servers.append(server_tool(tool))
            continue
        if isinstance(tool, Mapping) and tool.get("type") == "function":
            function = tool.get("function")
        elif isinstance(tool, Mapping) and tool.get("type") not in (None, "object"):
            server_tool(tool)  # raises, naming the shapes it knows
        else:
            function = convert_to_openai_function(tool)
        if not isinstance(function, Mapping) or not function.get("name"):
            raise UnsupportedFeatureError(f"a tool without a function name: {tool!r:.200}")
        cache_control = _cache_control(tool)
        out.append(
            ToolDefinition(
                name=function["name"],
                description=function.get("description") or "",
                parameters=function.get("parameters") or {"type": "object", "properties": {}},
                strict=function.get("strict"),
                provider_data={"cache_control": cache_control} if cache_control else {},
            )
        )
    return tuple(out), tuple(servers)


def to_tool_choice(value: Any) -> ToolChoice | None:
    """``tool_choice`` in any spelling LangChain users write (OpenAI or Anthropic style)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "required" if value else "none"
    if isinstance(value, str):
        return _TOOL_CHOICES.get(value) or NamedToolChoice(value)
    if isinstance(value, Mapping):
        function = value.get("function")
        if isinstance(function, Mapping) and function.get("name"):
            return NamedToolChoice(function["name"])
        if value.get("type") == "tool" and value.get("name"):
            return NamedToolChoice(value["name"])
        if value.get("type") in _TOOL_CHOICES:
            return _TOOL_CHOICES[value["type"]]
    raise UnsupportedFeatureError(f"unsupported tool_choice {value!r}")


def json_schema_response_format(schema: Any, *, strict: bool | None = None) -> dict[str, Any]:
    """The OpenAI ``json_schema`` response format for a pydantic/TypedDict/JSON schema."""
    function = convert_to_openai_function(schema, strict=strict)
    spec: dict[str, Any] = {"name": function["name"], "schema": function["parameters"]}
    if function.get("description"):
        spec["description"] = function["description"]
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


def to_response_format(value: Any) -> ResponseFormat | None:
    """``response_format``: an OpenAI dict, or a schema class (then ``json_schema``)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        value = json_schema_response_format(value)
    if value.get("type") == "json_object":
        return JsonObjectFormat()
    spec = value.get("json_schema")
    if value.get("type") == "json_schema" and isinstance(spec, Mapping) and "schema" in spec:
        return JsonSchemaFormat(
            name=spec.get("name") or "response",
            schema=spec["schema"],
            strict=spec.get("strict"),
            description=spec.get("description"),
        )
    raise UnsupportedFeatureError(f"unsupported response_format {value!r:.200}")
