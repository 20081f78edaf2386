import pytest
from starlette.requests import Request

from receiver.settings import ApiKey
from receiver.web.access import (
    ANONYMOUS,
    ApiForbidden,
    ApiKeys,
    ApiUnauthorized,
    Identity,
    identity_of,
)

OPS = "o" * 20
READER = "r" * 20
KEYS = ApiKeys([ApiKey("ops", OPS)], [ApiKey("dashboards", READER)], insecure=False)


def request_with(key: str | None) -> Request:
    headers = [] if key is None else [(b"authorization", f"Bearer {key}".encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def test_the_caller_is_known_by_the_name_of_its_key() -> None:
    request = request_with(OPS)
    assert KEYS.require(request, write=True) == Identity("ops", write=True)
    assert identity_of(request) == Identity("ops", write=True)
    assert KEYS.require(request_with(READER)) == Identity("dashboards", write=False)


def test_a_read_key_may_not_write_and_an_unknown_key_is_refused() -> None:
    with pytest.raises(ApiForbidden):
        KEYS.require(request_with(READER), write=True)
    with pytest.raises(ApiUnauthorized, match="invalid API key"):
        KEYS.require(request_with("x" * 20))
    with pytest.raises(ApiUnauthorized, match="missing API key"):
        KEYS.require(request_with(None))


def test_without_keys_an_insecure_api_is_called_anonymously() -> None:
    request = request_with(None)
    assert ApiKeys([], [], insecure=True).require(request, write=True) == ANONYMOUS
    assert identity_of(request_with(None)) == ANONYMOUS


def test_a_bare_key_is_identified_without_a_request() -> None:
    assert KEYS.identify(OPS) == Identity("ops", write=True)
    assert KEYS.identify(READER) == Identity("dashboards", write=False)
    assert KEYS.identify("x" * 20) is None
    assert KEYS.identify("") is None
    assert KEYS.identify(f"Bearer {OPS}") is None  # a bare key, not a header
    open_keys = ApiKeys([], [], insecure=True)
    assert open_keys.identify("anything") == ANONYMOUS
