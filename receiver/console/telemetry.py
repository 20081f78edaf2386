"""The console's metrics, registered on the app's registry
(``receiver.telemetry.metrics.Metrics.registry``) when the console first answers."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter
from starlette.requests import Request

#: Where the console leaves its metrics in each request's scope.
METRICS_KEY = "flowtrack.console.metrics"


class ConsoleMetrics:
    """Sign-ins by outcome, and pages refused or failed by error code."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._sign_ins = Counter(
            "flowtrack_console_sign_ins_total",
            "Console sign-ins, by outcome (`read`, `write`: accepted for a key of that kind; "
            "`refused`: not a known key).",
            ("outcome",),
            registry=registry,
        )
        self._refused = Counter(
            "flowtrack_console_refusals_total",
            "Console requests answered with an error page, by error code (`csrf_refused`, "
            "`forbidden`, `invalid_filter`, `http_error`, …).",
            ("code",),
            registry=registry,
        )

    def signed_in(self, outcome: str) -> None:
        self._sign_ins.labels(outcome).inc()

    def refused(self, code: str) -> None:
        self._refused.labels(code).inc()


def metrics_of(request: Request) -> ConsoleMetrics:
    """The console's metrics (made by :class:`receiver.console.routes.Console`)."""
    found: ConsoleMetrics = request.scope[METRICS_KEY]
    return found
