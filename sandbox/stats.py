"""Counters tests and benchmarks assert on (``GET /sandbox/stats``)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any


class Stats:
    """Named counters plus per-conversation counters (disconnect and delete calls)."""

    def __init__(self) -> None:
        self._counters: Counter[str] = Counter()
        self._per_conversation: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def incr(self, name: str, amount: int = 1) -> None:
        self._counters[name] += amount

    def incr_conversation(self, name: str, conversation_id: str) -> None:
        self._per_conversation[name][conversation_id] += 1
        self._counters[name] += 1

    def get(self, name: str) -> int:
        return self._counters[name]

    def reset(self) -> None:
        self._counters.clear()
        self._per_conversation.clear()

    def to_json(self) -> dict[str, Any]:
        """``{"counters": {name: n}, "conversations": {name: {conversationId: n}}}``."""
        return {
            "counters": dict(sorted(self._counters.items())),
            "conversations": {
                name: dict(counts) for name, counts in sorted(self._per_conversation.items())
            },
        }
