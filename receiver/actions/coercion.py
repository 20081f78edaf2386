"""Opt-in coercion of a run's input to the types its contract asks for.

Strings become integers, numbers or booleans where the schema wants them; numbers and
booleans become strings; a single value becomes a one-element array. Each change is
listed (field, from, to, the value as given) so the run says what was done: nothing is
converted silently, and a value that cannot be converted is left for validation to
report.
"""

from __future__ import annotations

import math
import re
from typing import Any

Coercion = dict[str, Any]

_INTEGER = re.compile(r"[+-]?\d+")
_BOOLEANS = {"true": True, "false": False}


def coerce(schema: dict[str, Any], value: Any) -> tuple[Any, list[Coercion]]:
    """``value`` converted where ``schema`` asks for another type, and the changes made."""
    applied: list[Coercion] = []
    return _coerce(schema, value, [], applied), applied


def _coerce(schema: Any, value: Any, path: list[str], applied: list[Coercion]) -> Any:
    if not isinstance(schema, dict):
        return value
    wanted = _types(schema)
    if (
        wanted
        and _json_type(value) not in wanted
        and not ("number" in wanted and _json_type(value) == "integer")
    ):
        for target in wanted:
            converted = _convert(value, target)
            if converted is not _FAILED:
                applied.append(
                    {
                        "field": "/".join(path),
                        "from": _json_type(value),
                        "to": target,
                        "value": value,
                    }
                )
                value = converted
                break
    if isinstance(value, dict):
        properties = schema.get("properties")
        if isinstance(properties, dict):
            return {
                key: _coerce(properties.get(key), item, [*path, key], applied)
                for key, item in value.items()
            }
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [
            _coerce(schema["items"], item, [*path, str(index)], applied)
            for index, item in enumerate(value)
        ]
    return value


_FAILED = object()


def _convert(value: Any, target: str) -> Any:
    if target == "array":
        return [value]
    if isinstance(value, str):
        text = value.strip()
        if target == "integer" and _INTEGER.fullmatch(text):
            return int(text)
        if target == "number":
            if _INTEGER.fullmatch(text):
                return int(text)
            try:
                number = float(text)
            except ValueError:
                return _FAILED
            return number if math.isfinite(number) else _FAILED
        if target == "boolean" and text.lower() in _BOOLEANS:
            return _BOOLEANS[text.lower()]
        return _FAILED
    if target == "string" and isinstance(value, bool):
        return "true" if value else "false"
    if target == "string" and isinstance(value, int | float):
        return str(value)
    return _FAILED


def _types(schema: dict[str, Any]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [kind for kind in declared if isinstance(kind, str)]
    return []


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
