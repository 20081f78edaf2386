"""OAuth client credentials on the login path, and bearer tokens for the API.

``POST /oauth/token`` takes ``grant_type=client_credentials`` with the client id and
secret in a Basic header (form fields ``client_id``/``client_secret`` are accepted too,
genesys-api.md §1.3). Token errors use the OAuth shape ``{"error", "description"}``, not
``ErrorBody``, like the real login host.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from sandbox.errors import Unauthorized
from sandbox.wire import JSONResponse


@dataclass(frozen=True)
class AccessToken:
    value: str
    client_id: str
    expires_at: float


class TokenStore:
    """Issues and checks the bearer tokens of the one OAuth client the sandbox knows."""

    def __init__(self, client_id: str, client_secret: str, lifetime_seconds: int) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self.lifetime_seconds = lifetime_seconds
        self._tokens: dict[str, AccessToken] = {}

    def credentials_match(self, client_id: str, client_secret: str) -> bool:
        return secrets.compare_digest(client_id, self._client_id) and secrets.compare_digest(
            client_secret, self._client_secret
        )

    def issue(self, client_id: str) -> AccessToken:
        token = AccessToken(
            value=secrets.token_urlsafe(32),
            client_id=client_id,
            expires_at=time.monotonic() + self.lifetime_seconds,
        )
        self._tokens[token.value] = token
        return token

    def authenticate(self, authorization: str | None) -> AccessToken:
        """The token behind an ``Authorization: Bearer`` header, or 401."""
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("No authentication bearer token specified in authorization header.")
        token = self._tokens.get(value.strip())
        if token is None:
            raise Unauthorized("Invalid login credentials.", code="bad.credentials")
        if time.monotonic() >= token.expires_at:
            raise Unauthorized("Invalid login credentials.", code="credentials.expired")
        return token

    def expire_all(self) -> int:
        """Make every issued token expired (a test hook for re-authentication)."""
        expired = {k: AccessToken(t.value, t.client_id, 0.0) for k, t in self._tokens.items()}
        self._tokens = expired
        return len(expired)


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


async def token_endpoint(request: Request) -> Response:
    """``POST /oauth/token``: exchange client credentials for a bearer token."""
    tokens: TokenStore = request.app.state.sandbox.tokens
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    credentials = _basic_credentials(request.headers.get("authorization"))
    if credentials is None and "client_id" in form:
        credentials = (form["client_id"], form.get("client_secret", ""))
    if credentials is None or not tokens.credentials_match(*credentials):
        return JSONResponse(
            {"error": "invalid_client", "description": "client credentials are invalid"},
            status_code=401,
        )
    if form.get("grant_type") != "client_credentials":
        return JSONResponse(
            {"error": "unsupported_grant_type", "description": "use client_credentials"},
            status_code=400,
        )
    token = tokens.issue(credentials[0])
    request.app.state.sandbox.stats.incr("tokens.issued")
    return JSONResponse(
        {
            "access_token": token.value,
            "token_type": "bearer",
            "expires_in": tokens.lifetime_seconds,
        }
    )
