from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from storage.audit import AuditEntry, AuditFilter, AuditStore

T0 = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)


def entry(minutes: int, key_name: str, action: str, target: str, outcome: str) -> AuditEntry:
    return AuditEntry(
        T0 + timedelta(minutes=minutes),
        key_name,
        action,
        target,
        outcome,
        request_id=f"req-{minutes}",
        detail="stuck" if action == "terminate" else None,
    )


async def test_records_are_listed_newest_first_with_filters_and_pages(engine: Engine) -> None:
    store = AuditStore(engine)
    await store.record(entry(0, "ops", "launch", "l-1", "created"))
    await store.record(entry(1, "deploy-bot", "launch", "l-2", "created"))
    await store.record(entry(2, "ops", "terminate", "l-1", "requested"))
    everything = await store.list(AuditFilter())
    assert [(r["key_name"], r["action"], r["target"]) for r in everything] == [
        ("ops", "terminate", "l-1"),
        ("deploy-bot", "launch", "l-2"),
        ("ops", "launch", "l-1"),
    ]
    assert everything[0]["detail"] == "stuck" and everything[0]["request_id"] == "req-2"
    assert everything[0]["at"] == T0 + timedelta(minutes=2)
    assert len(await store.list(AuditFilter(key_name="ops"))) == 2
    assert len(await store.list(AuditFilter(action="launch", target="l-1"))) == 1
    window = AuditFilter(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=2))
    assert [r["target"] for r in await store.list(window)] == ["l-2"]
    first = await store.list(AuditFilter(), limit=2)
    rest = await store.list(AuditFilter(), before=first[-1]["id"], limit=2)
    assert [r["id"] for r in first + list(rest)] == [r["id"] for r in everything]
