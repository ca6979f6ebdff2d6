"""Tool binding and structured output for ``ChatJuhe``: formatting, choice, parsers.

Tools are bound as OpenAI-style tool dicts (what ``langchain_core`` produces from
pydantic models, TypedDicts, functions, ``BaseTool``s and JSON schemas), so bound
keywords stay plain data: serialisable, traceable, and mapped to the neutral
``ToolDefinition`` only when a request is built (``_convert.to_tool_definitions``).

Structured output picks its default method from the model's profile. A relay serves
many families: forcing OpenAI's ``json_schema`` on a model whose upstream lacks it (the
"structured output method mismatch" users of ``ChatOpenAI`` behind relays report) fails,
so such models default to tool calling instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeAlias

from langchain_core.language_models import ModelProfile
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.base import OutputParserLike
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass

__all__ = [
    "StructuredOutputMethod",
    "default_structured_output_method",
    "format_tool_choice",
    "format_tools",
    "structured_output_parser",
]

StructuredOutputMethod: TypeAlias = Literal["json_schema", "function_calling", "json_mode"]
_METHODS: tuple[StructuredOutputMethod, ...] = ("json_schema", "function_calling", "json_mode")
_CHOICE_WORDS = frozenset({"auto", "none", "required", "any"})


def format_tools(tools: Sequence[Any], *, strict: bool | None = None) -> list[dict[str, Any]]:
    """Tools as OpenAI tool dicts (``{"type": "function", "function": {...}}``)."""
    return [convert_to_openai_tool(tool, strict=strict) for tool in tools]


def _tool_name(tool: Mapping[str, Any]) -> str | None:
    function = tool.get("function")
    return function.get("name") if isinstance(function, Mapping) else None


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


def default_structured_output_method(profile: ModelProfile | None) -> StructuredOutputMethod:
    """``json_schema`` when the model has native structured output, else tool calling."""
    profile = profile or {}
    if profile.get("structured_output", False):
        return "json_schema"
    if profile.get("tool_calling", True):
        return "function_calling"
    return "json_mode"


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
