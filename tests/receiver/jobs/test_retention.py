import asyncio
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine

from receiver.app import create_app
from receiver.jobs.retention import Retention, RetentionPolicy
from receiver.serving.server import running_server
from receiver.settings import SettingsError
from storage.retention import RetentionStore, events
from tests.conftest import READ_KEY, settings_for
from tests.storage.test_retention import (
    NOW,
    OLD,
    RECENT,
    add_audit,
    add_dead_letter,
    add_events,
    add_launch,
    count,
)


def old_and_recent(engine: Engine) -> str:
    """Old events, launches and dead letters, recent ones, and a running launch's."""
    running = add_launch(engine, "running", OLD)
    add_events(engine, OLD, 5)
    add_events(engine, OLD, 2, launch_id=running)
    add_events(engine, RECENT, 3)
    add_launch(engine, "completed", OLD, ended_at=OLD)
    add_launch(engine, "failed", OLD, ended_at=OLD)
    add_launch(engine, "completed", RECENT)
    add_dead_letter(engine, OLD)
    add_dead_letter(engine, RECENT)
    add_audit(engine, OLD)
    add_audit(engine, RECENT)
    return running


async def test_a_run_deletes_in_batches_and_says_what_it_deleted(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    running = old_and_recent(engine)
    job = Retention(
        RetentionStore(engine), RetentionPolicy(days=30, batch_size=2, min_pause_seconds=0)
    )
    with caplog.at_level(logging.INFO, logger="flowtrack.retention"):
        report = await job.run(now=NOW)
    assert (report.events, report.launches, report.dead_letters, report.audit) == (5, 2, 1, 1)
    assert report.complete
    # Events: windows of 2 over the 7 old ones; launches: 2, then 0; dead letters: 1;
    # audit records: 1; data action runs, webhook messages and tracking: none (one empty
    # batch each).
    assert report.batches == 4 + 2 + 1 + 1 + 1 + 1 + 1
    assert count(engine, events) == 3 + 2
    assert count(engine, events, events.c.launch_id == running) == 2
    (line,) = [r for r in caplog.records if getattr(r, "action", None) == "retention.deleted"]
    assert (line.events, line.launches, line.dead_letters, line.audit) == (5, 2, 1, 1)
    assert line.complete


async def test_a_run_out_of_time_leaves_the_rest_to_the_next(engine: Engine) -> None:
    old_and_recent(engine)
    hurried = Retention(RetentionStore(engine), RetentionPolicy(days=30, budget_seconds=0))
    report = await hurried.run(now=NOW)
    assert not report.complete
    assert count(engine, events) == 10
    report = await Retention(RetentionStore(engine), RetentionPolicy(days=30)).run(now=NOW)
    assert report.complete
    assert count(engine, events) == 5


async def test_a_closed_job_deletes_nothing(engine: Engine) -> None:
    old_and_recent(engine)
    job = Retention(RetentionStore(engine), RetentionPolicy(days=30))
    await job.close()
    assert (await job.run(now=NOW)).events == 0
    assert count(engine, events) == 10


async def read_events(base_url: str) -> list[str]:
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {READ_KEY}"}
    ) as http:
        items = (await http.get("/api/v1/events", params={"limit": 1000})).json()["items"]
    return [item["occurredAt"] for item in items]


def real_now_data(engine: Engine) -> None:
    # The app runs on the real clock: data old and recent relative to now.
    now = datetime.now(UTC)
    add_events(engine, now - timedelta(days=40), 4)
    add_events(engine, now - timedelta(days=1), 2)


async def test_the_app_runs_retention_on_its_interval(database_url: str, engine: Engine) -> None:
    real_now_data(engine)
    settings = settings_for(
        database_url, FLOWTRACK_RETENTION_DAYS="30", FLOWTRACK_RETENTION_INTERVAL="0.2"
    )
    async with running_server(create_app(settings)) as server:
        for _ in range(100):
            if len(await read_events(server.base_url)) == 2:
                break
            await asyncio.sleep(0.05)
        assert len(await read_events(server.base_url)) == 2


async def test_retention_is_off_unless_a_period_is_set(database_url: str, engine: Engine) -> None:
    real_now_data(engine)
    settings = settings_for(database_url, FLOWTRACK_RETENTION_INTERVAL="0.1")
    assert settings.retention_days is None
    async with running_server(create_app(settings)) as server:
        await asyncio.sleep(0.5)
        assert len(await read_events(server.base_url)) == 6


def test_retention_settings_are_validated() -> None:
    settings = settings_for(
        "sqlite:///x.db",
        FLOWTRACK_RETENTION_DAYS="90",
        FLOWTRACK_RETENTION_BATCH_SIZE="500",
        FLOWTRACK_RETENTION_INTERVAL="600",
    )
    assert (
        settings.retention_days,
        settings.retention_batch_size,
        settings.retention_interval_seconds,
    ) == (90, 500, 600.0)
    defaults = settings_for("sqlite:///x.db")
    assert (defaults.retention_batch_size, defaults.retention_interval_seconds) == (1000, 3600.0)
    with pytest.raises(SettingsError) as raised:
        settings_for(
            "sqlite:///x.db",
            FLOWTRACK_RETENTION_DAYS="0",
            FLOWTRACK_RETENTION_BATCH_SIZE="many",
            FLOWTRACK_RETENTION_INTERVAL="-1",
        )
    named = " ".join(raised.value.problems)
    for name in ("RETENTION_DAYS", "RETENTION_BATCH_SIZE", "RETENTION_INTERVAL"):
        assert f"FLOWTRACK_{name}" in named
