"""Query-string parsing for list endpoints: opaque cursors, limits, filters.

A cursor carries a digest of the filters (and path) of the request that made it: used
with other filters it would silently skip or repeat items, so it is refused instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar, get_args

import orjson
from pydantic import BaseModel
from starlette.datastructures import QueryParams

from receiver.errors import BadRequest
from receiver.fields import parse_timestamp

T = TypeVar("T")
R = TypeVar("R")
if TYPE_CHECKING:  # typeshed's name for any dataclass instance
    from _typeshed import DataclassInstance

M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound="DataclassInstance")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class InvalidQuery(BadRequest):
    """A query parameter is malformed; ``detail`` lists each one."""

    code = "invalid_query"


class Query(Generic[M]):
    """Reads query parameters, collecting every problem before failing once.

    The parameters an endpoint takes are declared once, as a wire model of its query
    (:meth:`of`); the same model gives the OpenAPI parameters
    (``receiver.web.operations.query_params``). ``cursor`` is read by the endpoint,
    which knows what its positions hold.
    """

    values: M

    @classmethod
    def of(cls, params: QueryParams, model: type[M], scope: str = "") -> Query[M]:
        """Read ``params`` as ``model`` says; problems wait for :meth:`check`.

        ``scope`` (e.g. the path of a launch's history) is bound into cursors with the
        filters, so a cursor of one launch is refused for another.
        """
        fields = model.model_fields
        allowed = tuple(info.alias or name for name, info in fields.items())
        query: Query[M] = cls(params, allowed, scope)
        values: dict[str, Any] = {}
        for name, info in fields.items():
            alias = info.alias or name
            if alias == "limit":
                values[name] = query.limit()
            elif alias == "cursor":
                values[name] = params.get("cursor") or None
            elif datetime in get_args(info.annotation):
                values[name] = query.timestamp(alias)
            else:
                extra = info.json_schema_extra
                choices = extra.get("enum") if isinstance(extra, dict) else None
                listed = choices if isinstance(choices, list) else []
                allowed = tuple(c for c in listed if isinstance(c, str))
                values[name] = query.text(alias, allowed)
        since, until = values.get("since"), values.get("until")
        if isinstance(since, datetime) and isinstance(until, datetime) and until <= since:
            query.problems.append({"field": "until", "problem": "must be later than since"})
        query.values = model.model_construct(**values)
        return query

    def __init__(self, params: QueryParams, allowed: tuple[str, ...], scope: str = "") -> None:
        self.params = params
        self.scope = scope
        self.problems: list[dict[str, str]] = []
        for name in params:
            if name not in allowed:
                self.problems.append(
                    {"field": name, "problem": f"unknown parameter; allowed: {', '.join(allowed)}"}
                )
            elif len(params.getlist(name)) > 1:
                # Which one would win is a guess the client should not have to make.
                self.problems.append({"field": name, "problem": "given more than once"})
            elif any("\x00" in value for value in params.getlist(name)):
                # PostgreSQL cannot even compare a string holding NUL.
                self.problems.append({"field": name, "problem": "must not contain NUL characters"})

    def text(self, name: str, choices: tuple[str, ...] = ()) -> str | None:
        value = self.params.get(name)
        if value is None or value == "":
            return None
        if choices and value not in choices:
            self.problems.append(
                {"field": name, "problem": f"expected one of {', '.join(choices)}"}
            )
            return None
        return value

    def timestamp(self, name: str) -> datetime | None:
        value = self.params.get(name)
        if not value:
            return None
        parsed = parse_timestamp(value)
        if parsed is None:
            self.problems.append(
                {
                    "field": name,
                    "problem": "expected an ISO-8601 timestamp, e.g. 2026-03-02T10:15:00Z",
                }
            )
        return parsed

    def limit(self) -> int:
        value = self.params.get("limit")
        if not value:
            return DEFAULT_LIMIT
        # isdigit() alone takes "²", which int() refuses.
        if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_LIMIT:
            self.problems.append({"field": "limit", "problem": f"expected 1 to {MAX_LIMIT}"})
            return DEFAULT_LIMIT
        return int(value)

    @property
    def digest(self) -> str:
        """What the request filters on (every parameter but the page's), hashed."""
        filters = sorted(
            (name, value)
            for name, value in self.params.multi_items()
            if name not in ("cursor", "limit") and value
        )
        return _digest(self.scope, filters)

    def cursor(self) -> Any:
        """The position the ``cursor`` parameter holds (None: the first page)."""
        value = self.params.get("cursor")
        if not value:
            return None
        try:
            decoded = orjson.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        except (binascii.Error, ValueError):
            decoded = None
        if not (isinstance(decoded, dict) and decoded.keys() == {"f", "at"}):
            self.reject_cursor()
            return None
        if decoded["f"] != self.digest:
            self.problems.append(
                {
                    "field": "cursor",
                    "problem": "made for other filters: page with the filters it came with, "
                    "or start again without a cursor",
                }
            )
            return None
        return decoded["at"]

    def encode(self, position: Any) -> str:
        """A cursor for ``position``, bound to this request's filters."""
        return encode_cursor(position, self.digest)

    def reject_cursor(self) -> None:
        """Record that the cursor is not one this API issued."""
        self.problems.append({"field": "cursor", "problem": "not a cursor this API issued"})

    def scalar_cursor(self, kind: type[T]) -> T | None:
        """A cursor that is one value of ``kind`` (an id), else a recorded problem."""
        cursor = self.cursor()
        if cursor is None:
            return None
        if isinstance(cursor, kind) and not isinstance(cursor, bool):
            return cursor
        self.reject_cursor()
        return None

    def position_cursor(self, kind: type[T]) -> tuple[datetime, T] | None:
        """A ``[timestamp, key]`` cursor (a position in time order), else a recorded problem."""
        cursor = self.cursor()
        if cursor is None:
            return None
        if isinstance(cursor, list) and len(cursor) == 2 and isinstance(cursor[0], str):
            at = parse_timestamp(cursor[0])
            if at is not None and isinstance(cursor[1], kind) and not isinstance(cursor[1], bool):
                return (at, cursor[1])
        self.reject_cursor()
        return None

    def filter(self, kind: type[F]) -> F:
        """The storage filter ``kind`` (a dataclass), from the same-named query fields.

        The query model declares each filter once; storage's filter takes them by name.
        """
        values = self.values
        return kind(**{field.name: getattr(values, field.name) for field in fields(kind)})

    def check(self) -> None:
        if self.problems:
            first = self.problems[0]
            raise InvalidQuery(f"{first['field']}: {first['problem']}", detail=self.problems)


def page(
    rows: Sequence[R],
    limit: int,
    render: Callable[[R], Any],
    position: Callable[[R], Any],
    query: Query[Any],
) -> dict[str, Any]:
    """A list answer from ``limit + 1`` fetched rows: the items, and the next page's cursor
    (bound to ``query``'s filters)."""
    cursor = query.encode(position(rows[limit - 1])) if len(rows) > limit else None
    return {"items": [render(row) for row in rows[:limit]], "nextCursor": cursor}


def encode_cursor(value: Any, digest: str) -> str:
    """An opaque, URL-safe cursor for ``value``, made under the filters ``digest`` names."""
    return base64.urlsafe_b64encode(orjson.dumps({"f": digest, "at": value})).decode().rstrip("=")


def _digest(scope: str, filters: list[tuple[str, str]]) -> str:
    return hashlib.blake2b(orjson.dumps([scope, filters]), digest_size=6).hexdigest()
