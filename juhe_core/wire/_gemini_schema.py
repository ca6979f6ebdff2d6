"""JSON Schema → the OpenAPI-style Schema subset Gemini accepts (``parameters``,
``responseSchema``).

Gemini takes ``type`` (upper-case enum), ``format``, ``description``, ``nullable``,
``enum`` (strings), ``items``, ``properties``, ``required``, ``anyOf``, min/max bounds,
``pattern``, ``title``, ``default`` and ``propertyOrdering``. We inline ``$ref``s, turn
``["x", "null"]`` types and ``anyOf [X, null]`` into ``nullable``, ``const`` into a
one-value enum, and drop keys that only constrain what Gemini cannot check
(``additionalProperties``, ``$schema``, ``examples``). What it cannot express at all
(recursive refs, ``not``, conditionals, ``allOf`` of several schemas) raises
UnsupportedFeatureError naming the place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from juhe_core.errors import UnsupportedFeatureError

__all__ = ["to_gemini_schema"]

_KEEP: Final = frozenset(
    {
        "format",
        "description",
        "title",
        "nullable",
        "minItems",
        "maxItems",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "pattern",
        "default",
        "minProperties",
        "maxProperties",
        "propertyOrdering",
        "example",
    }
)
_DROP: Final = frozenset(
    {
        "additionalProperties",
        "$schema",
        "$id",
        "$comment",
        "examples",
        "$defs",
        "definitions",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "uniqueItems",
        "readOnly",
        "writeOnly",
        "deprecated",
        "strict",
    }
)
_CANNOT: Final = frozenset(
    {
        "not",
        "if",
        "then",
        "else",
        "patternProperties",
        "dependentRequired",
        "dependentSchemas",
        "unevaluatedProperties",
        "prefixItems",
        "contains",
    }
)
_TYPES: Final = frozenset({"string", "number", "integer", "boolean", "array", "object"})


def to_gemini_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a JSON schema; UnsupportedFeatureError for what Gemini cannot express."""
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    return _convert(schema, defs, "#", ())


def _resolve(
    ref: str, defs: Mapping[str, Any], where: str, seen: tuple[str, ...]
) -> tuple[Mapping[str, Any], tuple[str, ...]]:
    if ref in seen:
        raise UnsupportedFeatureError(f"Gemini schemas cannot be recursive ({ref} at {where})")
    name = ref.rsplit("/", 1)[-1]
    if not ref.startswith(("#/$defs/", "#/definitions/")) or name not in defs:
        raise UnsupportedFeatureError(f"cannot resolve {ref!r} at {where} for Gemini")
    return defs[name], (*seen, ref)


def _convert(
    schema: Mapping[str, Any], defs: Mapping[str, Any], where: str, seen: tuple[str, ...]
) -> dict[str, Any]:
    if not isinstance(schema, Mapping):
        raise UnsupportedFeatureError(f"schema at {where} is not an object")
    if "$ref" in schema:
        target, seen = _resolve(schema["$ref"], defs, where, seen)
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        return _convert({**target, **extra}, defs, where, seen)
    bad = _CANNOT.intersection(schema)
    if bad:
        raise UnsupportedFeatureError(f"Gemini schemas cannot express {sorted(bad)} (at {where})")
    out: dict[str, Any] = {k: v for k, v in schema.items() if k in _KEEP}
    for key in ("anyOf", "oneOf"):
        if key in schema:
            _any_of(schema[key], defs, f"{where}/{key}", seen, out)
    if "allOf" in schema:
        parts = schema["allOf"]
        if not isinstance(parts, list) or len(parts) != 1:
            raise UnsupportedFeatureError(f"Gemini schemas cannot express allOf (at {where})")
        out.update(_convert(parts[0], defs, f"{where}/allOf/0", seen))
    _type(schema, out, where)
    _enum(schema, out)
    if "properties" in schema:
        out["properties"] = {
            name: _convert(sub, defs, f"{where}/properties/{name}", seen)
            for name, sub in schema["properties"].items()
        }
    if "required" in schema:
        out["required"] = list(schema["required"])
    if "items" in schema:
        out["items"] = _convert(schema["items"], defs, f"{where}/items", seen)
    unknown = (
        set(schema)
        - _KEEP
        - _DROP
        - {"anyOf", "oneOf", "allOf", "type", "enum", "const", "properties", "required", "items"}
    )
    if unknown:
        raise UnsupportedFeatureError(f"Gemini schemas do not know {sorted(unknown)} (at {where})")
    return out


def _any_of(
    options: Any, defs: Mapping[str, Any], where: str, seen: tuple[str, ...], out: dict[str, Any]
) -> None:
    if not isinstance(options, list):
        raise UnsupportedFeatureError(f"anyOf at {where} is not a list")
    real = [o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")]
    if len(real) < len(options):
        out["nullable"] = True
    if len(real) == 1:
        out.update(_convert(real[0], defs, f"{where}/0", seen))
    elif real:
        out["anyOf"] = [_convert(o, defs, f"{where}/{i}", seen) for i, o in enumerate(real)]


def _type(schema: Mapping[str, Any], out: dict[str, Any], where: str) -> None:
    kind = schema.get("type")
    if kind is None:
        if "properties" in schema:
            out["type"] = "OBJECT"
        return
    kinds = [kind] if isinstance(kind, str) else list(kind)
    if "null" in kinds:
        out["nullable"] = True
        kinds = [k for k in kinds if k != "null"]
    for k in kinds:
        if k not in _TYPES:
            raise UnsupportedFeatureError(f"unknown JSON schema type {k!r} at {where}")
    if len(kinds) == 1:
        out["type"] = kinds[0].upper()
    elif kinds:
        out["anyOf"] = [{"type": k.upper()} for k in kinds]


def _enum(schema: Mapping[str, Any], out: dict[str, Any]) -> None:
    values = schema.get("enum")
    if "const" in schema:
        values = [schema["const"]]
    if values is None:
        return
    if all(isinstance(v, str) for v in values):
        out["enum"] = list(values)
        out.setdefault("type", "STRING")
    else:
        # Gemini enums are strings only: keep the type and tell the model the choices.
        choices = ", ".join(repr(v) for v in values)
        out["description"] = f"{out.get('description', '')} (one of: {choices})".strip()
