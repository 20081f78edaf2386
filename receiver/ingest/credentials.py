"""Callback authentication, checked on the raw bytes before anything is parsed.

Two schemes, each with several values active at once so they can be rotated:
- a static token (what a Genesys data action credential or an EventBridge API
  destination sends) in ``Authorization: Bearer <token>`` or ``X-Flowtrack-Token``;
- Standard Webhooks HMAC-SHA256 signatures (``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature`` with one or more ``v1,<base64>`` entries).
Comparisons are constant-time; messages never echo a credential.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping

from receiver.errors import Unauthenticated
from receiver.settings import Settings, WebhookSecret


class CallbackUnauthorized(Unauthenticated):
    """Missing or bad callback credentials; nothing was stored."""

    code = "unauthorized"


class CallbackCredentials:
    """Decides whether a callback request is authentic."""

    def __init__(
        self,
        tokens: tuple[str, ...],
        secrets: tuple[WebhookSecret, ...],
        *,
        tolerance_seconds: int = 300,
        insecure: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._tokens = tuple(token.encode() for token in tokens)
        self._secrets = secrets
        self._tolerance = tolerance_seconds
        self._open = insecure and not tokens and not secrets
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> CallbackCredentials:
        return cls(
            settings.callback_tokens,
            settings.webhook_secrets,
            tolerance_seconds=settings.webhook_tolerance_seconds,
            insecure=settings.insecure_callbacks,
        )

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Return if the request is authentic, else raise :class:`CallbackUnauthorized`."""
        if self._open:
            return
        token = _presented_token(headers)
        if token is not None and self._tokens:
            if self._token_matches(token.encode()):
                return
            raise CallbackUnauthorized("invalid callback token")
        if "webhook-signature" in headers:
            if not self._secrets:
                raise CallbackUnauthorized("webhook signatures are not configured on this server")
            self._verify_signature(headers, body)
            return
        if token is not None:
            raise CallbackUnauthorized("callback tokens are not configured on this server")
        schemes = []
        if self._tokens:
            schemes.append("'Authorization: Bearer <token>' or 'X-Flowtrack-Token'")
        if self._secrets:
            schemes.append("Standard Webhooks signature headers")
        raise CallbackUnauthorized(f"missing credentials: send {' or '.join(schemes)}")

    def _token_matches(self, presented: bytes) -> bool:
        # Check every token so the time taken does not reveal which one is close.
        matched = False
        for token in self._tokens:
            matched |= hmac.compare_digest(presented, token)
        return matched

    def _verify_signature(self, headers: Mapping[str, str], body: bytes) -> None:
        message_id = headers.get("webhook-id")
        stamp = headers.get("webhook-timestamp")
        if not message_id or not stamp:
            raise CallbackUnauthorized("webhook-id and webhook-timestamp headers are required")
        try:
            sent_at = int(stamp)
        except ValueError:
            raise CallbackUnauthorized(
                "webhook-timestamp must be whole seconds since 1970"
            ) from None
        if abs(self._clock() - sent_at) > self._tolerance:
            raise CallbackUnauthorized(
                f"webhook-timestamp is more than {self._tolerance} seconds from the server's clock"
            )
        presented = []
        for entry in headers["webhook-signature"].split():
            version, _, value = entry.partition(",")
            if version == "v1":
                try:
                    presented.append(base64.b64decode(value, validate=True))
                except (binascii.Error, ValueError):
                    continue
        if not presented:
            raise CallbackUnauthorized("webhook-signature has no v1,<base64> signature")
        signed = b"%s.%s.%s" % (message_id.encode(), stamp.encode(), body)
        matched = False
        for secret in self._secrets:
            expected = hmac.new(secret.key, signed, hashlib.sha256).digest()
            for signature in presented:
                matched |= hmac.compare_digest(expected, signature)
        if not matched:
            raise CallbackUnauthorized("webhook signature does not match")


def sign(secret: WebhookSecret, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for a body (senders, tests and benchmarks use it)."""
    signed = b"%s.%d.%s" % (message_id.encode(), timestamp, body)
    digest = hmac.new(secret.key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _presented_token(headers: Mapping[str, str]) -> str | None:
    token = headers.get("x-flowtrack-token")
    if token:
        return token
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None
