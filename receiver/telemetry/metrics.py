"""Every metric flowtrack exposes, declared once, in one registry per app.

Conventions: the ``flowtrack_`` prefix, base units (seconds), ``_total`` counters, and
label sets bounded by construction: reasons, kinds, sources and states are fixed
vocabularies; Genesys operations are request templates (ids replaced), capped; flow ids
only for flows flowtrack launched, capped.

The hot path never touches a prometheus object: the callback endpoint adds to plain
ints (:class:`~receiver.telemetry.counts.CallbackCounts`) and the writer reports once
per batch (:meth:`Metrics.writer_batch`); a collector reads those, the writer's queue,
the sweeper's totals and the latest launch tally when Prometheus scrapes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from receiver.telemetry.callbacks import CallbackMonitor
from receiver.telemetry.counts import REFUSAL_REASONS, CallbackCounts, StoredCounts
from storage.errors import StorageError
from storage.tallies import DURATION_BUCKETS, LaunchTally, TallyStore
from storage.vocabulary import STATES
from storage.writer import Batch

log = logging.getLogger("flowtrack.metrics")

#: Flows named in ``flowtrack_launch_outcomes_total`` (the rest are ``flow="other"``).
MAX_FLOWS = 50
#: Genesys request templates named (the rest are ``operation="other"``).
MAX_OPERATIONS = 100

_COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
_GENESYS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)


class WriterGauges(Protocol):
    """What the collector reads from the writer (storage.writer.EventWriter)."""

    @property
    def queue_depth(self) -> int: ...

    @property
    def failed_batches(self) -> int: ...


class SweepTotals(Protocol):
    """What the sweeper has done since start (receiver.launches.sweep.SweepReport)."""

    claimed: int
    disconnects: int
    confirmed: int
    stopped: int
    failures: int
    gave_up: int


class Metrics:
    """The app's registry and every metric in it; also the Genesys client's observer."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.callbacks = CallbackMonitor()
        self.stored = StoredCounts()
        self.launch_tally: LaunchTally | None = None
        self.tallies: TallyStore | None = None
        self.writer: WriterGauges | None = None
        self.sweep: SweepTotals | None = None
        registry = self.registry
        self._commit_seconds = Histogram(
            "flowtrack_writer_commit_seconds",
            "Time to store and commit one batch of the group-commit writer.",
            buckets=_COMMIT_BUCKETS,
            registry=registry,
        )
        self._batch_events = Histogram(
            "flowtrack_writer_batch_events",
            "Events in one committed batch (all requests waiting when it began).",
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self._genesys_requests = Counter(
            "flowtrack_genesys_requests",
            "Genesys Platform API requests by operation and status (HTTP status, or the "
            "transport error's name).",
            ["operation", "status"],
            registry=registry,
        )
        self._genesys_seconds = Histogram(
            "flowtrack_genesys_request_seconds",
            "Genesys Platform API request latency, one try.",
            ["operation"],
            buckets=_GENESYS_BUCKETS,
            registry=registry,
        )
        self._genesys_rate_limited = Counter(
            "flowtrack_genesys_rate_limited",
            "Genesys answers 429 (too many requests).",
            ["operation"],
            registry=registry,
        )
        self._genesys_retries = Counter(
            "flowtrack_genesys_retries",
            "Genesys requests repeated after a failed try.",
            ["operation"],
            registry=registry,
        )
        self._genesys_tokens = Counter(
            "flowtrack_genesys_token_requests",
            "Access token requests (first token, renewals, and after a 401) by status.",
            ["status"],
            registry=registry,
        )
        self._operations: set[str] = set()
        registry.register(_ScrapeCollector(self))

    async def refresh(self) -> None:
        """Count the launches again (before a scrape); on a database error keep the last
        count, so the other metrics are still served while the database is down."""
        if self.tallies is None:
            return
        try:
            self.launch_tally = await self.tallies.launches(max_flows=MAX_FLOWS)
        except StorageError as exc:
            log.warning(f"launch tally failed: {exc}", extra={"action": "metrics.tally_failed"})

    # -- the writer (called on its thread, once per batch) ---------------------------

    def writer_batch(self, batch: Batch) -> None:
        """Record one committed batch (``EventWriter``'s ``on_batch``)."""
        self._commit_seconds.observe(batch.seconds)
        self._batch_events.observe(batch.events)
        self.stored.add(batch.stored, batch.dead_letters)

    # -- Genesys (receiver.genesys.observer.GenesysObserver) -------------------------

    def responded(self, operation: str, status: str, seconds: float) -> None:
        """One Genesys HTTP exchange ended."""
        operation = self._bounded(operation)
        self._genesys_requests.labels(operation, status).inc()
        self._genesys_seconds.labels(operation).observe(seconds)
        if status == "429":
            self._genesys_rate_limited.labels(operation).inc()

    def retrying(self, operation: str, status: str) -> None:
        """A Genesys request is about to be repeated."""
        self._genesys_retries.labels(self._bounded(operation)).inc()

    def token_requested(self, status: str) -> None:
        """An access token was requested."""
        self._genesys_tokens.labels(status).inc()

    def _bounded(self, operation: str) -> str:
        if operation in self._operations:
            return operation
        if len(self._operations) >= MAX_OPERATIONS:
            return "other"
        self._operations.add(operation)
        return operation


class _ScrapeCollector(Collector):
    """What is read when Prometheus scrapes rather than counted as it happens."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        metrics = self._metrics
        yield from _callbacks(metrics.callbacks.counts)
        yield from _stored(metrics.stored)
        if metrics.writer is not None:
            yield GaugeMetricFamily(
                "flowtrack_writer_queue_depth",
                "Requests waiting for the writer's next batch.",
                value=metrics.writer.queue_depth,
            )
            yield CounterMetricFamily(
                "flowtrack_writer_failed_batches",
                "Batches whose commit failed (every request in them answered 503 or 500).",
                value=metrics.writer.failed_batches,
            )
        if metrics.sweep is not None:
            yield from _sweep(metrics.sweep)
        if metrics.launch_tally is not None:
            yield from _launches(metrics.launch_tally)


def _callbacks(counts: CallbackCounts) -> Iterable[Metric]:
    requests = CounterMetricFamily(
        "flowtrack_callbacks",
        "Callback requests by result; a refusal by reason.",
        labels=["result", "reason"],
    )
    requests.add_metric(["accepted", ""], counts.accepted)
    requests.add_metric(["duplicate", ""], counts.duplicate)
    requests.add_metric(["ignored", ""], counts.ignored)
    refused = counts.refused.copy()
    for reason in REFUSAL_REASONS:
        requests.add_metric(["refused", reason], refused.get(reason, 0))
    yield requests
    events = CounterMetricFamily(
        "flowtrack_callback_events",
        "Events in accepted callbacks: new ones, and repeats of stored ones.",
        labels=["result"],
    )
    events.add_metric(["accepted"], counts.accepted_events)
    events.add_metric(["duplicate"], counts.duplicate_events)
    yield events


def _stored(stored: StoredCounts) -> Iterable[Metric]:
    events = CounterMetricFamily(
        "flowtrack_events_stored",
        "Events committed, by kind and source.",
        labels=["kind", "source"],
    )
    for (kind, source), count in sorted(stored.by_kind_and_source()):
        events.add_metric([kind, source], count)
    yield events
    yield CounterMetricFamily(
        "flowtrack_dead_letters_stored",
        "Bodies kept as dead letters (valid JSON, not an event flowtrack can read).",
        value=stored.dead_letters,
    )


def _sweep(totals: SweepTotals) -> Iterable[Metric]:
    for name, help_text, value in (
        ("overdue_found", "Overdue launches the sweep claimed.", totals.claimed),
        ("disconnects_requested", "Conversation disconnects requested.", totals.disconnects),
        ("terminations_confirmed", "Terminations confirmed ended.", totals.confirmed),
        ("stops_requested", "Launches told to stop on their next callback.", totals.stopped),
        ("attempt_failures", "Sweep attempts that failed (retried later).", totals.failures),
        ("termination_failed", "Launches given up on (termination_failed).", totals.gave_up),
    ):
        yield CounterMetricFamily(f"flowtrack_sweep_{name}", help_text, value=value)


def _launches(tally: LaunchTally) -> Iterable[Metric]:
    states = GaugeMetricFamily(
        "flowtrack_launches", "Launches held, by state (read at scrape time).", labels=["state"]
    )
    for state in STATES:
        states.add_metric([state], tally.by_state.get(state, 0))
    yield states
    outcomes = CounterMetricFamily(
        "flowtrack_launch_outcomes",
        "Ended launches held, by flow and end state (retention lowers it: a reset).",
        labels=["flow", "state"],
    )
    for flow, state, count in tally.outcomes:
        outcomes.add_metric([flow or "other", state], count)
    yield outcomes
    durations = HistogramMetricFamily(
        "flowtrack_launch_duration_seconds",
        "From launch to end, of ended launches held, by end state.",
        labels=["state"],
    )
    for state, found in sorted(tally.durations.items()):
        buckets = [
            (str(float(bound)), float(count))
            for bound, count in zip(DURATION_BUCKETS, found.buckets, strict=True)
        ]
        buckets.append(("+Inf", float(found.count)))
        durations.add_metric([state], buckets, found.total_seconds)
    yield durations
