"""Reading typed fields out of a decoded JSON object, collecting every problem found.

Callers get all of a payload's problems at once (field path + what is wrong), so a
sender can fix a bad callback in one go.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# Timestamps outside this window are typos or unit mix-ups (seconds vs milliseconds).
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class FieldReader:
    """Typed access to one JSON object; problems accumulate in ``errors``."""

    __slots__ = ("errors", "obj", "path")

    def __init__(self, obj: dict[str, Any], path: str, errors: list[dict[str, str]]) -> None:
        self.obj = obj
        self.path = path
        self.errors = errors

    def problem(self, name: str, message: str) -> None:
        self.errors.append({"field": f"{self.path}{name}", "problem": message})

    def text(self, name: str, max_length: int, *aliases: str) -> str | None:
        """An optional string; empty strings count as absent, numbers are accepted."""
        value = self.obj.get(name)
        if value is None:
            for alias in aliases:
                value = self.obj.get(alias)
                if value is not None:
                    name = alias
                    break
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.problem(name, f"must be a string, got {_json_type(value)}")
            return None
        text = value if isinstance(value, str) else str(value)
        if "\x00" in text:
            # PostgreSQL cannot store it; refusing it here keeps both databases alike.
            self.problem(name, "must not contain NUL characters (\\u0000)")
            return None
        if len(text) > max_length:
            self.problem(name, f"is {len(text)} characters long; at most {max_length} allowed")
            return None
        return text

    def timestamp(self, name: str) -> datetime | None:
        """An optional ISO-8601 string (naive means UTC) or epoch milliseconds."""
        value = self.obj.get(name)
        if value is None or value == "":
            return None
        parsed = parse_timestamp(value)
        if parsed is None:
            self.problem(
                name,
                "must be an ISO-8601 timestamp such as 2026-03-02T10:15:00.120Z "
                "or epoch milliseconds between 2000 and 2100",
            )
        return parsed

    def obj_list(self, name: str) -> list[dict[str, Any]]:
        """An optional array of objects."""
        value = self.obj.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self.problem(name, "must be an array of objects")
            return []
        return value


def parse_timestamp(value: Any) -> datetime | None:
    """Parse ISO-8601 text or epoch milliseconds into an aware UTC datetime, or None."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            parsed = datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    else:
        return None
    if not _EARLIEST <= parsed < _LATEST:
        return None
    return parsed


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
