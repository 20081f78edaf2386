"""Pre-signed download links for execution-data files, outside ``/api/v2``.

A job's ``downloadUri`` and a pushed ``executionHistoryUri`` point at
``/flow-execution-data/{instanceId}.json?AWSAccessKeyId=…&Expires=…&Signature=…``, the
way a pre-signed object-store link looks (genesys-api.md §16.B.3: downloaded without
auth headers). The link is the credential, as on S3: an ``Authorization`` header is a
400 (one auth mechanism only), an expired or altered link a 403, both as S3's XML errors.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import urlencode

ACCESS_KEY_ID = "ASIASANDBOXEXECDATA0"
PATH = "/flow-execution-data/{instanceId}.json"


class DownloadSigner:
    """Signs and checks download links with a key only this sandbox knows."""

    def __init__(self, ttl_seconds: int) -> None:
        self.ttl_seconds = ttl_seconds
        self._key = secrets.token_bytes(32)

    def _signature(self, instance_id: str, expires: int) -> str:
        message = f"{instance_id}:{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def uri(self, base_url: str, instance_id: str) -> str:
        expires = int(time.time()) + self.ttl_seconds
        query = urlencode(
            {
                "AWSAccessKeyId": ACCESS_KEY_ID,
                "Expires": expires,
                "Signature": self._signature(instance_id, expires),
            }
        )
        return f"{base_url.rstrip('/')}{PATH.format(instanceId=instance_id)}?{query}"

    def refusal(self, instance_id: str, expires: str, signature: str) -> str | None:
        """Why the link is refused, or None when it is valid now."""
        if not expires.isdigit() or not hmac.compare_digest(
            signature, self._signature(instance_id, int(expires))
        ):
            return "The request signature we calculated does not match the signature you provided."
        if int(expires) < time.time():
            return "Request has expired"
        return None
