"""Who may call what: API keys (read-write and read-only, sent as Bearer tokens), and the
guard that enforces each route's declared access."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from starlette.requests import Request
from starlette.routing import Route

from receiver.errors import Forbidden, Unauthenticated
from receiver.settings.values import ApiKey
from receiver.web.operations import Handler, declared


class ApiUnauthorized(Unauthenticated):
    """No API key, or one flowtrack does not know."""

    code = "unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="flowtrack"'}


class ApiForbidden(Forbidden):
    """A read-only key asked for a write."""

    code = "forbidden"


@dataclass(frozen=True)
class Identity:
    """Who made a request: the name of its API key, and whether that key may write."""

    name: str
    write: bool


#: Who calls when the API is served without keys (``FLOWTRACK_INSECURE_API=1``).
ANONYMOUS = Identity("anonymous", write=True)


class ApiKeys:
    """Checks ``Authorization: Bearer <key>`` against the configured keys (constant-time)."""

    def __init__(self, write: Iterable[ApiKey], read: Iterable[ApiKey], *, insecure: bool) -> None:
        self._write = tuple((key.key.encode(), key.name) for key in write)
        self._read = tuple((key.key.encode(), key.name) for key in read)
        self._open = insecure and not self._write and not self._read

    def require(self, request: Request, *, write: bool = False) -> Identity:
        """The caller's identity; raises unless its key may read (or write).

        The identity is also left on ``request.state.identity`` for the handler.
        """
        identity = self._identify(request, write=write)
        request.state.identity = identity
        return identity

    def identify(self, key: str) -> Identity | None:
        """Whose key this is (a bare key, no scheme), or None when flowtrack does not know it.

        Served without keys (``FLOWTRACK_INSECURE_API=1``), any key is the anonymous caller.
        """
        if self._open:
            return ANONYMOUS
        if not key:
            return None
        presented = key.encode()
        name = _matching(presented, self._write)
        if name is not None:
            return Identity(name, write=True)
        name = _matching(presented, self._read)
        return None if name is None else Identity(name, write=False)

    def _identify(self, request: Request, *, write: bool) -> Identity:
        if self._open:
            return ANONYMOUS
        authorization = request.headers.get("authorization", "")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiUnauthorized("missing API key: send 'Authorization: Bearer <key>'")
        identity = self.identify(value.strip())
        if identity is None:
            raise ApiUnauthorized("invalid API key")
        if write and not identity.write:
            raise ApiForbidden("this API key is read-only; this operation needs a write key")
        return identity


def identity_of(request: Request) -> Identity:
    """Who made the request, as the guard found it (anonymous on an unguarded route)."""
    found = getattr(request.state, "identity", None)
    return found if isinstance(found, Identity) else ANONYMOUS


def _matching(presented: bytes, keys: tuple[tuple[bytes, str], ...]) -> str | None:
    # Every key is compared, so the time taken does not say which one matched.
    matched = None
    for key, name in keys:
        if hmac.compare_digest(presented, key):
            matched = name
    return matched


def guarded(handler: Handler) -> Handler:
    """``handler``, checking the API key its declared operation's ``access`` asks for.

    The one place access is enforced: handlers never check keys themselves. ``public``
    needs nothing; ``callback`` is checked by the callback endpoint on the raw body it
    must read first (a Standard Webhooks signature covers the bytes).
    """
    spec = declared(handler)
    if spec is None:
        name = getattr(handler, "__qualname__", handler)
        raise ValueError(f"{name} declares no operation (decorate it with @operation)")
    if spec.access not in ("read", "write"):
        return handler
    write = spec.access == "write"

    @functools.wraps(handler)
    async def checked(request: Request) -> Any:
        keys: ApiKeys = request.app.state.services.api_keys
        keys.require(request, write=write)
        return await handler(request)

    return cast(Handler, checked)


def route(path: str, handler: Handler, method: str) -> Route:
    """A route to ``handler``, guarded as its operation declares."""
    return Route(path, guarded(handler), methods=[method])
