"""One delivery attempt: a signed POST to the address the host was checked to resolve to.

Each endpoint host gets its own connection pool, so a connection (and the certificate
it verified) is only ever reused for the host it was opened for. Redirects are not
followed (a 3xx is a failed attempt); the whole attempt, name resolution included, has
one deadline; a request body over :data:`MAX_REQUEST_BYTES` is never sent, and at most
:data:`MAX_RESPONSE_BYTES` of an answer are read (kept in the delivery log).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from receiver.webhooks.addresses import RefusedAddress, UrlPolicy, resolve

MAX_REQUEST_BYTES = 256 * 1024
MAX_RESPONSE_BYTES = 4096


@dataclass(frozen=True)
class Answer:
    """What one attempt got: a status (None: no answer), latency, an error, what it said."""

    status: int | None
    seconds: float
    error: str | None = None
    body: str | None = None
    retry_after: float | None = None
    #: No attempt of this message can ever succeed (its body is over the cap).
    hopeless: bool = False

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` in seconds (a number, or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class Sender:
    """Sends attempts; one connection pool per endpoint host, closed with :meth:`aclose`."""

    def __init__(self, policy: UrlPolicy, *, timeout_seconds: float, per_host: int) -> None:
        self._policy = policy
        self._timeout = timeout_seconds
        self._per_host = per_host
        self._clients: dict[tuple[str, str, int | None], httpx.AsyncClient] = {}

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    def _client(self, url: httpx.URL) -> httpx.AsyncClient:
        key = (url.scheme, url.host, url.port)
        client = self._clients.get(key)
        if client is None:
            client = httpx.AsyncClient(
                follow_redirects=False,
                timeout=self._timeout,
                trust_env=False,  # no proxy or .netrc credentials from the environment
                limits=httpx.Limits(
                    max_connections=self._per_host, max_keepalive_connections=self._per_host
                ),
            )
            self._clients[key] = client
        return client

    async def post(self, raw_url: str, body: bytes, headers: dict[str, str]) -> Answer:
        """POST ``body`` to ``raw_url``; never raises for what the network or receiver does."""
        started = time.perf_counter()
        if len(body) > MAX_REQUEST_BYTES:
            too_big = f"body of {len(body)} bytes is over {MAX_REQUEST_BYTES}"
            return Answer(None, 0.0, too_big, hopeless=True)
        url = httpx.URL(raw_url)
        error: str
        try:
            async with asyncio.timeout(self._timeout):
                address = await resolve(url, self._policy)
                status, said, later = await self._send(url, str(address), body, headers)
        except RefusedAddress as exc:
            error = str(exc)
        except TimeoutError:
            error = f"no answer within {self._timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{exc.__class__.__name__}: {exc}" if str(exc) else repr(exc)
        else:
            seconds = time.perf_counter() - started
            if 200 <= status < 300:
                return Answer(status, seconds, None, said, later)
            error = f"answered {status}"
            if 300 <= status < 400:
                error += " (redirects are not followed)"
            return Answer(status, seconds, error, said, later)
        return Answer(None, time.perf_counter() - started, error)

    async def _send(
        self, url: httpx.URL, address: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str | None, float | None]:
        client = self._client(url)
        # To the address just checked, under the URL's own name (Host, TLS SNI and
        # certificate check), so a second resolution cannot send it elsewhere.
        request = client.build_request(
            "POST",
            url.copy_with(host=address),
            content=body,
            headers={**headers, "host": url.netloc.decode("ascii")},
            extensions={"sni_hostname": url.host} if url.scheme == "https" else {},
        )
        response = await client.send(request, stream=True)
        kept = bytearray()
        try:
            async for chunk in response.aiter_raw():
                kept += chunk
                if len(kept) >= MAX_RESPONSE_BYTES:
                    break
        finally:
            await response.aclose()
        said = bytes(kept[:MAX_RESPONSE_BYTES]).decode("utf-8", "replace") or None
        later = retry_after(response.headers.get("retry-after"), datetime.now(UTC))
        return response.status_code, said, later
