"""Structured logs: one JSON object per line, each with a stable ``action`` field."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

# Attributes every LogRecord has; anything else was passed through ``extra=``. uvicorn's
# ``color_message`` (its message with ANSI colours) is for its own formatter only.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}

#: The id of the request being served (``X-Request-Id``), set by ``receiver.app`` for
#: the request's task and every task it starts.
REQUEST_ID: ContextVar[str | None] = ContextVar("flowtrack_request_id", default=None)

# uvicorn's lines, by the start of their message, and the action each one gets.
_UVICORN_ACTIONS = (
    ("Started server process", "server.process_started"),
    ("Waiting for application startup", "server.lifespan_starting"),
    ("Application startup complete", "server.lifespan_started"),
    # Logged once the socket is bound: the moment flowtrack can be reached.
    ("Uvicorn running on", "app.started"),
    ("Shutting down", "server.stopping"),
    ("Waiting for connections to close", "server.draining"),
    ("Waiting for background tasks", "server.draining"),
    ("Waiting for application shutdown", "server.lifespan_stopping"),
    ("Application shutdown complete", "server.lifespan_stopped"),
    ("Finished server process", "server.process_finished"),
)
# What Alembic says each time a revision is read (every /readyz probe), not news.
_ALEMBIC_CHATTER = ("Context impl ", "Will assume ")


class RequestContext(logging.Filter):
    """Puts the current request's id on each record (as ``request_id``), when there is one.

    Installed on the handler :func:`configure_logging` sets up; never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = REQUEST_ID.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


class ServerLines(logging.Filter):
    """Gives uvicorn's lines an ``action`` (and the access log ``http.access``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "action"):
            return True
        if record.name == "uvicorn.access":
            record.action = "http.access"
            return True
        message = str(record.msg)
        for prefix, action in _UVICORN_ACTIONS:
            if message.startswith(prefix):
                record.action = action
                return True
        record.action = "server.error" if record.levelno >= logging.ERROR else "server.log"
        return True


class AlembicChatter(logging.Filter):
    """Drops Alembic's per-connection INFO lines; keeps "Running upgrade …" and problems,
    as ``storage.migration``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.INFO and str(record.msg).startswith(_ALEMBIC_CHATTER):
            return False
        if not hasattr(record, "action"):
            record.action = "storage.migration"
        return True


class JSONFormatter(logging.Formatter):
    """Render records as JSON lines: ts, level, logger, action, message, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "action": getattr(record, "action", record.name),
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, action first."""

    def format(self, record: logging.LogRecord) -> str:
        action = getattr(record, "action", record.name)
        extras = " ".join(
            f"{key}={value}"
            for key, value in record.__dict__.items()
            if key not in _STANDARD and key != "action"
        )
        line = f"{record.levelname.lower():7} {action:28} {record.getMessage()}"
        return f"{line} {extras}".rstrip()


def configure_logging(level: str, fmt: str) -> None:
    """Send every logger (flowtrack's, uvicorn's, apscheduler's) to stderr in ``fmt``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestContext())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Per-run chatter ("job executed", migration plugins) would drown the useful lines.
    for name in ("apscheduler", "alembic.runtime.plugins"):
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
    _install(logging.getLogger("alembic.runtime.migration"), AlembicChatter())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
        # The root's level decides, whatever an earlier uvicorn or logging config set
        # (a uvicorn Config given a log level, or fileConfig disabling existing loggers).
        logger.setLevel(logging.NOTSET)
        logger.disabled = False
        _install(logger, ServerLines())


def _install(logger: logging.Logger, kind: logging.Filter) -> None:
    """Add ``kind`` to ``logger`` once, however often logging is configured."""
    if not any(type(existing) is type(kind) for existing in logger.filters):
        logger.addFilter(kind)
