"""API keys for the REST API: read-write keys and read-only keys, sent as Bearer tokens."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from receiver.errors import FlowtrackError


class ApiUnauthorized(FlowtrackError):
    status = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="flowtrack"'}


class ApiForbidden(FlowtrackError):
    status = 403
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
