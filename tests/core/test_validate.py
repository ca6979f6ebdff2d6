"""Tool schema checks: every malformed schema is a typed error naming the tool and path."""

from __future__ import annotations

from typing import Any

import pytest

from juhe_core._validate import check_request, check_schema
from juhe_core.errors import UnsupportedFeatureError
from juhe_core.messages import ChatRequest, Message, ToolDefinition

WHERE = "tool 'f' parameters"


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ({"type": {"a": 1}}, "parameters.type must be"),
        ({"type": ["string", {"a": 1}]}, "parameters.type must be"),
        ({"type": []}, "parameters.type must be"),
        ({"type": "strng"}, "parameters has an unknown JSON schema type 'strng'"),
        ({"anyOf": 5}, "parameters.anyOf must be a list"),
        ({"oneOf": {"type": "string"}}, "parameters.oneOf must be a list"),
        ({"allOf": [5]}, r"parameters.allOf\[0\] must be a JSON schema object"),
        ({"items": 5}, "parameters.items must be a schema"),
        ({"items": [{"type": 1}]}, r"parameters.items\[0\].type must be"),
        ({"required": "a"}, "parameters.required must be a list of property names"),
        ({"required": [1]}, "parameters.required must be a list"),
        ({"additionalProperties": 5}, "parameters.additionalProperties must be"),
        ({"enum": "ab"}, "parameters.enum must be a list"),
        ({"properties": []}, "parameters.properties must be an object"),
        (
            {"properties": {"a": {"items": {"anyOf": [{"type": {}}]}}}},
            r"parameters.properties.a.items.anyOf\[0\].type must be",
        ),
    ],
)
def test_malformed_schema_is_typed_and_names_the_path(schema: Any, path: str) -> None:
    with pytest.raises(UnsupportedFeatureError, match=f"tool 'f' {path}"):
        check_schema(schema, WHERE)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": ["string", "null"]}}, "required": ["a"]},
        {"type": "object", "additionalProperties": False},
        {"type": "array", "items": True},
        {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
        {"anyOf": [{"type": "string"}, {"enum": [1, 2]}]},
    ],
)
def test_plausible_schemas_pass(schema: Any) -> None:
    check_schema(schema, WHERE)


def test_deep_nesting_is_typed_not_a_recursion_error() -> None:
    schema: dict[str, Any] = {"type": "object"}
    for _ in range(5000):
        schema = {"type": "array", "items": schema}
    with pytest.raises(UnsupportedFeatureError, match="nested deeper"):
        check_schema(schema, WHERE)


def test_check_request_names_the_tool() -> None:
    schema = {"type": "object", "properties": {"q": {"anyOf": 5}}}
    request = ChatRequest(
        "gpt-4o-mini", [Message.text("user", "x")], tools=[ToolDefinition("lookup", "d", schema)]
    )
    with pytest.raises(UnsupportedFeatureError, match=r"tool 'lookup' parameters.properties.q"):
        check_request(request)
