"""The exception base of the storage package.

Driver errors never leave this package raw: they are wrapped into these types at the
boundary, so callers can tell "the database is down, retry later" from a bug.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of every error raised by ``storage``."""


class StorageUnavailable(StorageError):
    """The database cannot be reached or refused the work for a transient reason."""


class DuplicateKey(StorageError):
    """A row with the same unique key is already stored."""


class SchemaNotReady(StorageError):
    """The database schema is missing or behind the newest migration."""


class InvalidDatabaseURL(StorageError):
    """``FLOWTRACK_DATABASE_URL`` is not a SQLite or PostgreSQL URL flowtrack understands."""


class LockTimeout(StorageError):
    """Another process held a database lock for longer than the caller would wait."""
