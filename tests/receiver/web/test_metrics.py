import logging
import uuid
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from receiver.app import create_app
from receiver.serving.server import running_server
from tests.conftest import FLOW_CALL, FLOW_FAILS, FLOW_OK, READ_KEY, WRITE_KEY, settings_for
from tests.receiver.launches.test_sweep import tracked  # noqa: F401  (a fixture)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(base_url: str, key: str | None = READ_KEY) -> Samples:
    """``GET /metrics``, parsed by prometheus_client's own parser."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def event(**fields: Any) -> dict[str, Any]:
    return {"event": "node_enter", "eventId": str(uuid.uuid4()), "launchId": "l-1", **fields}


async def test_callbacks_are_counted_by_result_and_events_by_kind_and_source(
    client: httpx.AsyncClient,
) -> None:
    body = event(nodeId="n-1")
    await client.post("/webhooks/genesys", json=body)
    await client.post("/webhooks/genesys", json=body)
    await client.post(
        "/webhooks/genesys", content=b"{nope", headers={"content-type": "application/json"}
    )
    await client.post("/webhooks/genesys", json={"no": "event"})
    samples = await scrape(str(client.base_url))
    callbacks = "flowtrack_callbacks_total"
    assert value(samples, callbacks, result="accepted", reason="") == 1
    assert value(samples, callbacks, result="duplicate", reason="") == 1
    assert value(samples, callbacks, result="refused", reason="malformed_json") == 1
    assert value(samples, callbacks, result="refused", reason="uninterpretable") == 1
    assert value(samples, callbacks, result="refused", reason="unauthorized") == 0
    stored = "flowtrack_events_stored_total"
    assert value(samples, stored, kind="node_enter", source="data_action") == 1
    assert value(samples, "flowtrack_dead_letters_stored_total") == 1
    # Two commits: the event, then the dead letter (the duplicate stores nothing new).
    assert value(samples, "flowtrack_writer_batch_events_count") >= 2
    assert value(samples, "flowtrack_writer_commit_seconds_count") >= 2
    assert value(samples, "flowtrack_writer_queue_depth") == 0
    assert value(samples, "flowtrack_launches", state="running") == 0


async def test_metrics_need_a_read_key(server: Any) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        anonymous = await http.get("/metrics")
        written = await http.get("/metrics", headers={"Authorization": f"Bearer {WRITE_KEY}"})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "unauthorized"
    assert written.status_code == 200


async def test_metrics_are_public_with_the_setting_and_the_document_says_so(
    database_url: str,
) -> None:
    app = create_app(settings_for(database_url, FLOWTRACK_METRICS_PUBLIC="1"))
    async with running_server(app) as server:
        samples = await scrape(server.base_url, key=None)
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            document = (await http.get("/openapi.json")).json()
    assert ("flowtrack_callbacks_total", (("reason", ""), ("result", "accepted"))) in samples
    operation = document["paths"]["/metrics"]["get"]
    assert "security" not in operation or operation["security"] == []


async def test_the_document_shows_metrics_needing_a_read_key(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    operation = document["paths"]["/metrics"]["get"]
    assert "text/plain" in operation["responses"]["200"]["content"]
    assert operation.get("security")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_launches_and_genesys_calls_are_counted(
    launcher: tuple[Any, Any], launch_api: httpx.AsyncClient
) -> None:
    server, app = launcher
    for flow in (FLOW_OK, FLOW_FAILS, "bbbbbbbb-0000-4000-8000-00000000dead"):
        await launch_api.post("/api/v1/launches", json={"flowId": flow})
    await app.state.services.tracker.settled()
    samples = await scrape(server.base_url)
    assert value(samples, "flowtrack_launches", state="launch_failed") == 1
    assert sum(value(samples, "flowtrack_launches", state=s) for s in ("pending", "running")) == 2
    unknown = "bbbbbbbb-0000-4000-8000-00000000dead"
    outcome = value(samples, "flowtrack_launch_outcomes_total", flow=unknown, state="launch_failed")
    assert outcome == 1
    failed = value(samples, "flowtrack_launch_duration_seconds_count", state="launch_failed")
    assert failed == 1
    assert value(samples, "flowtrack_genesys_token_requests_total", status="200") == 1
    launches = "POST /api/v2/flows/executions"
    assert value(samples, "flowtrack_genesys_requests_total", operation=launches, status="200") == 2
    assert value(samples, "flowtrack_genesys_request_seconds_count", operation=launches) == 3
    assert value(samples, "flowtrack_sweep_overdue_found_total") == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_sweep_is_counted(tracked: Any) -> None:  # noqa: F811
    flowtrack = await tracked()
    launch = await flowtrack.launch(FLOW_CALL, timeoutSeconds=1)
    await flowtrack.until(launch["id"], "timed_out")
    samples = await scrape(str(flowtrack.api.base_url))
    assert value(samples, "flowtrack_sweep_overdue_found_total") >= 1
    assert value(samples, "flowtrack_sweep_disconnects_requested_total") == 1
    assert value(samples, "flowtrack_sweep_terminations_confirmed_total") == 1
    assert value(samples, "flowtrack_sweep_termination_failed_total") == 0
    assert value(samples, "flowtrack_launches", state="timed_out") == 1


async def test_a_503_for_missing_genesys_settings_is_no_error_in_the_log(
    api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await api.post("/api/v1/launches", json={"flowId": FLOW_OK})
    assert response.status_code == 503
    assert response.json()["error"] == "genesys_not_configured"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    [line] = [r for r in caplog.records if getattr(r, "action", None) == "http.unavailable"]
    assert line.levelno == logging.WARNING
