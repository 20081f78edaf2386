"""How the operator CLI prints: aligned tables and key/value blocks for people, JSON
(``--json``) for programs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

import orjson

#: A column: its heading and how to read its cell from an item of the API's JSON.
Column = tuple[str, Callable[[Mapping[str, Any]], Any]]

MAX_CELL = 60


def field(name: str) -> Callable[[Mapping[str, Any]], Any]:
    """A cell read from one top-level field."""
    return lambda item: item.get(name)


def moment(name: str) -> Callable[[Mapping[str, Any]], Any]:
    """A timestamp cell, shortened to the second: ``2026-03-02 10:15:00``."""
    return lambda item: when(item.get(name))


def when(value: Any) -> str | None:
    """An API timestamp as a person reads it (UTC, to the second)."""
    if not isinstance(value, str):
        return None
    return value[:19].replace("T", " ")


def cell(value: Any) -> str:
    """A value as one table cell: ``-`` for nothing, long text cut with an ellipsis."""
    if value is None or value == "":
        return "-"
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def table(items: Sequence[Mapping[str, Any]], columns: Sequence[Column], out: TextIO) -> None:
    """``items`` as aligned columns under their headings."""
    rows = [[heading for heading, _ in columns]]
    rows += [[cell(read(item)) for _, read in columns] for item in items]
    widths = [max(len(row[index]) for row in rows) for index in range(len(columns))]
    for row in rows:
        line = "  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True))
        out.write(line.rstrip() + "\n")


def stream_row(values: Sequence[Any], widths: Sequence[int], out: TextIO) -> None:
    """One row of a table printed as it grows (``events tail``): fixed column widths."""
    cells = [cell(value) for value in values]
    line = "  ".join(text.ljust(width) for text, width in zip(cells, widths, strict=True))
    out.write(line.rstrip() + "\n")


def pairs(values: Sequence[tuple[str, Any]], out: TextIO) -> None:
    """``name: value`` lines, the names aligned."""
    width = max((len(name) for name, _ in values), default=0)
    for name, value in values:
        out.write(f"{name + ':':<{width + 1}} {cell(value)}\n")


def as_json(value: Any, out: TextIO, *, one_line: bool = False) -> None:
    """``value`` as JSON (indented, or on one line for a stream of items)."""
    option = 0 if one_line else orjson.OPT_INDENT_2
    out.write(orjson.dumps(value, option=option).decode() + "\n")
