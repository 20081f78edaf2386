"""The data action runs' metrics, registered on the app's registry
(``receiver.telemetry.metrics.Metrics.registry``).

Labels are bounded: action ids are the org's actions (capped), states and failure
reasons fixed vocabularies.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.engine import RowMapping

#: Actions named in the labels (the rest are ``action="other"``).
MAX_ACTIONS = 100
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)


class ActionMetrics:
    """Runs finished, retried and recovered; executed runs' latency."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._actions: set[str] = set()
        self._runs = Counter(
            "flowtrack_action_runs_total",
            "Data action runs that reached a final state, by action, state and failure reason "
            "(`cached`: answered from the cache).",
            ("action", "state", "reason", "cached"),
            registry=registry,
        )
        self._latency = Histogram(
            "flowtrack_action_run_seconds",
            "Execution time of data action runs sent to Genesys (all attempts).",
            ("action",),
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._retries = Counter(
            "flowtrack_action_retries_total",
            "Attempts of data action runs repeated, by why the previous one failed.",
            ("reason",),
            registry=registry,
        )
        self._refused = Counter(
            "flowtrack_action_inputs_refused_total",
            "Run requests refused before execution: the input broke the action's contract.",
            ("action",),
            registry=registry,
        )
        self._recovered = Counter(
            "flowtrack_action_runs_recovered_total",
            "Running runs of a stopped process: `requeued` (idempotent) or `unknown`.",
            ("outcome",),
            registry=registry,
        )

    def finished(self, row: RowMapping) -> None:
        action = self._label(row["action_id"])
        cached = "true" if row["cached_from"] else "false"
        self._runs.labels(action, row["state"], row["failure_reason"] or "", cached).inc()
        if row["latency_ms"] is not None and not row["cached_from"]:
            self._latency.labels(action).observe(row["latency_ms"] / 1000)

    def refused(self, action_id: str) -> None:
        self._refused.labels(self._label(action_id)).inc()

    def retried(self, reason: str) -> None:
        self._retries.labels(reason).inc()

    def recovered(self, requeued: int, unknown: int) -> None:
        self._recovered.labels("requeued").inc(requeued)
        self._recovered.labels("unknown").inc(unknown)

    def _label(self, action_id: str) -> str:
        if action_id in self._actions:
            return action_id
        if len(self._actions) < MAX_ACTIONS:
            self._actions.add(action_id)
            return action_id
        return "other"
