"""Plain counters for the hot path, read by the metrics collector at scrape time.

Each is written from one thread only (the event loop, or the writer's thread), so a
``+=`` needs no lock; the collector copies what it reads.
"""

from __future__ import annotations

from collections.abc import Sequence

from storage.records import EventRecord
from storage.vocabulary import KINDS, SOURCES

#: Why a callback was refused: the ``reason`` label of ``flowtrack_callbacks_total``.
REFUSAL_REASONS = (
    "unauthorized",
    "malformed_json",
    "too_large",
    "unsupported_media_type",
    "uninterpretable",
    "unavailable",
    "internal_error",
)


class CallbackCounts:
    """Callback requests by result, and their events (event loop only)."""

    def __init__(self) -> None:
        self.accepted = 0
        self.duplicate = 0
        #: System frames (heartbeats, pongs) a relay forwarded: acknowledged, not stored.
        self.ignored = 0
        self.accepted_events = 0
        self.duplicate_events = 0
        self.refused: dict[str, int] = dict.fromkeys(REFUSAL_REASONS, 0)

    def answered(self, accepted: int, duplicates: int) -> None:
        """A callback was stored: accepted when any event was new, else a duplicate."""
        if accepted:
            self.accepted += 1
        else:
            self.duplicate += 1
        self.accepted_events += accepted
        self.duplicate_events += duplicates


class StoredCounts:
    """Committed events by kind and source, and dead letters (writer thread only)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {
            (kind, source): 0 for kind in KINDS for source in SOURCES
        }
        self.dead_letters = 0

    def add(self, stored: Sequence[EventRecord], dead_letters: int) -> None:
        """Count one batch's new rows (known kinds and sources only: the keys are fixed)."""
        counts = self._counts
        for row in stored:
            key = (row.kind, row.source)
            if key in counts:
                counts[key] += 1
        self.dead_letters += dead_letters

    def by_kind_and_source(self) -> list[tuple[tuple[str, str], int]]:
        """A copy of the counts (the writer may be adding meanwhile)."""
        return list(self._counts.copy().items())
