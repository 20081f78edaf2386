import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from sqlalchemy import insert

from storage.engine import make_engine
from storage.tables import DeadLetter
from tests.conftest import READ_KEY, WRITE_KEY

RECEIVED = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)


def store_dead_letter(database_url: str, body: Any, webhook_id: str | None = None) -> int:
    """A body an older reader refused, as it was kept (the row the callback endpoint writes)."""
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            letter_id: int = connection.execute(
                insert(DeadLetter.__table__).returning(DeadLetter.__table__.c.id),  # type: ignore[attr-defined]
                {
                    "received_at": RECEIVED,
                    "reason": "an older reader's complaint",
                    "errors": "[]",
                    "webhook_id": webhook_id,
                    "body": orjson.dumps(body).decode(),
                },
            ).scalar_one()
    finally:
        engine.dispose()
    return letter_id


async def _replay(
    client: httpx.AsyncClient, letter_id: int, key: str = WRITE_KEY
) -> httpx.Response:
    return await client.post(
        f"/api/v1/dead-letters/{letter_id}/replay", headers={"Authorization": f"Bearer {key}"}
    )


async def test_a_replayed_dead_letter_stores_its_events_once(
    client: httpx.AsyncClient, database_url: str
) -> None:
    body = {"event": "start", "launchId": "l-replayed", "flowId": "f-1"}
    letter_id = await asyncio.to_thread(store_dead_letter, database_url, body, "msg-1")

    first = await _replay(client, letter_id)
    again = await _replay(client, letter_id)

    assert first.status_code == 200, first.text
    assert first.json() == {"deadLetterId": letter_id, "accepted": 1, "duplicates": 0}
    assert again.json() == {"deadLetterId": letter_id, "accepted": 0, "duplicates": 1}
    listed = await client.get(
        "/api/v1/events",
        params={"launchId": "l-replayed"},
        headers={"Authorization": f"Bearer {READ_KEY}"},
    )
    [event] = listed.json()["items"]
    # Read as if it arrived again at its original time: the same event, the same keys.
    assert event["occurredAt"] == "2026-03-02T10:15:00.000000Z"
    audit = await client.get(
        "/api/v1/audit",
        params={"action": "dead_letter_replay"},
        headers={"Authorization": f"Bearer {READ_KEY}"},
    )
    assert [record["outcome"] for record in audit.json()["items"]] == ["completed", "completed"]


async def test_a_body_still_unreadable_is_a_422_listing_each_problem(
    client: httpx.AsyncClient, database_url: str
) -> None:
    letter_id = await asyncio.to_thread(
        store_dead_letter, database_url, {"event": "start", "flowId": "f-1"}
    )
    response = await _replay(client, letter_id)
    assert response.status_code == 422
    assert response.json()["error"] == "still_uninterpretable"
    assert [problem["field"] for problem in response.json()["detail"]] == ["launchId"]


async def test_replaying_needs_a_write_key_and_an_existing_dead_letter(
    client: httpx.AsyncClient,
) -> None:
    assert (await _replay(client, 1, key=READ_KEY)).status_code == 403
    missing = await _replay(client, 999_999)
    assert missing.status_code == 404
    assert missing.json()["error"] == "dead_letter_not_found"
    beyond_any_id = await _replay(client, 2**63)
    assert beyond_any_id.status_code == 404
    assert beyond_any_id.json()["error"] == "dead_letter_not_found"
