"""Column types shared by the tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# SQLite only makes an INTEGER PRIMARY KEY an alias of the rowid (cheap, monotonic);
# BIGINT would create a second, slower key.
BigIntegerKey = BigInteger().with_variant(Integer(), "sqlite")

SQLITE_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def sqlite_datetime(value: datetime) -> str:
    """Render an aware datetime the way :class:`UTCDateTime` stores it on SQLite.

    The bulk writer bypasses SQLAlchemy's type processing, so it must produce the very
    same text (naive UTC, fixed microseconds) to keep ordering and parsing consistent.
    """
    return value.astimezone(UTC).strftime(SQLITE_DATETIME_FORMAT)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always UTC and always timezone-aware in Python.

    PostgreSQL stores ``timestamptz``; SQLite stores naive UTC text with fixed
    microseconds so that text order is time order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; attach a timezone")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
