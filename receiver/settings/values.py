"""The kinds of value a setting takes: each a parser from the raw environment string.

A parser returns the value or raises ValueError saying what is expected. The message of
one that reads a secret (tokens, webhook secrets, the database URL's password) never
quotes it: these messages end up in logs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import URL

from storage.engine import database_url as storage_database_url
from storage.errors import InvalidDatabaseURL


@dataclass(frozen=True)
class WebhookSecret:
    """A Standard Webhooks signing secret (``whsec_<base64>``), decoded."""

    key: bytes = field(repr=False)


def text(raw: str) -> str:
    return raw.strip()


def flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(f"expected 1/0, true/false, yes/no or on/off, got {raw!r}")


def positive_int(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError(f"expected a whole number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"expected a number above 0, got {value}")
    return value


def optional_positive_int(raw: str) -> int | None:
    return positive_int(raw) if raw.strip() else None


def positive_float(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError(f"expected a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"expected a number above 0, got {raw!r}")
    return value


def choice(*allowed: str, upper: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().upper() if upper else raw.strip().lower()
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {raw!r}")
        return value

    return parse


def synchronous(raw: str) -> Literal["full", "normal"]:
    value = choice("full", "normal")(raw)
    return "full" if value == "full" else "normal"


def checkpoints(raw: str) -> Literal["commit", "background"]:
    value = choice("commit", "background")(raw)
    return "commit" if value == "commit" else "background"


def log_format(raw: str) -> Literal["json", "text"]:
    value = choice("json", "text")(raw)
    return "json" if value == "json" else "text"


def identifier(raw: str) -> str:
    value = raw.strip()
    if not value or len(value) > 100 or any(c.isspace() for c in value):
        raise ValueError(f"expected a name without spaces (1-100 characters), got {raw!r}")
    return value


def optional_url(raw: str) -> str | None:
    value = raw.strip().rstrip("/")
    if not value:
        return None
    if not value.startswith(("https://", "http://")):
        raise ValueError(f"expected an http(s) URL, got {raw!r}")
    return value


def database_url(raw: str) -> URL:
    try:
        url = storage_database_url(raw)
    except InvalidDatabaseURL as exc:
        # storage quotes a URL it cannot parse: its password must not reach the logs.
        hidden = _without_password(raw)
        raise ValueError(str(exc).replace(repr(raw), repr(hidden)).replace(raw, hidden)) from exc
    path = url.database if url.get_backend_name() == "sqlite" else None
    if path and path != ":memory:" and not path.startswith("file:"):
        # SQLite would fail at the first connection with "unable to open database file",
        # which names neither the file nor the folder.
        folder = Path(path).resolve().parent
        if not folder.is_dir():
            raise ValueError(f"the folder of the SQLite file, {folder}, does not exist")
    return url


def _without_password(url: str) -> str:
    """``url`` with what stands between its user name and its (last) ``@`` starred out."""
    userinfo, at, host = url.rpartition("@")
    scheme, slashes, credentials = userinfo.rpartition("//")
    user, colon, _ = credentials.partition(":")
    return f"{scheme}{slashes}{user}:***@{host}" if at and colon else url


def flow_timeouts(raw: str) -> dict[str, int]:
    timeouts: dict[str, int] = {}
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        flow_id, sep, seconds = part.partition("=")
        if not sep or not flow_id.strip():
            raise ValueError(f"expected flowId=seconds pairs separated by commas, got {part!r}")
        timeouts[flow_id.strip()] = positive_int(seconds)
    return timeouts


def tokens(raw: str) -> tuple[str, ...]:
    tokens = tuple(part.strip() for part in raw.split(",") if part.strip())
    for token in tokens:
        if len(token) < 16:
            # Never echo the token itself: this message ends up in logs.
            raise ValueError("every token must be at least 16 characters long")
    return tokens


@dataclass(frozen=True)
class ApiKey:
    """An API key and the name the audit records for whoever uses it."""

    name: str
    key: str = field(repr=False)


def key_fingerprint(key: str) -> str:
    """The name of a key given without one: ``key-`` and 8 hex digits of its SHA-256."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:8]


# A name before the first ":" makes a named key; any other text is a bare key.
_KEY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def api_keys(raw: str) -> tuple[ApiKey, ...]:
    """``name:KEY`` or bare ``KEY`` entries, comma-separated (a bare key is named by its
    fingerprint); names are unique."""
    keys = []
    for position, part in enumerate((p.strip() for p in raw.split(",") if p.strip()), 1):
        name, colon, key = part.partition(":")
        if not (colon and _KEY_NAME.fullmatch(name)):
            name, key = key_fingerprint(part), part
        if len(key.strip()) < 16:
            # Never echo the key itself: this message ends up in logs.
            raise ValueError(f"key #{position} must be at least 16 characters long")
        keys.append(ApiKey(name, key.strip()))
    names = [key.name for key in keys]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"the name {name!r} is given to more than one key")
    return tuple(keys)


def webhook_secrets(raw: str) -> tuple[WebhookSecret, ...]:
    secrets = []
    for position, part in enumerate((p.strip() for p in raw.split(",") if p.strip()), 1):
        if not part.startswith("whsec_"):
            raise ValueError(f"secret #{position} must have the form whsec_<base64>")
        try:
            key = base64.b64decode(part.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"secret #{position} is not valid base64 after whsec_") from None
        if len(key) < 16:
            raise ValueError(f"secret #{position} is shorter than 16 bytes")
        secrets.append(WebhookSecret(key))
    return tuple(secrets)
