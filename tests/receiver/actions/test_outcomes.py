"""Failed executes classified from both Genesys error shapes; what may be retried."""

import httpx
import orjson

from receiver.actions.outcomes import classify, correlation_id, error_codes
from receiver.genesys.errors import GenesysError, error_from_response, error_from_transport

PATH = "/api/v2/integrations/actions/a/execute"


def failed(status: int, body: dict[str, object], **headers: str) -> GenesysError:
    response = httpx.Response(status, content=orjson.dumps(body), headers=headers)
    return error_from_response(response, method="POST", path=PATH, retry_safe=False)


def test_a_remote_endpoint_5xx_is_remote_endpoint_and_retried_only_when_idempotent() -> None:
    error = failed(
        500,
        {"code": "internal.server.error", "details": [{"errorCode": "ACTION.REMOTE_ENDPOINT"}]},
    )
    outcome = classify(error)
    assert (outcome.state, outcome.reason) == ("failed", "remote_endpoint")
    assert (outcome.not_executed, outcome.transient) == (False, True)


def test_the_older_authentication_shape_is_read_with_its_correlation_id() -> None:
    body = {
        "errorCode": "INVALID_CREDENTIALS",
        "status": 400,
        "correlationId": "c-1",
        "details": [{"errorCode": "ACTION.AUTHENTICATION"}],
        "errors": [{"errorCode": "INVALID_CREDENTIALS", "details": []}],
    }
    error = failed(400, body)
    outcome = classify(error)
    assert (outcome.state, outcome.reason, outcome.transient) == ("failed", "authentication", False)
    assert correlation_id(error) == "c-1"


def test_a_429_and_a_refused_connection_are_safe_to_repeat_for_any_run() -> None:
    limited = classify(failed(429, {"code": "too.many.requests"}, **{"Retry-After": "3"}))
    assert (limited.reason, limited.not_executed) == ("rate_limited", True)
    refused = error_from_transport(
        httpx.ConnectError("refused"), method="POST", path=PATH, retry_safe=False
    )
    assert (classify(refused).reason, classify(refused).not_executed) == ("unreachable", True)


def test_a_timeout_answer_or_a_lost_answer_is_timed_out_and_not_safe() -> None:
    timeout = classify(failed(408, {"details": [{"errorCode": "ACTION.TIMEOUT"}]}))
    assert (timeout.state, timeout.reason, timeout.not_executed) == (
        "timed_out",
        "timed_out",
        False,
    )
    lost = error_from_transport(
        httpx.ReadTimeout("no answer"), method="POST", path=PATH, retry_safe=False
    )
    assert (classify(lost).state, classify(lost).not_executed) == ("timed_out", False)


def test_error_codes_are_collected_from_nested_errors_once_each() -> None:
    body = {
        "details": [{"errorCode": "ACTION.PROCESSING"}],
        "errors": [{"details": [{"errorCode": "ACTION.PROCESSING"}, {"errorCode": "X"}]}],
    }
    assert error_codes(body) == ("ACTION.PROCESSING", "X")
