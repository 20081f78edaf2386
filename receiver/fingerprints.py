"""The digest of a validated request that an ``Idempotency-Key`` is bound to.

A launch and a data action run keep it with what the request made; the same key sent
again with a request of another digest is refused (409) instead of replayed.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson


def request_fingerprint(request: Any) -> str:
    """SHA-256 of ``request`` as canonical JSON (keys sorted): equal requests, equal digests."""
    return hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()
