"""Launch ids: UUIDv7, time-ordered so the indexes keyed by them grow at the end."""

from __future__ import annotations

import secrets
import time
import uuid


def new_launch_id() -> str:
    """A UUIDv7 (RFC 9562): time-ordered, so the indexes keyed by launch id grow at the end.

    Every event of a launch carries its id; random ids would scatter those index entries
    over the whole index, one page written per event, where recent ids share hot pages.
    """
    return uuid7(time.time_ns() // 1_000_000, secrets.randbits(80))


def uuid7(milliseconds: int, random_bits: int) -> str:
    """The UUIDv7 for a Unix time in milliseconds and 80 random bits (6 become fixed)."""
    value = milliseconds << 80 | random_bits & ((1 << 80) - 1)
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # variant RFC 9562
    return str(uuid.UUID(int=value))
