"""When and how long to wait before repeating a failed Genesys call.

Policy (genesys-api.md §2.3): only 429, 502, 503, 504 and transport failures are
repeated; a 429 waits for its ``Retry-After`` (whole seconds) unless that exceeds the
cap, everything else waits a jittered exponential backoff. Whether a given call may be
repeated at all (the non-idempotent launch) is the caller's decision, not this module's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import httpx

from receiver.genesys.config import GenesysConfig

#: Statuses worth a second try: rejected before processing (429) or a gateway/upstream
#: hiccup (502, 503, 504). The Java SDK retries exactly these.
RETRYABLE_STATUSES: Final = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempt and time budget plus the backoff curve.

    ``random`` returns a float in [0, 1); it is injected so tests are deterministic.
    """

    max_attempts: int
    max_retry_seconds: float
    retry_after_cap_seconds: float
    backoff_base_seconds: float
    backoff_max_seconds: float
    random: Callable[[], float]

    @classmethod
    def from_config(cls, config: GenesysConfig, random: Callable[[], float]) -> RetryPolicy:
        return cls(
            max_attempts=config.max_attempts,
            max_retry_seconds=config.max_retry_seconds,
            retry_after_cap_seconds=config.retry_after_cap_seconds,
            backoff_base_seconds=config.backoff_base_seconds,
            backoff_max_seconds=config.backoff_max_seconds,
            random=random,
        )

    def backoff(self, attempt: int) -> float:
        """Wait after the ``attempt``-th failed try: half fixed, half random ("equal jitter").

        The fixed half guarantees the wait grows; the random half spreads replicas apart.
        """
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * 2.0 ** (attempt - 1))
        return ceiling / 2 + self.random() * ceiling / 2

    def rate_limited_delay(self, retry_after: float | None, attempt: int) -> float | None:
        """Wait before repeating a 429, or ``None`` when ``Retry-After`` exceeds the cap."""
        if retry_after is None:
            return self.backoff(attempt)
        if retry_after > self.retry_after_cap_seconds:
            return None
        # Everyone told "17 s" would otherwise come back in the same instant.
        return retry_after + self.random() * self.backoff_base_seconds

    def allows(self, attempt: int, elapsed: float, delay: float) -> bool:
        """Whether another try fits after ``attempt`` tries and ``elapsed`` seconds."""
        return attempt < self.max_attempts and elapsed + delay <= self.max_retry_seconds


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """The ``Retry-After`` header in seconds, or ``None`` when absent or unusable.

    Genesys sends delta-seconds; the HTTP-date form is not used by the platform and is
    treated as absent (the backoff then applies).
    """
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)
