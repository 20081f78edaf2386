"""The sender checks where a host resolves at each attempt, and sends nothing elsewhere."""

import ipaddress

import pytest

from receiver.webhooks.addresses import UrlPolicy, is_public
from receiver.webhooks.sender import MAX_REQUEST_BYTES, Sender
from tests.receiver.webhooks.conftest import Receiver

HEADERS = {"webhook-id": "msg_1", "content-type": "application/json"}


async def test_an_attempt_to_a_host_that_now_resolves_internally_is_refused_unsent(
    receiver: Receiver,
) -> None:
    sender = Sender(UrlPolicy(allow_http=True, allow_private=False), timeout_seconds=5, per_host=2)
    try:
        answer = await sender.post(
            receiver.url("/x").replace("127.0.0.1", "localhost"), b"{}", HEADERS
        )
    finally:
        await sender.aclose()

    assert answer.status is None
    assert answer.error is not None and "resolves to an internal address" in answer.error
    assert receiver.received == []


async def test_an_attempt_goes_to_the_checked_address_under_the_urls_own_name(
    receiver: Receiver,
) -> None:
    sender = Sender(UrlPolicy(allow_http=True, allow_private=True), timeout_seconds=5, per_host=2)
    url = receiver.url("/named").replace("127.0.0.1", "localhost")
    try:
        answer = await sender.post(url, b'{"a":1}', HEADERS)
        too_big = await sender.post(url, b"x" * (MAX_REQUEST_BYTES + 1), HEADERS)
    finally:
        await sender.aclose()

    assert (answer.status, answer.error, answer.body) == (200, None, "ok")
    (got,) = receiver.received
    assert got.headers["host"] == url.split("/")[2]
    assert got.body == b'{"a":1}'
    assert "authorization" not in got.headers
    assert too_big.hopeless and too_big.error is not None and "over" in too_big.error


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.1", False),
    ],
)
def test_only_public_addresses_count_as_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public
