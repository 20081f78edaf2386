"""Console sign-in: an API key exchanged for a signed session cookie.

The cookie is signed (itsdangerous), ``HttpOnly`` and ``SameSite=Strict``, and holds
the key's name, whether it may write, the session's CSRF token and a keyed digest of
the key — never the key itself. Each request checks the digest against the keys
configured now, so a key removed from the settings ends its sessions at the next
restart, and a session never outlives ``FLOWTRACK_UI_SESSION_HOURS``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from receiver.errors import Unauthenticated
from receiver.settings.console import ConsoleConfig
from receiver.settings.values import ApiKey
from receiver.web.access import ANONYMOUS, ApiKeys, Identity

log = logging.getLogger("flowtrack.console")

COOKIE = "flowtrack_session"
PATH = "/ui"


class SignInRefused(Unauthenticated):
    """The key given at sign-in is not an API key flowtrack knows."""

    code = "sign_in_refused"


@dataclass(frozen=True)
class Session:
    """A signed-in console user: who, and the token their forms must carry."""

    identity: Identity
    csrf: str


def session_secret(config: ConsoleConfig) -> str:
    """The configured secret, or a random one for this process (logged as a warning)."""
    if config.secret is not None:
        return config.secret
    log.warning(
        "FLOWTRACK_UI_SECRET is not set: console sessions are signed with a random secret; "
        "they end when this process stops and other replicas do not accept them",
        extra={"action": "console.secret_generated"},
    )
    return secrets.token_urlsafe(32)


class Sessions:
    """Issues and reads session cookies for the keys configured now."""

    def __init__(
        self,
        config: ConsoleConfig,
        secret: str,
        write_keys: Iterable[ApiKey],
        read_keys: Iterable[ApiKey],
        *,
        insecure: bool,
    ) -> None:
        self._max_age = int(config.session_hours * 3600)
        self._serializer = URLSafeTimedSerializer(secret, salt="flowtrack.console.session")
        self._digest_key = hashlib.sha256(b"flowtrack.console.key:" + secret.encode()).digest()
        self._known = {
            self._digest(key.key): Identity(key.name, write=write)
            for keys, write in ((write_keys, True), (read_keys, False))
            for key in keys
        }
        # FLOWTRACK_INSECURE_API without keys: anyone may sign in, as the API lets anyone in.
        self._open = insecure and not self._known

    def sign_in(self, api_keys: ApiKeys, key: str) -> Session:
        """A new session for ``key``, checked by the API's own key check; or SignInRefused."""
        identity = api_keys.identify(key)
        if identity is None:
            raise SignInRefused("that is not an API key this flowtrack knows")
        return Session(identity, secrets.token_urlsafe(24))

    def read(self, request: Request) -> Session | None:
        """The request's session, when its cookie is signed, fresh and its key still known."""
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=self._max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        if self._open:
            return Session(ANONYMOUS, data["c"])
        identity = self._known.get(str(data.get("k")))
        return None if identity is None else Session(identity, data["c"])

    def store(self, response: Response, session: Session, key: str, *, secure: bool) -> None:
        """Set the session cookie on ``response`` (``Secure`` when served over HTTPS)."""
        data = {"n": session.identity.name, "c": session.csrf, "k": self._digest(key)}
        response.set_cookie(
            COOKIE,
            self._serializer.dumps(data),
            max_age=self._max_age,
            path=PATH,
            httponly=True,
            samesite="strict",
            secure=secure,
        )

    @staticmethod
    def clear(response: Response) -> None:
        """Remove the session cookie."""
        response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")

    def _digest(self, key: str) -> str:
        return hmac.new(self._digest_key, key.encode(), hashlib.sha256).hexdigest()[:32]
