"""What the callback endpoint tells operators: counts for metrics, and log lines for
every refusal and dead letter — throttled, since a misconfigured sender refuses them all.

Never logged: a token, a signature, a body.
"""

from __future__ import annotations

import logging

from receiver.telemetry.counts import CallbackCounts
from receiver.telemetry.throttle import ThrottledLog

log = logging.getLogger("flowtrack.callbacks")


class CallbackMonitor:
    """Counts callbacks by result and logs refusals and dead letters (event loop only)."""

    def __init__(self, *, lines_per_minute: int = 10) -> None:
        self.counts = CallbackCounts()
        self._refusals = ThrottledLog(log, "callback.refused", lines=lines_per_minute)
        self._dead_letters = ThrottledLog(log, "dead_letter.stored", lines=lines_per_minute)

    def answered(self, accepted: int, duplicates: int) -> None:
        """A callback's events are committed."""
        self.counts.answered(accepted, duplicates)

    def ignored(self) -> None:
        """A notification channel's system frame (heartbeat, pong, …) was acknowledged."""
        self.counts.ignored += 1

    def refused(
        self,
        reason: str,
        *,
        status: int,
        code: str,
        message: str,
        remote: str | None,
        webhook_id: str | None,
    ) -> None:
        """A callback was refused (``reason`` is one of ``REFUSAL_REASONS``)."""
        refused = self.counts.refused
        refused[reason] = refused.get(reason, 0) + 1
        self._refusals.warning(
            reason,
            f"callback refused ({status} {code}): {message}",
            status=status,
            reason=reason,
            code=code,
            remote_address=remote,
            webhook_id=webhook_id,
        )

    def dead_letter_stored(
        self, message: str, *, remote: str | None, webhook_id: str | None
    ) -> None:
        """A body that is not an event was kept as a dead letter."""
        self._dead_letters.warning(
            "dead_letter",
            f"dead letter stored: {message}",
            remote_address=remote,
            webhook_id=webhook_id,
        )

    def flush(self) -> None:
        """Write the pending "N more suppressed" lines (at shutdown)."""
        self._refusals.flush()
        self._dead_letters.flush()
