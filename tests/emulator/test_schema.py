"""The JSON-schema instance generator: instances validate for the schemas frameworks emit."""

from __future__ import annotations

import enum
import json
from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from juhe_core.testing._schema import Values, instance


class Color(str, enum.Enum):
    RED = "red"
    GREEN = "green"


class Address(BaseModel):
    street: str
    zip_code: str | None = None


class Person(BaseModel):
    name: str
    age: int = Field(ge=0, le=150)
    height: float = Field(gt=0)
    favourite: Color
    tags: list[str] = Field(min_length=2)
    address: Address
    kind: Literal["human"] = "human"
    nickname: str | None = None


class Node(BaseModel):
    value: int
    children: list[Node] = []


SCHEMAS: dict[str, dict[str, Any]] = {
    "pydantic_nested": Person.model_json_schema(),
    "pydantic_recursive": Node.model_json_schema(),
    "allof_ref": {
        "$defs": {
            "Base": {
                "type": "object",
                "properties": {"id": {"type": "integer"}},
                "required": ["id"],
            }
        },
        "allOf": [
            {"$ref": "#/$defs/Base"},
            {"properties": {"label": {"type": "string"}}, "required": ["label"]},
        ],
    },
    "type_list_and_formats": {
        "type": "object",
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "email": {"type": ["string", "null"], "format": "email"},
            "code": {"type": "string", "minLength": 5, "maxLength": 6},
            "flag": {"type": "boolean"},
            "pair": {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "string"}],
                "minItems": 2,
            },
            "unique": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 3,
                "uniqueItems": True,
            },
            "const": {"const": 42},
            "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        },
        "required": ["when", "email", "code", "flag", "pair", "unique", "const", "ratio"],
        "additionalProperties": False,
    },
    "empty_object": {"type": "object", "properties": {}},
    "definitions_ref": {
        "definitions": {
            "Item": {"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]}
        },
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/definitions/Item"}}},
        "required": ["items"],
    },
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@pytest.mark.parametrize(
    "text", ["", "Alice is 34 and 1.7 m tall, likes green. Tags 'x' and 'y'.", "no"]
)
def test_instances_validate(name: str, text: str) -> None:
    schema = SCHEMAS[name]
    jsonschema.validate(instance(schema, Values(text)), schema)


def test_values_come_from_the_text_in_order() -> None:
    text = (
        "Alice Smith is 34 years old and 1.7 m tall; her colour is green, tags 'a', 'b'. "
        'She lives on "Main Street".'
    )
    value = instance(Person.model_json_schema(), Values(text))
    assert value["name"] == "a"  # quoted strings come before names...
    assert value["age"] == 34 and value["height"] == 1.7
    assert value["favourite"] == "green"
    assert value["tags"] == ["b", "Main Street"]
    assert value["address"]["street"] == "Alice Smith"  # ...then capitalised names
    Person.model_validate(value)


def test_optional_fields_only_when_mentioned() -> None:
    schema = Address.model_json_schema()
    assert "zip_code" not in instance(schema, Values("Baker Street"))
    assert "zip_code" in instance(schema, Values("Baker Street, zip code 'NW1'"))


def test_enum_defaults_to_the_first_member_and_numbers_clamp() -> None:
    schema = {
        "type": "object",
        "properties": {
            "unit": {"enum": ["celsius", "fahrenheit"]},
            "n": {"type": "integer", "exclusiveMinimum": -1000, "exclusiveMaximum": 1000},
        },
        "required": ["unit", "n"],
    }
    assert instance(schema, Values("use 5000")) == {"unit": "celsius", "n": 999}
    assert instance(schema, Values("nothing")) == {"unit": "celsius", "n": 1}


def test_sentence_initial_words_are_not_names_but_unicode_quotes_are_strings() -> None:
    schema = {"type": "object", "properties": {"who": {"type": "string"}}, "required": ["who"]}
    assert instance(schema, Values("Create a customer named '你好啊集团' (Hello Group)")) == {
        "who": "你好啊集团"
    }
    assert (
        instance(schema, Values("Using the tool, generate a Pirate greeting."))["who"] == "Pirate"
    )
    assert instance(schema, Values("What is it?"))["who"].endswith("What is it?")


def test_self_referring_schemas_terminate() -> None:
    loop = {"anyOf": [{"$ref": "#"}, {"type": "null"}]}
    assert instance(loop, Values("x")) is None  # the only finite instance
    for endless in ({"$ref": "#"}, {"allOf": [{"$ref": "#"}]}):
        json.dumps(instance(endless, Values("x")))  # returns instead of recursing forever
