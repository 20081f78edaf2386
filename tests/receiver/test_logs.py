import io
import logging
from collections.abc import Iterator

import orjson
import pytest

from receiver.logs import REQUEST_ID, configure_logging


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Logging configured as ``flowtrack serve`` does, into a buffer; restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("INFO", "json")
    buffer = io.StringIO()
    root.handlers[0].setStream(buffer)  # type: ignore[attr-defined]
    yield buffer
    root.handlers[:] = handlers
    root.setLevel(level)


def entries(buffer: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in buffer.getvalue().splitlines()]


def test_uvicorn_lines_get_actions_and_no_colour_codes(json_lines: io.StringIO) -> None:
    server = logging.getLogger("uvicorn.error")
    server.info(
        "Started server process [%d]",
        42,
        extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"},
    )
    server.info("Uvicorn running on %s://%s:%d (Press CTRL+C to quit)", "http", "0.0.0.0", 8000)
    server.info("Something new")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "1.2.3.4", "GET", "/", "1.1", 200
    )
    found = entries(json_lines)
    assert [e["action"] for e in found] == [
        "server.process_started",
        "app.started",
        "server.log",
        "http.access",
    ]
    assert "\x1b" not in json_lines.getvalue()
    assert all("color_message" not in e for e in found)


def test_alembic_says_nothing_when_a_revision_is_read(json_lines: io.StringIO) -> None:
    migration = logging.getLogger("alembic.runtime.migration")
    migration.info("Context impl SQLiteImpl.")
    migration.info("Will assume non-transactional DDL.")
    migration.info("Running upgrade 0006 -> 0007, audit")
    [line] = entries(json_lines)
    assert (line["action"], line["message"]) == (
        "storage.migration",
        "Running upgrade 0006 -> 0007, audit",
    )


def test_a_line_logged_while_serving_a_request_names_it(json_lines: io.StringIO) -> None:
    log = logging.getLogger("flowtrack.test")
    token = REQUEST_ID.set("req-7")
    try:
        log.info("inside", extra={"action": "test.inside"})
    finally:
        REQUEST_ID.reset(token)
    log.info("outside", extra={"action": "test.outside"})
    inside, outside = entries(json_lines)
    assert inside["request_id"] == "req-7"
    assert "request_id" not in outside


def test_configuring_twice_installs_each_filter_once(json_lines: io.StringIO) -> None:
    configure_logging("INFO", "json")
    assert len(logging.getLogger("uvicorn.error").filters) == 1
    assert len(logging.getLogger("alembic.runtime.migration").filters) == 1
