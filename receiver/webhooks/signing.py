"""Standard Webhooks signing: secrets, and the headers every message is sent with.

``webhook-signature`` is ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``; during
a rotation's grace period it carries one signature per secret, space-separated, which
the spec allows and its libraries accept (any one valid signature is enough).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence

PREFIX = "whsec_"
#: 24 random bytes: the spec asks for 24 to 64.
SECRET_BYTES = 24
USER_AGENT = "flowtrack-webhooks/1"


def new_secret() -> str:
    """A fresh signing secret, ``whsec_`` and base64."""
    return PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<signature>`` of the message with ``secret``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one attempt: id, timestamp, a signature per secret, content type.

    Nothing else: flowtrack's own credentials never leave with a message.
    """
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(each, message_id, timestamp, body) for each in secrets),
    }
