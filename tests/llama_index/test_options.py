"""Pure mappings of call options: tools, tool choice, response formats, request fields."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel, create_model

from juhe_core.errors import UnsupportedFeatureError
from juhe_core.messages import (
    JsonObjectFormat,
    JsonSchemaFormat,
    NamedToolChoice,
    ToolDefinition,
)
from llama_index_juhe._options import (
    chat_request,
    map_response_format,
    map_tool_choice,
    map_tools,
    schema_format,
    strict_schema,
)


def add(a: int, b: int = 0) -> int:
    """Add two integers."""
    return a + b


class Person(BaseModel):
    """A person."""

    name: str
    age: int | None = None


def test_function_tool_becomes_a_definition() -> None:
    (tool,) = map_tools([FunctionTool.from_defaults(add)])
    assert tool.name == "add"
    assert "Add two integers." in tool.description
    assert tool.parameters["properties"].keys() == {"a", "b"}
    assert tool.parameters["required"] == ["a"]
    assert tool.strict is None


def test_strict_tools_get_strict_schemas() -> None:
    (tool,) = map_tools([FunctionTool.from_defaults(add)], strict=True)
    assert tool.strict is True
    assert tool.parameters["additionalProperties"] is False
    assert tool.parameters["required"] == ["a", "b"]


def test_openai_tool_dicts_and_definitions_are_accepted() -> None:
    spec = {"type": "function", "function": {"name": "f", "description": "d", "strict": True}}
    definition = ToolDefinition("g")
    assert map_tools([spec, definition]) == [
        ToolDefinition("f", "d", strict_schema({"type": "object", "properties": {}}), strict=True),
        definition,
    ]
    with pytest.raises(UnsupportedFeatureError, match="not a tool"):
        map_tools(["add"])


def test_cache_control_beside_an_openai_tool_dict_is_kept() -> None:
    cache = {"type": "ephemeral"}
    spec = {"type": "function", "function": {"name": "f"}, "cache_control": cache}
    (tool,) = map_tools([spec])
    assert tool.provider_data == {"cache_control": cache}


@pytest.mark.parametrize(
    ("choice", "required", "expected"),
    [
        (None, False, "auto"),
        (None, True, "required"),
        ("none", False, "none"),
        ("required", False, "required"),
        ("add", False, NamedToolChoice("add")),  # FunctionAgent(initial_tool_choice="add")
        ({"type": "function", "function": {"name": "add"}}, False, NamedToolChoice("add")),
        ({"name": "add"}, False, NamedToolChoice("add")),
    ],
)
def test_tool_choice(choice: Any, required: bool, expected: Any) -> None:
    assert map_tool_choice(choice, tool_required=required) == expected


def test_tool_choice_dict_without_a_name_is_an_error() -> None:
    with pytest.raises(UnsupportedFeatureError):
        map_tool_choice({"type": "function"})


def test_strict_schema_reaches_nested_objects() -> None:
    schema = {
        "type": "object",
        "properties": {"p": {"$ref": "#/$defs/P"}},
        "$defs": {"P": {"type": "object", "properties": {"x": {"type": "integer"}}}},
    }
    strict = strict_schema(schema)
    assert strict["$defs"]["P"] == {
        "type": "object",
        "properties": {"x": {"type": "integer"}},
        "additionalProperties": False,
        "required": ["x"],
    }
    assert "additionalProperties" not in schema  # the input is not modified


def test_schema_format_for_a_pydantic_class() -> None:
    spaced = create_model("Person record", __base__=Person)
    fmt = schema_format(spaced)
    assert fmt.name == "Person_record"  # OpenAI allows [a-zA-Z0-9_-] only
    assert fmt.schema["properties"].keys() == {"name", "age"}
    assert fmt.strict is None
    assert schema_format(Person, strict=True).strict is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"type": "json_object"}, JsonObjectFormat()),
        (
            {"type": "json_schema", "json_schema": {"name": "n", "schema": {}, "strict": True}},
            JsonSchemaFormat("n", {}, True),
        ),
        (JsonObjectFormat(), JsonObjectFormat()),
    ],
)
def test_response_formats(value: Any, expected: Any) -> None:
    assert map_response_format(value) == expected


def test_response_format_from_a_class_and_a_bad_value() -> None:
    assert map_response_format(Person).name == "Person"  # type: ignore[union-attr]
    with pytest.raises(UnsupportedFeatureError):
        map_response_format("json")


def test_chat_request_routes_options() -> None:
    request = chat_request(
        "m",
        [ChatMessage(role="user", content="hi")],
        {
            "temperature": 0.0,
            "max_tokens": 5,
            "top_p": 0.5,
            "seed": 7,
            "stop": "END",
            "reasoning_effort": "low",
            "thinking_budget": 128,
            "tools": [FunctionTool.from_defaults(add)],
            "tool_choice": "add",
            "response_format": {"type": "json_object"},
            "extra_body": {"user": "u1"},
            "presence_penalty": 0.1,  # no neutral field: sent as is
        },
        strict=False,
    )
    assert (request.model, request.temperature, request.max_tokens) == ("m", 0.0, 5)
    assert (request.top_p, request.seed, request.stop) == (0.5, 7, ["END"])
    assert (request.reasoning_effort, request.thinking_budget) == ("low", 128)
    assert [t.name for t in request.tools] == ["add"]
    assert request.tool_choice == NamedToolChoice("add")
    assert request.response_format == JsonObjectFormat()
    assert request.extra_body == {"user": "u1", "presence_penalty": 0.1}


def test_chat_request_leaves_unset_options_to_the_server() -> None:
    request = chat_request("m", [ChatMessage(role="user", content="hi")], {}, strict=False)
    assert (request.temperature, request.tool_choice, request.response_format) == (None,) * 3
    assert (list(request.tools), list(request.stop), request.extra_body) == ([], [], {})


def test_server_tools_in_provider_spelling_become_server_tools() -> None:
    from juhe_core.messages import ServerTool

    web_search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}
    mapped = map_tools([FunctionTool.from_defaults(add), web_search, {"google_search": {}}])
    assert mapped[1:] == [
        ServerTool("anthropic", web_search),
        ServerTool("gemini", {"google_search": {}}),
    ]
    with pytest.raises(UnsupportedFeatureError, match="server tool we recognise"):
        map_tools([{"type": "retrieval"}])
