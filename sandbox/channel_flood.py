"""``POST /sandbox/notifications/flood``: flow-instance messages as fast as the loop goes.

For the bridge benchmark: ``{"flowId", "count", "ratePerSecond"?}`` publishes ``count``
``v2.flows.instances.flow.{flowId}`` messages on every subscribed channel (and the
EventBridge sink), each a fresh run of the flow walking its first path without errors,
with its own ``executionId``. Each carries ``sandboxPublishedAt`` (epoch seconds, float)
in its ``eventBody`` and its ``metadata`` so a consumer can measure publish-to-commit
lag. Without ``ratePerSecond`` it yields to the loop every 50 messages (so sockets drain
while it runs); with it, it paces itself. These runs are not logged instances: nothing
to query or download.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.catalog import HOME_DIVISION_ID
from sandbox.errors import BadRequest
from sandbox.flows import SUCCESS_PATH, FlowDefinition
from sandbox.history_record import LANGUAGE_TAG
from sandbox.messages import instances_topic
from sandbox.state import sandbox_of
from sandbox.timestamps import iso, utc_now
from sandbox.wire import JSONResponse, read_object

MAX_COUNT = 1_000_000
_BATCH = 50
_MAX_VISITS = 50


def _path(flow: FlowDefinition) -> list[tuple[str, str, str]]:
    """(node id, node type, output path) along the first path, at most 50 visits."""
    visits: list[tuple[str, str, str]] = []
    node_id: str | None = flow.start
    while node_id is not None and len(visits) < _MAX_VISITS:
        node = flow.node(node_id)
        path = node.paths[0] if node.paths else None
        visits.append((node.id, node.type, path.name if path else SUCCESS_PATH))
        node_id = path.target if path else None
    return visits


def _id() -> str:
    # uuid4's layout from one getrandbits call: uuid.uuid4() costs several times more,
    # which shows at tens of thousands of ids a second.
    bits = (random.getrandbits(128) & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC << 60) | (0x8 << 60)
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _body(flow: FlowDefinition, visits: list[tuple[str, str, str]]) -> dict[str, Any]:
    now = iso(utc_now())
    items: list[dict[str, Any]] = [
        {"objectType": "startedFlow", "startDateTime": now, "languageTag": LANGUAGE_TAG}
    ]
    items += [
        {
            "objectType": node_type,
            "objectId": node_id,
            "executionId": _id(),
            "startDateTime": now,
            "outputPathId": output_path,
        }
        for node_id, node_type, output_path in visits
    ]
    return {
        "executionId": _id(),
        "divisionId": HOME_DIVISION_ID,
        "flowId": flow.id,
        "flowVersion": flow.version,
        "flowType": flow.type,
        "flowIsDebug": False,
        "startDateTime": now,
        "endDateTime": now,
        "flowExitReason": "FLOW_EXIT",
        "execution": items,
        "errors": [],
        "warnings": [],
        "executionItemsTruncated": False,
    }


def _count(body: dict[str, Any], key: str, *, required: bool) -> int | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        raise BadRequest(f"'{key}' must be an integer from 1 to {MAX_COUNT}.")
    return value


async def flood(request: Request) -> Response:
    """Publish the messages now; ``{"published", "frames", "seconds", "perSecond"}``."""
    sandbox = sandbox_of(request)
    body = await read_object(request)
    flow = sandbox.catalog.get(str(body.get("flowId", "")))
    count = _count(body, "count", required=True) or 0
    rate = _count(body, "ratePerSecond", required=False)
    topic = instances_topic(flow.id)
    visits = _path(flow)
    frames_before = sandbox.stats.get("notifications.frames")
    started = time.perf_counter()
    for index in range(count):
        message = _body(flow, visits)
        published_at = time.time()
        message["sandboxPublishedAt"] = published_at
        sandbox.hub.publish(topic, message, sandboxPublishedAt=published_at)
        if rate is not None:
            delay = started + (index + 1) / rate - time.perf_counter()
            await asyncio.sleep(max(delay, 0))
        elif index % _BATCH == _BATCH - 1:
            await asyncio.sleep(0)
    seconds = time.perf_counter() - started
    sandbox.stats.incr("notifications.flooded", count)
    return JSONResponse(
        {
            "published": count,
            "frames": sandbox.stats.get("notifications.frames") - frames_before,
            "seconds": round(seconds, 6),
            "perSecond": round(count / seconds, 1) if seconds > 0 else None,
        }
    )


routes = [Route("/sandbox/notifications/flood", flood, methods=["POST"])]
