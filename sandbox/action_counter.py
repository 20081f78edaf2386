"""Per action, what ``execute`` and ``test`` did: the proof a test needs of "executed once".

``executed`` counts the execute calls whose request was sent to the action's remote
endpoint (calls refused by the limits or by input validation never get there, so they
are not in it); ``tested`` the same for ``test``. ``outcomes`` says how the execute
calls ended: ``succeeded`` or one of :data:`~sandbox.action_errors.REASONS`.
Served by ``GET /sandbox/actions/executions``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sandbox.stats import Stats


class ExecutionCounter:
    """Counts per action id, mirrored as totals into the sandbox :class:`Stats`."""

    def __init__(self, stats: Stats) -> None:
        self._stats = stats
        self._sent: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._outcomes: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def sent(self, action_id: str, *, test: bool) -> None:
        """One request is going to the remote endpoint now."""
        kind = "tested" if test else "executed"
        self._sent[action_id][kind] += 1
        self._stats.incr(f"actions.{kind}")

    def ended(self, action_id: str, outcome: str, *, test: bool) -> None:
        if test:
            return
        self._outcomes[action_id][outcome] += 1
        self._stats.incr(f"actions.outcomes.{outcome}")

    def reset(self) -> None:
        self._sent.clear()
        self._outcomes.clear()

    def to_json(self, names: dict[str, str], action_id: str | None = None) -> dict[str, Any]:
        """``{"total": n, "actions": {id: {"name", "executed", "tested", "outcomes"}}}``."""
        ids = sorted(self._sent.keys() | self._outcomes.keys())
        if action_id is not None:
            ids = [action_id]
        empty: Counter[str] = Counter()
        actions: dict[str, dict[str, Any]] = {
            i: {
                "name": names.get(i),
                "executed": self._sent.get(i, empty)["executed"],
                "tested": self._sent.get(i, empty)["tested"],
                "outcomes": dict(sorted(self._outcomes.get(i, empty).items())),
            }
            for i in ids
        }
        total = sum(self._sent.get(i, empty)["executed"] for i in ids)
        return {"total": total, "actions": actions}
