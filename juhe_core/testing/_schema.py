"""A small JSON-schema instance generator fed with values found in the request text.

Used by the built-in model for tool-call arguments and structured output. It covers what
pydantic v2 and LangChain emit: ``$defs``/``definitions`` with ``$ref``, ``anyOf``/``oneOf``
(the first non-null branch), ``allOf``, ``enum``, ``const``, objects with ``required`` and
``additionalProperties: false``, arrays with ``items``/``prefixItems``/``minItems``/
``maxItems``/``uniqueItems``, integer vs number with bounds, booleans and null. String
``format``s get a plain example of that format; ``pattern`` is not honoured.

Values come from the text in order of appearance, starting over when used up: numbers for
numeric fields, quoted strings then capitalised names for string fields, enum members
mentioned in the text (else the first member), and yes/no words for booleans. Required fields
always get a valid value; optional ones only when the text mentions the field's name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeGuard

from ._text import STOPWORDS, summary, words

__all__ = ["Values", "instance"]

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w])")
_QUOTED = re.compile(
    r"(?<!\w)'([^'\n]{1,200})'(?!\w)|\"([^\"\n]{1,200})\"|[“「『]([^”」』\n]{1,200})[”」』]"
)
_CAPITALISED = re.compile(r"\b[A-Z][\w'.-]*(?:\s+[A-Z][\w'.-]*)*(?:,\s*[A-Z]{2}\b)?")
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n\s*)$")
# Capitalised only because they start a sentence: not names.
_COMMON_TEXT = """tell create make give show find list generate write explain describe hello hi
hey yes no ok okay thanks thank here there it this that these those is are am was be can could
would should will do does did what which who whom whose how when where why if let please return
answer say use using call get set add put send run she he her his him"""
_COMMON_WORDS = STOPWORDS | frozenset(_COMMON_TEXT.split())
_MAX_DEPTH = 12
_HARD_DEPTH = 48
_FORMATS = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
}


class Values:
    """Values found in a text, handed out in order of appearance."""

    def __init__(self, text: str) -> None:
        """Scan ``text`` for numbers, quoted strings, capitalised names and words."""
        self.text = text
        self.words = set(words(text))
        self._numbers = [float(m) for m in _NUMBER.findall(text)]
        self._strings = _string_candidates(text)
        self._next_number = 0
        self._next_string = 0
        self._summary = summary(text, 80) or "value"

    def number(self) -> float | None:
        """The next number; after the last one, they are handed out again from the first."""
        if not self._numbers:
            return None
        value = self._numbers[self._next_number % len(self._numbers)]
        self._next_number += 1
        return value

    def has_number(self, value: float) -> bool:
        """Whether ``value`` occurs in the text as a number."""
        return value in self._numbers

    def string(self, field: str | None) -> str:
        """The next quoted string or name (cycling), else a phrase built from the text."""
        if self._strings:
            value = self._strings[self._next_string % len(self._strings)]
            self._next_string += 1
            return value
        if field:
            return f"{field.replace('_', ' ')}: {self._summary}"
        return self._summary

    def mentions(self, name: str) -> bool:
        """Whether every word of ``name`` (split on ``_``/camelCase) occurs in the text."""
        name_words = words(name)
        return bool(name_words) and all(w in self.words for w in name_words)

    def boolean(self) -> bool | None:
        """``True``/``False`` when the text says so, else ``None``."""
        lowered = set(self.text.lower().split())
        if lowered & {"false", "no", "off", "disable", "disabled"}:
            return False
        if lowered & {"true", "yes", "on", "enable", "enabled"}:
            return True
        return None


def _string_candidates(text: str) -> list[str]:
    """Quoted strings, then capitalised names, each in order of appearance."""
    quoted = [
        (m.span(), next(g for g in m.groups() if g is not None)) for m in _QUOTED.finditer(text)
    ]
    names: list[str] = []
    for m in _CAPITALISED.finditer(text):
        if any(a <= m.start() < b for (a, b), _ in quoted):
            continue
        phrase = m.group().rstrip(".")
        single = " " not in phrase and "," not in phrase
        at_start = _SENTENCE_START.search(text[: m.start()]) is not None
        if single and (phrase == "I" or (at_start and phrase.lower() in _COMMON_WORDS)):
            continue
        names.append(phrase)
    return [s for _, s in quoted] + names


def instance(schema: Any, values: Values) -> Any:
    """A JSON value valid for ``schema``, using ``values`` where the schema allows."""
    return _Generator(schema, values).generate(schema, None, 0)


class _Generator:
    def __init__(self, root: Any, values: Values) -> None:
        self.root = root
        self.values = values

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        seen = 0
        while "$ref" in schema and seen < 32:
            target = self._lookup(str(schema["$ref"]))
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **rest}
            seen += 1
        return schema

    def _lookup(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#"):
            return {}
        node: Any = self.root
        for part in ref.lstrip("#").strip("/").split("/"):
            if not part:
                continue
            part = part.replace("~1", "/").replace("~0", "~")
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
        return node if isinstance(node, Mapping) else {}

    def generate(self, schema: Any, field: str | None, depth: int) -> Any:
        if depth > _HARD_DEPTH:  # a schema that refers to itself without end
            return None
        if schema is True or not isinstance(schema, Mapping):
            return self.values.string(field)
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self._enum(schema["enum"])
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                return self.generate(self._pick_branch(schema, key, branches), field, depth + 1)
        if isinstance(schema.get("allOf"), list):
            return self.generate(self._merge_all_of(schema), field, depth + 1)
        kind = _type_of(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, field, depth)
        if kind in ("integer", "number"):
            return self._number(schema, integer=kind == "integer")
        if kind == "boolean":
            found = self.values.boolean()
            default = schema.get("default")
            return found if found is not None else default if isinstance(default, bool) else True
        if kind == "null":
            return None
        return self._string(schema, field)

    def _pick_branch(self, schema: Mapping[str, Any], key: str, branches: list[Any]) -> Any:
        non_null = [
            b for b in branches if not _is_null(self.resolve(b) if isinstance(b, Mapping) else b)
        ]
        branch = (non_null or branches)[0]
        siblings = {k: v for k, v in schema.items() if k not in (key, "default", "title")}
        if isinstance(branch, Mapping) and siblings:
            return {**siblings, **branch}
        return branch

    def _merge_all_of(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = self.resolve(part) if isinstance(part, Mapping) else {}
            for key, value in part.items():
                old = merged.get(key)
                if key == "properties" and isinstance(old, Mapping) and isinstance(value, Mapping):
                    merged["properties"] = {**old, **value}
                elif key == "required" and isinstance(old, list) and isinstance(value, list):
                    merged["required"] = [*old, *value]
                else:
                    merged.setdefault(key, value)
        return merged

    def _enum(self, members: list[Any]) -> Any:
        for member in members:
            if isinstance(member, str) and member and self.values.mentions(member):
                return member
            if _is_number(member) and self.values.has_number(float(member)):
                return member
        return members[0]

    def _object(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        raw_required = schema.get("required")
        required = (
            [r for r in raw_required if isinstance(r, str)]
            if isinstance(raw_required, list)
            else []
        )
        out: dict[str, Any] = {}
        for name, sub in props.items():
            if depth >= _MAX_DEPTH:
                if name in required:
                    out[name] = self._minimal(sub, depth + 1)
            elif name in required or (depth < 4 and self.values.mentions(name)):
                out[name] = self.generate(sub, name, depth + 1)
        for name in required:
            if name not in out:
                out[name] = self.values.string(name)
        return out

    def _minimal(self, schema: Any, depth: int) -> Any:
        """A value for a required field below the depth limit (recursive schemas)."""
        schema = self.resolve(schema) if isinstance(schema, Mapping) else {}
        kind = _type_of(schema)
        if kind == "array" and not schema.get("minItems"):
            return []
        branches = schema.get("anyOf")
        if kind == "null" or (isinstance(branches, list) and any(map(_is_null, branches))):
            return None
        return self.generate(schema, None, depth)

    def _array(self, schema: Mapping[str, Any], field: str | None, depth: int) -> list[Any]:
        low = _count(schema.get("minItems")) or 0
        high = _count(schema.get("maxItems"))
        wanted = low if depth >= _MAX_DEPTH else max(low, 1)
        count = wanted if high is None else min(wanted, high)
        prefix = schema.get("prefixItems")
        items = schema.get("items", {})
        out: list[Any] = []
        for i in range(count):
            sub = prefix[i] if isinstance(prefix, list) and i < len(prefix) else items
            value = self.generate(sub, field, depth + 1)
            if schema.get("uniqueItems") and value in out:
                value = _vary(value, i)
            out.append(value)
        return out

    def _number(self, schema: Mapping[str, Any], *, integer: bool) -> int | float:
        found = self.values.number()
        default = schema.get("default")
        if found is None and _is_number(default):
            found = float(default)
        value = _clamp(schema, 1.0 if found is None else found, integer=integer)
        return int(value) if integer else value

    def _string(self, schema: Mapping[str, Any], field: str | None) -> str:
        fmt = schema.get("format")
        value = _FORMATS.get(fmt) if isinstance(fmt, str) else None
        value = value if value is not None else self.values.string(field)
        max_len = schema.get("maxLength")
        if isinstance(max_len, int):
            value = value[:max_len]
        min_len = schema.get("minLength")
        if isinstance(min_len, int) and len(value) < min_len:
            value = value + "x" * (min_len - len(value))
        return value


def _type_of(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        non_null = [k for k in kind if k != "null"]
        return str(non_null[0]) if non_null else "null"
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return "string"


def _count(value: Any) -> int | None:
    """A non-negative integer keyword (``minItems``…), or ``None`` when it is not one."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_null(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("type") == "null"


def _clamp(schema: Mapping[str, Any], value: float, *, integer: bool) -> float:
    step = 1.0 if integer else 1e-6
    if integer:
        value = float(round(value))
    low, high = schema.get("minimum"), schema.get("maximum")
    ex_low, ex_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(low, (int, float)) and value < low:
        value = float(low)
    if _is_number(ex_low) and value <= ex_low:
        value = float(ex_low) + step
    if isinstance(high, (int, float)) and value > high:
        value = float(high)
    if _is_number(ex_high) and value >= ex_high:
        value = float(ex_high) - step
    if integer and (isinstance(low, float) or isinstance(ex_low, float)):
        value = float(int(value) + (1 if value > int(value) else 0))
    return value


def _vary(value: Any, index: int) -> Any:
    if isinstance(value, str):
        return f"{value} {index + 1}"
    if _is_number(value):
        return value + index
    return value
