"""The webhook delivery metrics, registered on the app's registry.

``flowtrack_webhook_deliveries_total{result}``: attempts by what came of them
(``delivered``, ``retry``, ``failed``); ``flowtrack_webhook_attempt_seconds``: how long
each attempt took, answered or not.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from storage.deliveries import ATTEMPT_RESULTS

_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class WebhookMetrics:
    """Counts attempts by result and times them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._deliveries = Counter(
            "flowtrack_webhook_deliveries",
            "Webhook delivery attempts by result: delivered (2xx), retry (another attempt "
            "is scheduled), failed (none is).",
            ["result"],
            registry=registry,
        )
        for result in ATTEMPT_RESULTS:
            self._deliveries.labels(result)
        self._seconds = Histogram(
            "flowtrack_webhook_attempt_seconds",
            "Time of one webhook delivery attempt (resolution to the answer's first bytes).",
            buckets=_BUCKETS,
            registry=registry,
        )

    def attempt(self, result: str, seconds: float) -> None:
        """One attempt ended with ``result`` after ``seconds``."""
        self._deliveries.labels(result).inc()
        self._seconds.observe(seconds)
