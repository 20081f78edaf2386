import uuid
from datetime import timedelta

from sqlalchemy import Engine, update

from storage import launches as store
from storage.tallies import DURATION_BUCKETS, tally_launches
from tests.storage.test_launches import NOW, new_launch


def ended(engine: Engine, flow_id: str, state: str, seconds: float) -> None:
    launch_id = str(uuid.uuid4())
    store.insert_launch(engine, new_launch(id=launch_id, flow_id=flow_id))
    with engine.begin() as connection:
        connection.execute(
            update(store.launches)
            .where(store.launches.c.id == launch_id)
            .values(state=state, ended_at=NOW + timedelta(seconds=seconds))
        )


def test_launches_are_counted_by_state_and_ended_ones_by_flow_and_duration(
    engine: Engine,
) -> None:
    store.insert_launch(engine, new_launch(flow_id="f-1"))
    ended(engine, "f-1", "completed", 3)
    ended(engine, "f-1", "completed", 45.5)
    ended(engine, "f-2", "timed_out", 8000)
    tally = tally_launches(engine, max_flows=10)
    assert tally.by_state == {"pending": 1, "completed": 2, "timed_out": 1}
    assert tally.outcomes == [("f-1", "completed", 2), ("f-2", "timed_out", 1)]
    completed = tally.durations["completed"]
    assert (completed.count, round(completed.total_seconds, 2)) == (2, 48.5)
    by_bound = dict(zip(DURATION_BUCKETS, completed.buckets, strict=True))
    assert (by_bound[1], by_bound[5], by_bound[30], by_bound[60], by_bound[7200]) == (0, 1, 1, 2, 2)
    assert tally.durations["timed_out"].buckets[-1] == 0  # over two hours: only in +Inf


def test_flows_beyond_the_cap_are_summed_as_one(engine: Engine) -> None:
    for flow in ("f-1", "f-1", "f-2", "f-3"):
        ended(engine, flow, "failed", 1)
    tally = tally_launches(engine, max_flows=1)
    assert tally.outcomes == [("f-1", "failed", 2), (None, "failed", 2)]


def test_an_empty_table_has_no_counts(engine: Engine) -> None:
    tally = tally_launches(engine, max_flows=10)
    assert (tally.by_state, tally.outcomes, tally.durations) == ({}, [], {})
