"""The webhook outbox is written with the change that causes it, or not at all."""

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import Engine, select, update

from storage import outbox
from storage.action_runs import Ending, NewRun, cancel_run, finish_run, insert_run
from storage.engine import write_transaction
from storage.launches import NewLaunch, insert_launch, launches, mark_launch_failed, mark_launched
from storage.records import DeadLetterRecord, EventRecord
from storage.sweeps import claim_one, give_up
from storage.tracking import refresh
from storage.webhooks import create_endpoint, messages
from storage.writer import EventWriter

NOW = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)
FLOW = "flow-1"


def endpoint(
    engine: Engine,
    endpoint_id: str,
    *types: str,
    flows: list[str] | None = None,
    enabled: bool = True,
) -> None:
    create_endpoint(
        engine,
        {
            "id": endpoint_id,
            "url": "https://receiver.example.com/hook",
            "event_types": orjson.dumps(list(types)).decode(),
            "flow_ids": None if flows is None else orjson.dumps(flows).decode(),
            "enabled": enabled,
            "secret": "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3",
            "created_at": NOW,
            "updated_at": NOW,
        },
    )


def sent(engine: Engine) -> list[tuple[str, str, str | None]]:
    """(endpoint, type, subject) of every message, in the order written."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(messages.c.endpoint_id, messages.c.event_type, messages.c.subject).order_by(
                messages.c.id
            )
        ).all()
    return [(row[0], row[1], row[2]) for row in rows]


def launch(engine: Engine, launch_id: str, flow_id: str = FLOW) -> None:
    insert_launch(
        engine, NewLaunch(launch_id, flow_id, None, None, None, None, None, None, NOW, None)
    )
    mark_launched(engine, launch_id, f"x-{launch_id}", NOW)


def event(launch_id: str, kind: str, name: str, **fields: str) -> EventRecord:
    values = {
        "dedupe_key": hashlib.blake2b(f"{launch_id}{name}".encode(), digest_size=16).digest(),
        "kind": kind,
        "source": "data_action",
        "occurred_at": NOW,
        "received_at": NOW,
        "launch_id": launch_id,
        "flow_execution_id": f"x-{launch_id}",
        "conversation_id": None,
        "flow_id": FLOW,
        "flow_version": None,
        "node_id": name,
        "node_type": None,
        "node_name": None,
        "output_path": None,
        "outcome": None,
        "error_code": None,
        "error_message": None,
        "raw": "{}",
    }
    return EventRecord(**{**values, **fields})


@pytest.fixture
def writer(engine: Engine) -> Iterator[EventWriter]:
    writer = EventWriter(engine)
    writer.start()
    yield writer
    writer.close()


def test_a_rolled_back_change_writes_no_message_and_a_committed_one_does(engine: Engine) -> None:
    endpoint(engine, "ep_1", "launch.completed")
    launch(engine, "l-1")

    class Abandoned(Exception):
        pass

    def end(then_fail: bool) -> None:
        with write_transaction(engine) as connection:
            connection.execute(
                update(launches).where(launches.c.id == "l-1").values(state="completed")
            )
            row = (
                connection.execute(select(launches).where(launches.c.id == "l-1")).mappings().one()
            )
            outbox.launch_ended(connection, row, NOW)
            if then_fail:
                raise Abandoned

    with pytest.raises(Abandoned):
        end(then_fail=True)
    assert sent(engine) == []
    end(then_fail=False)
    assert sent(engine) == [("ep_1", "launch.completed", "l-1")]


async def test_a_launch_that_ends_writes_one_message_per_subscribed_endpoint_once(
    engine: Engine, writer: EventWriter
) -> None:
    endpoint(engine, "ep_all", "launch.completed", "launch.failed")
    endpoint(engine, "ep_failed", "launch.failed")
    endpoint(engine, "ep_other_flow", "launch.completed", flows=["flow-2"])
    endpoint(engine, "ep_disabled", "launch.completed", enabled=False)
    launch(engine, "l-1")
    await writer.write([event("l-1", "start", "s"), event("l-1", "complete", "c")])

    refresh(engine, launch_ids=["l-1"], now=NOW)
    refresh(engine, launch_ids=["l-1"], now=NOW)  # nothing changes: nothing more is sent

    assert sent(engine) == [("ep_all", "launch.completed", "l-1")]


async def test_a_late_error_that_fails_a_completed_launch_sends_launch_failed_too(
    engine: Engine, writer: EventWriter
) -> None:
    endpoint(engine, "ep_all", "launch.completed", "launch.failed")
    launch(engine, "l-1")
    await writer.write([event("l-1", "start", "s"), event("l-1", "complete", "c")])
    refresh(engine, launch_ids=["l-1"], now=NOW)

    await writer.write([event("l-1", "error", "e", error_code="BOOM")])
    refresh(engine, launch_ids=["l-1"], now=NOW)
    refresh(engine, launch_ids=["l-1"], now=NOW)  # failed again (a better reason): no resend

    assert sent(engine) == [
        ("ep_all", "launch.completed", "l-1"),
        ("ep_all", "launch.failed", "l-1"),
    ]


def test_a_refused_launch_and_a_termination_given_up_write_their_messages(engine: Engine) -> None:
    endpoint(engine, "ep_1", "launch.launch_failed", "launch.termination_failed")
    insert_launch(
        engine, NewLaunch("l-refused", FLOW, None, None, None, None, None, None, NOW, None)
    )
    launch(engine, "l-stuck")

    mark_launch_failed(engine, "l-refused", "flow.not.found", "no such flow", NOW)
    mark_launch_failed(engine, "l-refused", "flow.not.found", "no such flow", NOW)
    assert claim_one(engine, "l-stuck", now=NOW, owner="me", lease_seconds=60) is not None
    give_up(engine, "l-stuck", "me", error="the platform kept failing", now=NOW)

    assert sent(engine) == [
        ("ep_1", "launch.launch_failed", "l-refused"),
        ("ep_1", "launch.termination_failed", "l-stuck"),
    ]
    with engine.connect() as connection:
        data = connection.execute(
            select(messages.c.data).where(messages.c.subject == "l-refused")
        ).scalar_one()
    facts = orjson.loads(data)
    assert (facts["state"], facts["error_code"], facts["state_reason"]) == (
        "launch_failed",
        "flow.not.found",
        "no such flow",
    )


async def test_the_writer_sends_a_flow_error_once_and_each_dead_letter_with_its_id(
    engine: Engine, writer: EventWriter
) -> None:
    endpoint(engine, "ep_1", "flow.error", "dead_letter.stored")
    error = event("l-9", "error", "e", error_code="BOOM", error_message="x" * 5000)
    letter = DeadLetterRecord(NOW, "not an event", "[]", "wh-1", '{"a": 1}')

    await writer.write([event("l-9", "start", "s"), error], [letter])
    await writer.write([error])  # delivered again: a duplicate, not a new error

    assert sent(engine)[0] == ("ep_1", "flow.error", "l-9")
    assert [each[1] for each in sent(engine)] == ["flow.error", "dead_letter.stored"]
    with engine.connect() as connection:
        data = dict(connection.execute(select(messages.c.event_type, messages.c.data)).all())
    assert orjson.loads(data["flow.error"])["error_code"] == "BOOM"
    assert len(orjson.loads(data["flow.error"])["error_message"]) == outbox.MAX_TEXT
    assert isinstance(orjson.loads(data["dead_letter.stored"])["id"], int)


async def test_the_writer_writes_no_message_without_a_subscriber(
    engine: Engine, writer: EventWriter
) -> None:
    endpoint(engine, "ep_1", "launch.completed")
    letter = DeadLetterRecord(NOW, "not an event", "[]", None, "{}")

    result = await writer.write([event("l-9", "error", "e")], [letter])

    assert result.accepted == 1
    assert sent(engine) == []


def test_a_data_action_run_that_finishes_sends_succeeded_or_failed_once(engine: Engine) -> None:
    endpoint(engine, "ep_1", "action_run.succeeded", "action_run.failed")

    def run(run_id: str, *, queued: bool = False) -> None:
        new = NewRun(
            run_id, "act-1", 3, "{}", False, True, None, None, None, None, None, None, None, NOW
        )
        if queued:
            insert_run(engine, new)
        else:
            insert_run(engine, new, claimed_by="w", lease_until=NOW)

    run("r-ok")
    run("r-bad")
    run("r-cancelled", queued=True)
    finish_run(engine, "r-ok", "w", Ending(state="succeeded", at=NOW, output="{}"))
    failed = Ending(
        state="failed", at=NOW, failure_reason="remote_error", error='{"message":"500"}'
    )
    finish_run(engine, "r-bad", "w", failed)
    finish_run(engine, "r-bad", "w", failed)  # already final: nothing more
    assert cancel_run(engine, "r-cancelled", NOW)[0] is not None  # stopped on request

    assert sent(engine) == [
        ("ep_1", "action_run.succeeded", "r-ok"),
        ("ep_1", "action_run.failed", "r-bad"),
    ]
    with engine.connect() as connection:
        data = connection.execute(
            select(messages.c.data).where(messages.c.subject == "r-bad")
        ).scalar_one()
    assert orjson.loads(data)["error"] == {"message": "500"}
