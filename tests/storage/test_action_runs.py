"""The runs table's queries on both backends: claims, endings, recovery, cache, retention."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from storage.action_reads import run_stats
from storage.action_runs import (
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    UNKNOWN,
    Ending,
    NewRun,
    cached_result,
    cancel_run,
    claim_runs,
    delete_old_runs,
    finish_run,
    get_run,
    insert_cached_run,
    insert_run,
    recover_orphans,
    renew_leases,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def new_run(run_id: str, **changes: object) -> NewRun:
    fields: dict[str, object] = {
        "id": run_id,
        "action_id": "custom_-_a",
        "action_version": 3,
        "input": '{"accountId": "A-1"}',
        "dry_run": False,
        "idempotent": False,
        "timeout_seconds": 10,
        "cache_ttl_seconds": None,
        "cache_key": None,
        "coercions": None,
        "idempotency_key": None,
        "request_fingerprint": "f" * 64,
        "requested_by": "ops",
        "created_at": NOW,
    }
    fields.update(changes)
    return NewRun(**fields)  # type: ignore[arg-type]


def test_each_queued_run_is_claimed_by_one_worker_only(engine: Engine) -> None:
    for n in range(5):
        insert_run(engine, new_run(f"r{n}", created_at=NOW + timedelta(seconds=n)))
    lease = NOW + timedelta(seconds=30)
    first = claim_runs(engine, "w1", limit=3, now=NOW, lease_until=lease)
    second = claim_runs(engine, "w2", limit=3, now=NOW, lease_until=lease)
    assert [row["id"] for row in first] == ["r0", "r1", "r2"]
    assert [row["id"] for row in second] == ["r3", "r4"]
    assert {row["state"] for row in [*first, *second]} == {RUNNING}
    assert claim_runs(engine, "w3", limit=3, now=NOW, lease_until=lease) == []


def test_only_the_worker_holding_a_run_ends_it(engine: Engine) -> None:
    insert_run(engine, new_run("r1"))
    claim_runs(engine, "w1", limit=1, now=NOW, lease_until=NOW + timedelta(seconds=30))
    ending = Ending(SUCCEEDED, NOW, output='{"ok": true}', latency_ms=12.5, attempts="[]")
    assert finish_run(engine, "r1", "w2", ending) is None
    done = finish_run(engine, "r1", "w1", ending)
    assert done is not None
    assert (done["state"], done["output"], done["claimed_by"]) == (SUCCEEDED, '{"ok": true}', "w1")
    assert finish_run(engine, "r1", "w1", Ending(FAILED, NOW)) is None


def test_only_a_queued_run_is_cancelled(engine: Engine) -> None:
    insert_run(engine, new_run("queued"))
    insert_run(engine, new_run("sent"), claimed_by="w1", lease_until=NOW + timedelta(seconds=30))
    row, cancelled = cancel_run(engine, "queued", NOW)
    assert cancelled and row is not None and row["state"] == CANCELLED
    row, cancelled = cancel_run(engine, "sent", NOW)
    assert not cancelled and row is not None and row["state"] == RUNNING
    assert cancel_run(engine, "missing", NOW) == (None, False)


def test_an_orphaned_run_is_unknown_unless_idempotent_which_is_queued_again(
    engine: Engine,
) -> None:
    expired = NOW - timedelta(seconds=1)
    insert_run(engine, new_run("plain"), claimed_by="dead", lease_until=expired)
    insert_run(engine, new_run("again", idempotent=True), claimed_by="dead", lease_until=expired)
    insert_run(engine, new_run("alive"), claimed_by="w1", lease_until=NOW + timedelta(seconds=30))
    assert renew_leases(engine, "w1", ["alive", "plain"], NOW + timedelta(seconds=60)) == 1
    assert recover_orphans(engine, NOW) == (1, 1)
    states = {name: get_run(engine, name)["state"] for name in ("plain", "again", "alive")}  # type: ignore[index]
    assert states == {"plain": UNKNOWN, "again": QUEUED, "alive": RUNNING}
    assert recover_orphans(engine, NOW) == (0, 0)


def test_a_known_idempotency_key_returns_the_first_run(engine: Engine) -> None:
    _, created = insert_run(engine, new_run("r1", idempotency_key="k"))
    again, created_again = insert_run(engine, new_run("r2", idempotency_key="k"))
    assert (created, created_again, again["id"]) == (True, False, "r1")


def test_only_an_executed_success_within_its_age_answers_from_the_cache(engine: Engine) -> None:
    key = "c" * 64
    for name, state in (("ok", SUCCEEDED), ("bad", FAILED)):
        insert_run(engine, new_run(name, cache_key=key), claimed_by="w", lease_until=NOW)
        finish_run(engine, name, "w", Ending(state, NOW, output="{}"))
    found = cached_result(engine, key, NOW - timedelta(seconds=5))
    assert found is not None and found["id"] == "ok"
    hit, _ = insert_cached_run(
        engine,
        new_run("hit", cache_key=key),
        Ending(SUCCEEDED, NOW + timedelta(seconds=1), cached_from="ok"),
    )
    assert (hit["state"], hit["cached_from"]) == (SUCCEEDED, "ok")
    assert cached_result(engine, key, NOW - timedelta(seconds=5))["id"] == "ok"  # type: ignore[index]
    assert cached_result(engine, key, NOW + timedelta(seconds=1)) is None
    stats = run_stats(engine, "custom_-_a", None, None)
    assert stats.by_state == {SUCCEEDED: 2, FAILED: 1}
    assert stats.cache_hits == 1


def test_retention_deletes_ended_runs_only(engine: Engine) -> None:
    insert_run(engine, new_run("old"), claimed_by="w", lease_until=NOW)
    finish_run(engine, "old", "w", Ending(SUCCEEDED, NOW))
    insert_run(engine, new_run("waiting"))
    assert delete_old_runs(engine, cutoff=NOW + timedelta(days=1), limit=10) == 1
    assert get_run(engine, "old") is None
    assert get_run(engine, "waiting") is not None
