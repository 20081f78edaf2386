"""The API contract: /openapi.json covers every route, and schemathesis cannot break it.

The fuzz test runs schemathesis over the whole document (every operation, nothing
excluded) against flowtrack served over real HTTP, on SQLite and on PostgreSQL,
launching through the sandbox (so ``POST /api/v1/launches`` really launches), with data
already in every table so that list answers have items to check. flowtrack and the
sandbox run on an event loop in a thread of their own: schemathesis calls the API
synchronously from the test thread.
"""

from __future__ import annotations

import asyncio
import json
import queue
import shutil
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from receiver.app import create_app
from receiver.registration.register import register_from_settings
from receiver.serving.server import running_server
from receiver.web.openapi import UndocumentedRoute, openapi_document, routes_of
from receiver.web.operations import operation
from tests.conftest import (
    BACKENDS,
    CALLBACK_TOKEN,
    FLOW_CALL,
    FLOW_FAILS,
    FLOW_HANGS,
    FLOW_OK,
    TEST_FLOWS,
    WRITE_KEY,
    _create_database,
    _database_url,
    _drop_database,
    genesys_overrides,
    settings_for,
)

T = TypeVar("T")
PAYLOADS = Path(__file__).parents[2] / "sandbox" / "payloads"
# The flow id of the documentation's examples; the sandbox here knows it, so the
# examples phase launches a real flow.
EXAMPLE_FLOW = "7d2a3b1e-5c0f-4f6e-9a41-2b8e0c9d1f37"
# Left out: positive_data_acceptance and negative_data_rejection. They hold the request
# schemas to rules no schema can state (a cursor must be one the API issued; until must
# be later than since), so they fail on valid designs, not on bugs.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    ignored_auth,
]
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261122,
        "generation": {
            "mode": "all",
            "max-examples": 100,
            "deterministic": True,
            "database": "none",
        },
        "auth": {
            "openapi": {
                "apiKey": {"bearer": WRITE_KEY},
                "callbackToken": {"bearer": CALLBACK_TOKEN},
            }
        },
    }
)


def document_of(app: Starlette) -> dict[str, Any]:
    return openapi_document(app.routes)


def test_every_route_is_in_the_document_and_nothing_else() -> None:
    app = create_app(settings_for("sqlite:///unused.db"))
    document = document_of(app)
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert documented == routes_of(app.routes)


def test_every_tag_an_operation_uses_is_listed_with_a_description() -> None:
    document = document_of(create_app(settings_for("sqlite:///unused.db")))
    used = {
        tag for item in document["paths"].values() for spec in item.values() for tag in spec["tags"]
    }
    listed = {tag["name"]: tag["description"] for tag in document["tags"]}
    assert sorted(used - listed.keys()) == [], "add these to TAGS in receiver/web/openapi.py"
    assert sorted(listed.keys() - used) == [], "no operation uses these TAGS"
    assert all(description.strip() for description in listed.values())


def test_a_route_without_a_declaration_stops_the_document() -> None:
    async def undeclared(request: Request) -> Response:
        return Response()

    with pytest.raises(UndocumentedRoute, match=r"GET /new \(.*undeclared\)"):
        openapi_document([Route("/new", undeclared, methods=["GET"])])


def test_path_parameters_come_from_the_route() -> None:
    @operation("getThing", "A thing", tag="meta", access="public", replies={})
    async def thing(request: Request) -> Response:
        return Response()

    document = openapi_document([Route("/things/{thing_id:int}", thing, methods=["GET"])])
    (parameter,) = document["paths"]["/things/{thing_id}"]["get"]["parameters"]
    assert (parameter["name"], parameter["in"], parameter["required"]) == (
        "thing_id",
        "path",
        True,
    )


def test_a_path_parameter_without_a_convertor_stops_the_document() -> None:
    @operation("getThing", "A thing", tag="meta", access="public", replies={})
    async def thing(request: Request) -> Response:
        return Response()

    with pytest.raises(ValueError, match=r"\{name:id\}.*thing_id"):
        openapi_document([Route("/things/{thing_id}", thing, methods=["GET"])])


def test_the_document_is_valid_openapi() -> None:
    document = document_of(create_app(settings_for("sqlite:///unused.db")))
    loaded = schemathesis.openapi.from_dict(document)
    loaded.validate()  # against the OpenAPI 3.1 meta-schema
    operations = [result.ok() for result in loaded.get_all_operations()]
    assert len(operations) == sum(len(item) for item in document["paths"].values())
    assert document["openapi"].startswith("3.1")


async def test_the_document_and_the_docs_page_are_served_without_a_key(
    client: httpx.AsyncClient,
) -> None:
    anonymous = {"Authorization": ""}
    served = await client.get("/openapi.json", headers=anonymous)
    assert served.status_code == 200
    assert served.json() == document_of(create_app(settings_for("sqlite:///unused.db")))
    page = await client.get("/docs", headers=anonymous)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "createLaunch" in page.text
    # Offline: nothing on the page comes from elsewhere.
    assert "http://" not in page.text.lower().replace("http://127.0.0.1", "")
    assert "https://" not in page.text.lower()
    assert "<script" not in page.text.lower()


# -- schemathesis against the running app ---------------------------------------------------


@contextmanager
def in_thread(start: Callable[[], AbstractAsyncContextManager[T]]) -> Iterator[T]:
    """Enter ``start()`` on a new event loop in a thread; leave it when the block ends."""
    started: queue.Queue[tuple[bool, Any]] = queue.Queue()
    loop = asyncio.new_event_loop()
    stopping = asyncio.Event()

    async def main() -> None:
        try:
            async with start() as value:
                started.put((True, value))
                await stopping.wait()
        except BaseException as exc:
            started.put((False, exc))
            raise

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    ok, value = started.get(timeout=120)
    if not ok:
        thread.join()
        raise value
    try:
        yield value
    finally:
        loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=60)
        loop.close()


@dataclass(frozen=True)
class Contract:
    """The running flowtrack, and what was stored in it before the tests."""

    base_url: str
    launches: dict[str, str]  # flow id → launch id
    conversations: tuple[str, ...]


@asynccontextmanager
async def contract_app(database: str) -> AsyncIterator[Contract]:
    """The sandbox, and flowtrack launching through it with data in every table."""
    from sandbox.config import SandboxConfig
    from sandbox.server import running_sandbox

    example = {
        "id": EXAMPLE_FLOW,
        "name": "Documentation example",
        "type": "workflow",
        "nodes": [{"id": "only", "type": "Task", "name": "Only", "duration_ms": 20}],
    }
    config = SandboxConfig(flows=[*TEST_FLOWS, example], seed=7, rate_limit_per_minute=100_000)
    async with running_sandbox(config) as sandbox:
        environ = {
            **genesys_overrides(sandbox.base_url),
            "FLOWTRACK_GENESYS_RATE_LIMIT_PER_MINUTE": "100000",
        }
        async with running_server(create_app(settings_for(database, **environ))) as server:
            await register_from_settings(
                settings_for(database, FLOWTRACK_PUBLIC_URL=server.base_url, **environ)
            )
            yield await seed(server.base_url)


async def seed(base_url: str) -> Contract:
    """Launches in several states with their events, foreign events, a dead letter."""
    api = httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {WRITE_KEY}"}, timeout=20
    )
    callbacks = httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"}, timeout=20
    )
    async with api, callbacks:
        launched = {}
        for flow in (FLOW_OK, FLOW_FAILS, FLOW_HANGS, FLOW_CALL):
            response = await api.post("/api/v1/launches", json={"flowId": flow, "name": flow})
            assert response.status_code == 201, response.text
            launched[flow] = response.json()["id"]
        for name in ("notification-flow-start.json", "eventbridge-envelope.json"):
            response = await callbacks.post(
                "/webhooks/genesys",
                content=(PAYLOADS / name).read_bytes(),
                headers={"content-type": "application/json"},
            )
            assert response.status_code == 200, response.text
        foreign = {"conversationId": "c-foreign", "flowId": "f-foreign", "nodeId": "n-1"}
        response = await callbacks.post(
            "/webhooks/genesys",
            json=[
                {"event": "node_enter", **foreign, "occurredAt": "2026-03-02T10:15:00Z"},
                {
                    "event": "error",
                    **foreign,
                    "errorCode": "E1",
                    "occurredAt": "2026-03-02T10:15:01Z",
                },
            ],
        )
        assert response.status_code == 200, response.text
        response = await callbacks.post("/webhooks/genesys", json={"neither": "event"})
        assert response.status_code == 422, response.text
        for _ in range(200):
            states = {
                flow: (await api.get(f"/api/v1/launches/{launch}")).json()["state"]
                for flow, launch in launched.items()
            }
            if states[FLOW_OK] == "completed" and states[FLOW_FAILS] == "failed":
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"the seeded launches did not end: {states}")
        response = await api.post(f"/api/v1/launches/{launched[FLOW_HANGS]}/terminate")
        assert response.status_code == 200, response.text
        conversation = (await api.get(f"/api/v1/launches/{launched[FLOW_CALL]}")).json()
    notified = json.loads((PAYLOADS / "notification-flow-start.json").read_text())
    conversations = ("c-foreign", notified["eventBody"]["conversationId"])
    if conversation["conversationId"]:
        conversations += (conversation["conversationId"],)
    return Contract(base_url, launched, conversations)


@pytest.fixture(scope="module", params=BACKENDS)
def contract(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Contract]:
    """flowtrack with the sandbox and data, served from a thread, on each database."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("contract") / "flowtrack.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        database = f"sqlite:///{path}"
    else:
        name = f"flowtrack_contract_{uuid.uuid4().hex[:12]}"
        _create_database(name, request.getfixturevalue("postgres_template"))
        database = _database_url(name)
    try:
        with in_thread(lambda: contract_app(database)) as running:
            yield running
    finally:
        if request.param != "sqlite":
            _drop_database(name)


# The document the server serves (a test above checks they are the same), loaded at
# collection so that every operation is a test of its own.
schema = schemathesis.openapi.from_dict(
    document_of(create_app(settings_for("sqlite:///unused.db"))), config=CONFIG
)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_breaks_the_contract(case: schemathesis.Case, contract: Contract) -> None:
    case.call_and_validate(base_url=contract.base_url, checks=CHECKS)


def test_answers_about_stored_data_keep_the_contract(contract: Contract) -> None:
    # Generated ids almost never name stored data: ask about what is there.
    write = {"Authorization": f"Bearer {WRITE_KEY}"}
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/v1/events", {}),
        ("GET", "/api/v1/events", {"query": {"limit": 1}}),
        ("GET", "/api/v1/dead-letters", {}),
        ("GET", "/api/v1/launches", {"query": {"limit": 1}}),
        ("GET", "/api/v1/flows", {"query": {"limit": 1}}),
    ]
    for launch_id in contract.launches.values():
        path = {"path_parameters": {"launch_id": launch_id}}
        calls += [
            ("GET", "/api/v1/launches/{launch_id}", path),
            ("GET", "/api/v1/launches/{launch_id}/transitions", path),
            ("GET", "/api/v1/events", {"query": {"launchId": launch_id}}),
        ]
    calls.append(
        (
            "POST",
            "/api/v1/launches/{launch_id}/terminate",
            {"path_parameters": {"launch_id": contract.launches[FLOW_OK]}},
        )
    )
    for conversation in contract.conversations:
        calls.append(
            (
                "GET",
                "/api/v1/conversations/{conversation_id}/transitions",
                {"path_parameters": {"conversation_id": conversation}},
            )
        )
    for flow in (*contract.launches, EXAMPLE_FLOW, "f-foreign"):
        calls.append(
            ("GET", "/api/v1/flows/{flow_id}/stats", {"path_parameters": {"flow_id": flow}})
        )
    launch = {"body": {"flowId": EXAMPLE_FLOW}, "headers": {"Idempotency-Key": "contract"}}
    calls += [("POST", "/api/v1/launches", launch), ("POST", "/api/v1/launches", launch)]
    statuses = []
    for method, path, parts in calls:
        case = schema[path][method].Case(**parts)
        response = case.call_and_validate(base_url=contract.base_url, headers=write, checks=CHECKS)
        statuses.append(response.status_code)
        # Follow each list to its second page, so cursors are checked too.
        cursor = response.json().get("nextCursor") if response.status_code == 200 else None
        if cursor:
            query = {**parts.get("query", {}), "cursor": cursor}
            case = schema[path][method].Case(**{**parts, "query": query})
            case.call_and_validate(base_url=contract.base_url, headers=write, checks=CHECKS)
    assert statuses[-2:] == [201, 200]
    assert set(statuses[:-2]) == {200}, statuses
