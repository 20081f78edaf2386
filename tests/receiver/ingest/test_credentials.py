import time

import pytest

from receiver.ingest.credentials import CallbackCredentials, CallbackUnauthorized, sign
from receiver.settings import WebhookSecret

TOKEN = "token-0123456789abcdef"
SECRET = WebhookSecret(b"0123456789abcdef0123456789abcdef")
OLD_SECRET = WebhookSecret(b"fedcba9876543210fedcba9876543210")
BODY = b'{"event": "start", "launchId": "l-1"}'
NOW = 1_800_000_000


def credentials(**kwargs: object) -> CallbackCredentials:
    options = {"tokens": (TOKEN,), "secrets": (SECRET,), "clock": lambda: float(NOW)}
    options.update(kwargs)
    return CallbackCredentials(
        options["tokens"],  # type: ignore[arg-type]
        options["secrets"],  # type: ignore[arg-type]
        clock=options["clock"],  # type: ignore[arg-type]
        insecure=bool(options.get("insecure", False)),
    )


def signed(secret: WebhookSecret = SECRET, stamp: int = NOW, body: bytes = BODY) -> dict[str, str]:
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(secret, "msg_1", stamp, body),
    }


@pytest.mark.parametrize(
    "headers", [{"authorization": f"Bearer {TOKEN}"}, {"x-flowtrack-token": TOKEN}]
)
def test_a_configured_token_is_accepted_in_either_header(headers: dict[str, str]) -> None:
    credentials().verify(headers, BODY)


def test_a_wrong_token_is_refused() -> None:
    with pytest.raises(CallbackUnauthorized, match="invalid callback token"):
        credentials().verify({"authorization": "Bearer nope-nope-nope-nope"}, BODY)


def test_missing_credentials_say_what_to_send() -> None:
    with pytest.raises(CallbackUnauthorized, match="missing credentials: send"):
        credentials().verify({}, BODY)


def test_a_valid_signature_is_accepted() -> None:
    credentials().verify(signed(), BODY)


def test_a_signature_by_a_rotated_out_secret_is_accepted_while_both_are_configured() -> None:
    credentials(secrets=(SECRET, OLD_SECRET)).verify(signed(OLD_SECRET), BODY)


def test_one_matching_signature_among_several_is_enough() -> None:
    headers = signed()
    headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
    credentials().verify(headers, BODY)


def test_a_tampered_body_is_refused() -> None:
    with pytest.raises(CallbackUnauthorized, match="does not match"):
        credentials().verify(signed(), BODY.replace(b"l-1", b"l-2"))


@pytest.mark.parametrize("offset", [-301, 301])
def test_a_timestamp_outside_the_tolerance_is_refused(offset: int) -> None:
    with pytest.raises(CallbackUnauthorized, match="300 seconds"):
        credentials().verify(signed(stamp=NOW + offset), BODY)


def test_malformed_signature_headers_are_refused_with_the_reason() -> None:
    headers = signed()
    headers["webhook-timestamp"] = "yesterday"
    with pytest.raises(CallbackUnauthorized, match="whole seconds"):
        credentials().verify(headers, BODY)
    headers = signed()
    headers["webhook-signature"] = "v2,abc"
    with pytest.raises(CallbackUnauthorized, match="no v1"):
        credentials().verify(headers, BODY)


def test_signatures_are_refused_when_only_tokens_are_configured() -> None:
    with pytest.raises(CallbackUnauthorized, match="not configured"):
        credentials(secrets=()).verify(signed(), BODY)


def test_insecure_mode_without_credentials_accepts_anything() -> None:
    credentials(tokens=(), secrets=(), insecure=True).verify({}, BODY)


def test_insecure_mode_does_not_switch_off_configured_tokens() -> None:
    with pytest.raises(CallbackUnauthorized):
        credentials(insecure=True).verify({}, BODY)


def test_real_clock_is_used_by_default() -> None:
    checker = CallbackCredentials((), (SECRET,))
    checker.verify(signed(stamp=int(time.time())), BODY)
