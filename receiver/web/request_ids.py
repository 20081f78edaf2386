"""Request ids: taken from ``X-Request-Id`` or made, echoed on the response, and put on
every log line of the request (``receiver.logs.REQUEST_ID``).

Applied in ``receiver.app.FlowtrackApp`` itself, not a middleware, so the callback
endpoint (which runs ahead of the middleware) gets one too.
"""

from __future__ import annotations

import itertools
import os
import re

from starlette.types import Message, Send

HEADER = b"x-request-id"
#: Where the callback endpoint finds the id in the ASGI scope (it writes its own header).
SCOPE_KEY = "flowtrack.request_id"
# Unique per process (random) and per request (counted): cheaper than random bytes from
# the kernel on every request, and as good for telling requests apart.
_PREFIX = os.urandom(4).hex()
_COUNTER = itertools.count(1)
# What a caller's id may be: a token that is safe in a header and in a log line.
_ACCEPTED = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")


def request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's ``X-Request-Id`` when it is a sane token, else a new random one."""
    for name, value in headers:
        if name == HEADER:
            if _ACCEPTED.fullmatch(value):
                return value.decode("ascii")
            break
    return f"{_PREFIX}{next(_COUNTER):08x}"


def echoing(send: Send, request_id: str) -> Send:
    """``send``, adding ``X-Request-Id`` to the response's headers."""
    header = (HEADER, request_id.encode("ascii"))

    async def send_with_id(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), header]
        await send(message)

    return send_with_id
