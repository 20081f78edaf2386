"""The rollup job: new events and changed launches into the rollups, and their own
retention, which outlives the events'."""

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, select, update

from receiver.cli import main
from receiver.jobs.rollups import RollupJob
from receiver.settings.rollups import RollupsConfig
from storage.engine import write_transaction
from storage.flowstats import Window, flow_stats
from storage.retention import RetentionStore, events, launches
from storage.rollup_merge import nodes_table
from storage.rollups import RollupStore
from tests.storage.test_retention import NOW, OLD, RECENT, add_events, add_launch

CONFIG = RollupsConfig(
    enabled=True, interval_seconds=1, batch_events=3, hourly_days=10, retention_days=None
)


def job(engine: Engine, *, events_days: int | None = None) -> RollupJob:
    return RollupJob(RollupStore(engine), CONFIG, events_retention_days=events_days)


async def test_a_run_takes_every_new_event_and_launch_in_batches(engine: Engine) -> None:
    add_events(engine, RECENT, 7, conversation_id="c-1")
    add_launch(engine, "completed", RECENT)
    stuck = add_launch(engine, "timed_out", RECENT, current_node_id="wait")
    report = await job(engine).run(NOW)
    assert (report.events, report.launches, report.batches, report.caught_up) == (7, 2, 3, True)
    stats = flow_stats(engine, "flow-1")
    assert (stats.runs, stats.events, stats.nodes[0].entries) == (1, 7, 7)
    assert (stats.launches_by_state["completed"], stats.launches_by_state["timed_out"]) == (1, 1)
    assert stats.stuck == [("wait", None, 1)]
    # A launch that changes state moves its count; an update committed a little late
    # (an updated_at before the watermark, within the overlap) is still taken.
    with write_transaction(engine) as connection:
        connection.execute(
            update(launches)
            .where(launches.c.id == stuck)
            .values(state="terminated", updated_at=RECENT - timedelta(seconds=2))
        )
    assert (await job(engine).run(NOW)).launches == 1
    stats = flow_stats(engine, "flow-1")
    assert (stats.launches_by_state["timed_out"], stats.launches_by_state["terminated"]) == (0, 1)
    assert stats.stuck == []


async def test_statistics_outlive_the_events_that_retention_deletes(engine: Engine) -> None:
    add_events(engine, OLD, 4, conversation_id="c-old")
    add_events(engine, RECENT, 2, conversation_id="c-new")
    # Hourly rows older than ROLLUP_HOURLY_DAYS go; the daily and all-time ones stay.
    assert (await job(engine, events_days=30).run(NOW)).pruned > 0
    deleted = await RetentionStore(engine).delete_old_events(
        cutoff=NOW - timedelta(days=30), after=None, limit=100
    )
    assert deleted.deleted == 4
    await job(engine, events_days=30).run(NOW)
    with engine.connect() as connection:
        grains: dict[str, int] = dict(
            connection.execute(
                select(nodes_table.c.grain, func.count())
                .where(nodes_table.c.bucket < RECENT.timestamp() - 86400)
                .group_by(nodes_table.c.grain)
            ).all()
        )
        assert connection.execute(select(func.count()).select_from(events)).scalar() == 2
    assert "h" not in grains and grains["d"] > 0
    everything = flow_stats(engine, "flow-1")
    assert (everything.runs, everything.events) == (2, 6)
    assert everything.coverage.aggregates_only(everything.window)
    since = OLD - timedelta(days=2)
    old_window = flow_stats(engine, "flow-1", since=since, until=NOW)
    assert (old_window.runs, old_window.events) == (2, 6)
    assert old_window.coverage.aggregates_only(Window.of(since, NOW))
    recent = flow_stats(engine, "flow-1", since=RECENT - timedelta(hours=1))
    assert not recent.coverage.aggregates_only(recent.window)
    assert recent.events == 2


def test_the_cli_rebuilds_the_rollups_from_the_stored_events(
    engine: Engine, database_url: str, monkeypatch: Any, capsys: Any
) -> None:
    add_events(engine, RECENT, 3, conversation_id="c-1")
    monkeypatch.setenv("FLOWTRACK_DATABASE_URL", database_url)
    assert main(["rollups", "rebuild", "--batch", "2"]) == 0
    assert "rebuilt from 3 events" in capsys.readouterr().out
    assert flow_stats(engine, "flow-1").events == 3
    assert main(["rollups", "status"]) == 0
    assert ", 0 behind;" in capsys.readouterr().out
