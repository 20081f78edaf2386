"""The REST API as the operator CLI calls it: one httpx client, errors as the API says them.

The CLI reads ``FLOWTRACK_URL`` and ``FLOWTRACK_API_KEY`` (or ``--url`` / ``--key``):
client-side variables, which the server's settings never read (see
``receiver.settings.environment.NOT_SETTINGS``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

DEFAULT_URL = "http://127.0.0.1:8000"
URL_VARIABLE = "FLOWTRACK_URL"
KEY_VARIABLE = "FLOWTRACK_API_KEY"
TIMEOUT_SECONDS = 30.0


class ClientError(Exception):
    """A request failed: the API refused it (its message), or flowtrack was unreachable."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class Api:
    """A running flowtrack's REST API, with the API key sent on every request."""

    def __init__(self, url: str | None = None, key: str | None = None) -> None:
        self.url = (url or os.environ.get(URL_VARIABLE) or DEFAULT_URL).rstrip("/")
        key = key or os.environ.get(KEY_VARIABLE)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=TIMEOUT_SECONDS)
        #: The status of the latest answer (202: accepted, still in progress).
        self.status: int | None = None

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def get(self, path: str, params: Mapping[str, str | None] | None = None) -> Any:
        """``GET path`` with the given (non-empty) query parameters; the decoded body."""
        given = {name: value for name, value in (params or {}).items() if value}
        return self._send("GET", path, params=given)

    def post(self, path: str, body: Any = None) -> Any:
        """``POST path`` with ``body`` as JSON (none when None); the decoded body."""
        content = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": "application/json"} if content is not None else {}
        return self._send("POST", path, content=content, headers=headers)

    def _send(self, method: str, path: str, **options: Any) -> Any:
        try:
            response = self._http.request(method, path, **options)
        except httpx.TransportError as exc:
            raise ClientError(
                f"cannot reach flowtrack at {self.url} ({exc.__class__.__name__}: {exc}); "
                f"is it running? set --url or {URL_VARIABLE}"
            ) from None
        self.status = response.status_code
        if response.is_success:
            return response.json() if response.content else None
        raise ClientError(_refusal(response), status=response.status_code)


def _refusal(response: httpx.Response) -> str:
    """The API's own words for a refusal: ``message (error, HTTP status)``."""
    try:
        body = response.json()
    except ValueError:
        body = None
    status = f"HTTP {response.status_code}"
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        code = body.get("error")
        said = f"{code}, {status}" if code else status
        message = f"{body['message']} ({said})"
        if response.status_code == 401:
            message += f"; pass --key or set {KEY_VARIABLE}"
        return message
    text = response.text.strip()[:200]
    return f"{status} from {response.request.url}" + (f": {text}" if text else "")
