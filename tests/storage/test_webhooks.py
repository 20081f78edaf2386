"""Claiming webhook messages, recording attempts, and retention of finished ones."""

from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import Engine, func, select

from storage import outbox
from storage.deliveries import RETRY, Attempt, claim_due, finish_attempt, release
from storage.engine import write_transaction
from storage.webhooks import attempts, create_endpoint, delete_finished, get_endpoint, messages

NOW = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)


def endpoint(engine: Engine, endpoint_id: str) -> None:
    create_endpoint(
        engine,
        {
            "id": endpoint_id,
            "url": "https://receiver.example.com/hook",
            "event_types": orjson.dumps(["webhook.test"]).decode(),
            "flow_ids": None,
            "enabled": True,
            "secret": "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3",
            "created_at": NOW,
            "updated_at": NOW,
        },
    )


def message(engine: Engine, endpoint_id: str, at: datetime = NOW) -> str:
    with write_transaction(engine) as connection:
        (sent,) = outbox.enqueue(
            connection,
            "webhook.test",
            b"{}",
            flow_id=None,
            subject=None,
            now=at,
            endpoint_id=endpoint_id,
        )
    return sent


def attempt(message_id: str, owner: str, result: str, **fields: object) -> Attempt:
    values: dict[str, object] = {
        "message_id": message_id,
        "endpoint_id": "ep_1",
        "owner": owner,
        "at": NOW,
        "result": result,
        "status_code": 500,
        "latency_ms": 3,
        "error": "answered 500",
        "response_body": None,
        "next_attempt_at": NOW + timedelta(seconds=5) if result == RETRY else None,
        "disable": None,
        "disable_after": timedelta(days=5),
    }
    return Attempt(**{**values, **fields})  # type: ignore[arg-type]


def test_a_claimed_message_is_not_claimed_again_until_its_lease_expires(engine: Engine) -> None:
    endpoint(engine, "ep_1")
    sent = message(engine, "ep_1")

    first = claim_due(engine, now=NOW, owner="a", lease_seconds=60, limit=10)
    second = claim_due(engine, now=NOW, owner="b", lease_seconds=60, limit=10)
    later = claim_due(
        engine, now=NOW + timedelta(seconds=61), owner="b", lease_seconds=60, limit=10
    )

    assert [row["id"] for row in first] == [sent]
    assert first[0]["url"] == "https://receiver.example.com/hook"
    assert second == []
    assert [row["id"] for row in later] == [sent]


def test_busy_endpoints_are_left_out_and_a_released_message_is_due_again(engine: Engine) -> None:
    endpoint(engine, "ep_1")
    endpoint(engine, "ep_2")
    first, second = message(engine, "ep_1"), message(engine, "ep_2")

    claimed = claim_due(engine, now=NOW, owner="a", lease_seconds=60, limit=10, busy=["ep_1"])
    assert [row["id"] for row in claimed] == [second]
    release(engine, [second], "a")

    again = claim_due(engine, now=NOW, owner="b", lease_seconds=60, limit=10)
    assert sorted(row["id"] for row in again) == sorted([first, second])


def test_only_the_claims_owner_moves_the_message_on_but_every_attempt_is_logged(
    engine: Engine,
) -> None:
    endpoint(engine, "ep_1")
    sent = message(engine, "ep_1")
    claim_due(engine, now=NOW, owner="a", lease_seconds=60, limit=10)

    finish_attempt(engine, attempt(sent, "intruder", "delivered", status_code=200, error=None))
    finish_attempt(engine, attempt(sent, "a", RETRY))

    with engine.connect() as connection:
        row = connection.execute(select(messages).where(messages.c.id == sent)).mappings().one()
        logged = connection.execute(select(func.count()).select_from(attempts)).scalar()
    assert (row["state"], row["attempts"], row["claimed_by"]) == ("pending", 1, None)
    assert logged == 2
    health = get_endpoint(engine, "ep_1")
    assert health is not None and health["failing_since"] == NOW


def test_an_endpoint_failing_for_longer_than_allowed_is_disabled_with_why(engine: Engine) -> None:
    endpoint(engine, "ep_1")
    sent = message(engine, "ep_1")
    claim_due(engine, now=NOW, owner="a", lease_seconds=60, limit=10)
    finish_attempt(engine, attempt(sent, "a", RETRY))
    claim_due(engine, now=NOW + timedelta(days=6), owner="a", lease_seconds=60, limit=10)

    why = finish_attempt(engine, attempt(sent, "a", RETRY, at=NOW + timedelta(days=6)))

    assert why == f"every attempt failed since {NOW.isoformat()}"
    found = get_endpoint(engine, "ep_1")
    assert found is not None and not found["enabled"] and found["disabled_reason"] == why
    assert (
        claim_due(engine, now=NOW + timedelta(days=7), owner="a", lease_seconds=60, limit=10) == []
    )


def test_retention_deletes_finished_messages_and_their_attempts_never_pending_ones(
    engine: Engine,
) -> None:
    endpoint(engine, "ep_1")
    old_done, old_pending = message(engine, "ep_1"), message(engine, "ep_1")
    recent = message(engine, "ep_1", at=NOW + timedelta(days=2))
    claim_due(engine, now=NOW + timedelta(days=3), owner="a", lease_seconds=60, limit=10)
    for each in (old_done, recent):
        finish_attempt(engine, attempt(each, "a", "delivered", status_code=200, error=None))
    finish_attempt(engine, attempt(old_pending, "a", RETRY))

    deleted = delete_finished(engine, cutoff=NOW + timedelta(days=1), limit=100)

    assert deleted == 1
    with engine.connect() as connection:
        left = set(connection.execute(select(messages.c.id)).scalars())
        logged = set(connection.execute(select(attempts.c.message_id)).scalars())
    assert left == {old_pending, recent}
    assert logged == {old_pending, recent}
