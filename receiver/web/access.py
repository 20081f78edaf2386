"""Who may call what: API keys (read-write and read-only, sent as Bearer tokens), and the
guard that enforces each route's declared access."""

from __future__ import annotations

import functools
import hmac
from typing import Any, cast

from starlette.requests import Request
from starlette.routing import Route

from receiver.errors import Forbidden, Unauthenticated
from receiver.web.operations import Handler, declared


class ApiUnauthorized(Unauthenticated):
    """No API key, or one flowtrack does not know."""

    code = "unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="flowtrack"'}


class ApiForbidden(Forbidden):
    """A read-only key asked for a write."""

    code = "forbidden"


class ApiKeys:
    """Checks ``Authorization: Bearer <key>`` against the configured keys (constant-time)."""

    def __init__(self, write: tuple[str, ...], read: tuple[str, ...], *, insecure: bool) -> None:
        self._write = tuple(key.encode() for key in write)
        self._read = tuple(key.encode() for key in read)
        self._open = insecure and not write and not read

    def require(self, request: Request, *, write: bool = False) -> None:
        """Raise unless the request carries a key allowed to read (or to write)."""
        if self._open:
            return
        authorization = request.headers.get("authorization", "")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiUnauthorized("missing API key: send 'Authorization: Bearer <key>'")
        presented = value.strip().encode()
        if _matches(presented, self._write):
            return
        if _matches(presented, self._read):
            if write:
                raise ApiForbidden("this API key is read-only; this operation needs a write key")
            return
        raise ApiUnauthorized("invalid API key")


def _matches(presented: bytes, keys: tuple[bytes, ...]) -> bool:
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented, key)
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
