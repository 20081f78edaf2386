from __future__ import annotations

import logging

import httpx
import pytest

from receiver.genesys import GenesysClient, GenesysError
from tests.receiver.genesys.conftest import SECRET, FakeGenesys, error_body, reply

EXECUTION = "/api/v2/flows/executions/e-1"
CREDENTIAL_FIELD = "callback-token-value"


def everything_logged(records: list[logging.LogRecord]) -> str:
    """Each record's message plus every attribute a structured formatter could emit."""
    return "\n".join(f"{record.getMessage()} {vars(record)!r}" for record in records)


async def test_secrets_never_appear_in_logs_or_errors(
    fake: FakeGenesys, client: GenesysClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="receiver.genesys")
    fake.on(
        "GET",
        EXECUTION,
        reply(401, error_body(401, "credentials.expired")),
        reply(503, text="<html>down</html>"),
        httpx.ReadTimeout("slow"),
        reply(200, {"id": "e-1", "status": "RUNNING"}),
    )
    fake.on("POST", "/api/v2/integrations/credentials", reply(500, error_body(500, "boom")))
    errors: list[GenesysError] = []

    await client.get_execution("e-1")
    try:
        await client.integrations.create_credential(
            "flowtrack", "userDefined", {"token": CREDENTIAL_FIELD}
        )
    except GenesysError as error:
        errors.append(error)

    logged = everything_logged(caplog.records) + "\n".join(
        f"{error!s} {error.to_json()!r} {error.__cause__!r}" for error in errors
    )
    assert len(errors) == 1
    for secret in (SECRET, "token-1", "token-2", CREDENTIAL_FIELD, "Basic ", "Bearer "):
        assert secret not in logged


async def test_each_try_is_logged_with_a_stable_action_and_its_fields(
    fake: FakeGenesys, client: GenesysClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="receiver.genesys")
    fake.on(
        "GET",
        EXECUTION,
        reply(503, error_body(503, "service.unavailable")),
        reply(200, {"id": "e-1"}, headers={"ININ-Correlation-Id": "corr-1"}),
    )

    await client.get_execution("e-1")

    requests = [r for r in caplog.records if getattr(r, "action", None) == "genesys.request"]
    assert [(r.status, r.attempt, r.levelno) for r in requests] == [  # type: ignore[attr-defined]
        (503, 1, logging.WARNING),
        (200, 2, logging.DEBUG),
    ]
    last = requests[-1]
    assert (last.method, last.path, last.correlation_id) == (  # type: ignore[attr-defined]
        "GET",
        EXECUTION,
        "corr-1",
    )
    assert isinstance(last.elapsed_ms, float)  # type: ignore[attr-defined]
    actions = {getattr(r, "action", None) for r in caplog.records}
    assert {"genesys.token", "genesys.request", "genesys.retry"} <= actions


async def test_a_transport_failure_is_logged_with_its_type(
    fake: FakeGenesys, client: GenesysClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="receiver.genesys")
    fake.on("GET", EXECUTION, httpx.ConnectError("refused"), reply(200, {"id": "e-1"}))

    await client.get_execution("e-1")

    failed = [r for r in caplog.records if getattr(r, "error", None) == "ConnectError"]
    assert len(failed) == 1
    assert failed[0].action == "genesys.request"  # type: ignore[attr-defined]
