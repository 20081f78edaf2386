"""Dedupe keys: a 16-byte digest of what identifies one event at its source.

A digest keeps the unique index small and fixed-size whatever the sender's ids look
like; 128 bits make an accidental collision (which would drop a real event as a
"duplicate") practically impossible.
"""

from __future__ import annotations

from hashlib import blake2b


def dedupe_key(*parts: str | None) -> bytes:
    """Digest the identifying parts (None and "" are distinct from each other)."""
    text = "\x1f".join("\x00" if part is None else part for part in parts)
    return blake2b(text.encode(), digest_size=16).digest()
