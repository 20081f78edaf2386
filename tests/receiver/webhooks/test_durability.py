"""The outbox survives a crash; two replicas on one PostgreSQL never repeat an attempt."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from receiver.app import create_app
from receiver.serving.server import running_server
from storage import outbox
from storage.deliveries import attempts
from storage.engine import make_engine, write_transaction
from storage.outbox import DELIVERED
from storage.webhooks import count_messages
from tests.conftest import READ_KEY, WRITE_KEY, settings_for
from tests.processes import served
from tests.receiver.webhooks.conftest import (
    FAST,
    Receiver,
    end_launch,
    running_launch,
    subscribe,
    wait_until,
)

WRITE = {"Authorization": f"Bearer {WRITE_KEY}"}


async def test_a_message_written_before_a_kill_9_is_delivered_after_the_restart(
    database_url: str, receiver: Receiver
) -> None:
    # Delivery off in the first process: it dies with the message written, never sent.
    async with served(database_url, **FAST, FLOWTRACK_WEBHOOKS_DELIVERY="0") as (process, base):
        async with httpx.AsyncClient(base_url=base, headers=WRITE, timeout=10) as api:
            await subscribe(api, receiver.url("/after-crash"), "launch.completed")
        await asyncio.to_thread(running_launch, database_url, "l-crash")
        await end_launch(base, "l-crash")
        engine = make_engine(database_url)
        try:
            await wait_until(lambda: asyncio.to_thread(count_messages, engine, state="pending"))
        finally:
            engine.dispose()
        process.send_signal(signal.SIGKILL)
        await process.wait()
    assert receiver.received == []

    async with running_server(create_app(settings_for(database_url, **FAST))):
        (got,) = await receiver.wait_for(lambda seen: len(seen) == 1)

    assert got.json["type"] == "launch.completed"
    assert got.json["data"]["launchId"] == "l-crash"
    assert got.headers["webhook-id"].startswith("msg_")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_replicas_deliver_each_of_500_messages_exactly_once_per_attempt(
    database_url: str, receiver: Receiver
) -> None:
    settings = settings_for(database_url, **FAST)
    async with AsyncExitStack() as replicas:
        first = await replicas.enter_async_context(running_server(create_app(settings)))
        second = await replicas.enter_async_context(running_server(create_app(settings)))
        async with httpx.AsyncClient(base_url=first.base_url, headers=WRITE, timeout=10) as api:
            await subscribe(api, receiver.url("/many"), "flow.error")
        engine = make_engine(database_url)
        try:
            await asyncio.to_thread(_write_messages, engine, 500)
            await receiver.wait_for(lambda seen: len(seen) >= 500, within=60)

            async def all_delivered() -> bool:
                done = await asyncio.to_thread(count_messages, engine, state=DELIVERED)
                return done == 500

            await wait_until(all_delivered, within=30)
            shares = [await _delivered_by(replica.base_url) for replica in (first, second)]
            with engine.connect() as connection:
                logged = connection.execute(select(func.count()).select_from(attempts)).scalar()
        finally:
            engine.dispose()
    sent = Counter(each.headers["webhook-id"] for each in receiver.received)
    assert len(sent) == 500
    assert set(sent.values()) == {1}
    assert logged == 500
    assert sum(shares) == 500 and min(shares) > 0, shares  # both replicas took part


async def _delivered_by(base_url: str) -> int:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        text = (await http.get("/metrics", headers={"Authorization": f"Bearer {READ_KEY}"})).text
    line = 'flowtrack_webhook_deliveries_total{result="delivered"} '
    (value,) = [each.removeprefix(line) for each in text.splitlines() if each.startswith(line)]
    return int(float(value))


def _write_messages(engine: object, count: int) -> None:
    now = datetime.now(UTC)
    facts = orjson.dumps(
        {
            "source": "data_action",
            "occurred_at": now.isoformat(),
            **dict.fromkeys(outbox.ERROR_FACTS[2:]),
        }
    )
    with write_transaction(engine) as connection:  # type: ignore[arg-type]
        for _ in range(count):
            outbox.enqueue(
                connection, outbox.FLOW_ERROR, facts, flow_id=None, subject=None, now=now
            )
