"""The console's reads over HTTP: the overview's counts and overdue launches, the
launches page's id and name search, a launch's execution history state in its header."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine, update

from receiver.serving.server import RunningServer
from storage import history_pulls
from storage import launches as store
from storage.launches import launches
from tests.conftest import READ_KEY
from tests.receiver.console.conftest import sign_in
from tests.storage.test_launches import new_launch


def _launch(engine: Engine, **values: object) -> str:
    now = datetime.now(UTC)
    row, _ = store.insert_launch(
        engine, new_launch(id=str(uuid.uuid4()), name=values.pop("name", None), created_at=now)
    )
    if values:
        with engine.begin() as connection:
            connection.execute(update(launches).where(launches.c.id == row["id"]).values(**values))
    return str(row["id"])


@asynccontextmanager
async def _console(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        yield await sign_in(http, READ_KEY)


def _tile(html: str, state: str) -> int:
    found = re.search(rf'data-state="{state}">.*?<span class="count">(\d+)</span>', html)
    assert found, state
    return int(found.group(1))


async def test_the_overview_counts_every_launch_by_state_and_lists_the_overdue(
    server: RunningServer, engine: Engine
) -> None:
    now = datetime.now(UTC)
    for _ in range(3):
        _launch(engine, state="running", due_at=now + timedelta(hours=1))
    late = _launch(engine, name="late one", state="running", due_at=now - timedelta(minutes=9))
    _launch(engine, state="completed", due_at=None)
    stuck = _launch(engine, name="stuck one", state="termination_failed", due_at=None)
    async with _console(server) as http:
        html = (await http.get("/ui/")).text
    assert (_tile(html, "running"), _tile(html, "completed"), _tile(html, "pending")) == (4, 1, 0)
    assert _tile(html, "termination_failed") == 1
    assert "(6 in all)" in html
    attention = html.split('id="attention"')[1].split("</section>")[0]
    assert late in attention and stuck in attention
    assert attention.count("/ui/launches/") == 2


async def test_a_search_for_an_id_goes_to_what_it_names_and_text_lists_names_starting_with_it(
    server: RunningServer, engine: Engine
) -> None:
    one = _launch(engine, name="order 4711", conversation_id="conv-41", flow_execution_id="exec-41")
    _launch(engine, name="order 4712")
    _launch(engine, name="refund order")
    async with _console(server) as http:
        by_execution = await http.get("/ui/launches", params={"q": "exec-41"})
        by_conversation = await http.get("/ui/launches", params={"q": "conv-41"})
        by_id = await http.get("/ui/launches", params={"q": one})
        by_name = await http.get("/ui/launches", params={"q": "order"})
    assert by_execution.status_code == 303
    assert by_execution.headers["location"] == f"/ui/launches/{one}"
    assert by_conversation.headers["location"] == "/ui/conversations/conv-41"
    assert by_id.headers["location"] == f"/ui/launches/{one}"
    assert by_name.status_code == 200
    names = re.findall(r'data-launch="[^"]+">\s*<td><a [^>]+>([^<]+)</a>', by_name.text)
    assert names == ["order 4712", "order 4711"]


async def test_the_launch_page_shows_a_launch_past_retention_without_history(
    server: RunningServer, engine: Engine
) -> None:
    launch = _launch(engine, state="completed", due_at=None)
    async with _console(server) as http:
        before = (await http.get(f"/ui/launches/{launch}")).text
        history_pulls.mark(
            engine,
            launch,
            history_pulls.EXPIRED,
            datetime.now(UTC),
            detail="past the 10-day retention",
        )
        after = (await http.get(f"/ui/launches/{launch}")).text
    assert 'data-history="none"' in before and "not looked for" in before
    assert 'data-history="expired"' in after
    assert "past the 10-day retention" in after
