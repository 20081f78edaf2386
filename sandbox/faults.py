"""Fault injection, switchable at run time and deterministic for a given seed.

Two families (JSON as served by ``GET/PUT /sandbox/faults``):

``deliveries`` applies to every outbound HTTP delivery (data-action callbacks and
EventBridge posts): ``duplicate`` (send the same request twice), ``reorder`` (hold a
request back and send it after the next one of the same run/stream), ``delay`` (wait a
random ``delayMs`` [min, max] first), ``fail`` (an attempt fails before reaching the
receiver and is retried up to ``maxRetries`` times, ``retryBackoffMs`` doubling).

``api`` applies to Platform API responses under ``paths``: ``rateLimitBurst`` (the next N
requests get 429 + ``Retry-After: retryAfterSeconds``), ``serverError`` (answer one of
``serverErrorStatuses``; 502/503/504 bodies are non-JSON HTML with probability
``nonJson``, like a CDN error page), ``slow`` (wait ``slowMs`` before answering).

Probabilities are 0..1. Every decision draws from a ``random.Random`` seeded from the
sandbox seed, one stream per family, so a seeded run makes the same choices in order.
"""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass
from typing import Any, TypeVar

from sandbox.errors import BadRequest

_PROBABILITIES = {"duplicate", "reorder", "delay", "fail", "server_error", "non_json", "slow"}


@dataclass(frozen=True)
class DeliveryFaults:
    duplicate: float = 0.0
    reorder: float = 0.0
    delay: float = 0.0
    delay_ms: tuple[int, int] = (50, 250)
    fail: float = 0.0
    max_retries: int = 3
    retry_backoff_ms: int = 50


@dataclass(frozen=True)
class ApiFaults:
    rate_limit_burst: int = 0
    server_error: float = 0.0
    server_error_statuses: tuple[int, ...] = (500, 502, 503, 504)
    non_json: float = 0.5
    slow: float = 0.0
    slow_ms: int = 1000
    retry_after_seconds: int = 1
    paths: tuple[str, ...] = ("/api/v2/",)


@dataclass(frozen=True)
class FaultSettings:
    deliveries: DeliveryFaults = DeliveryFaults()
    api: ApiFaults = ApiFaults()

    def to_json(self) -> dict[str, Any]:
        return {
            "deliveries": _to_camel(dataclasses.asdict(self.deliveries)),
            "api": _to_camel(dataclasses.asdict(self.api)),
        }

    def merged(self, patch: Any) -> FaultSettings:
        """A copy with the JSON ``patch`` applied (only the keys it names)."""
        if not isinstance(patch, dict) or set(patch) - {"deliveries", "api"}:
            raise BadRequest("Faults take an object with 'deliveries' and/or 'api'.")
        return FaultSettings(
            deliveries=_merge(self.deliveries, patch.get("deliveries", {}), "deliveries"),
            api=_merge(self.api, patch.get("api", {}), "api"),
        )


class FaultInjector:
    """Current fault settings plus the seeded random streams that decide each fault."""

    def __init__(self, seed: int | None) -> None:
        self._seed = seed
        self.settings = FaultSettings()
        self._rngs: dict[str, random.Random] = {}
        self._burst_left = 0

    def rng(self, family: str) -> random.Random:
        if family not in self._rngs:
            seed = f"{self._seed}:{family}" if self._seed is not None else None
            self._rngs[family] = random.Random(seed)
        return self._rngs[family]

    def update(self, patch: Any) -> FaultSettings:
        self.settings = self.settings.merged(patch)
        if isinstance(patch.get("api"), dict) and "rateLimitBurst" in patch["api"]:
            self._burst_left = self.settings.api.rate_limit_burst
        return self.settings

    def reset(self) -> None:
        self.settings = FaultSettings()
        self._rngs.clear()
        self._burst_left = 0

    def roll(self, family: str, probability: float) -> bool:
        # Always draw, so a seeded run's later choices do not depend on which faults are on.
        draw = self.rng(family).random()
        return draw < probability

    def take_burst(self) -> bool:
        """Consume one forced 429 of the current burst, if any is left."""
        if self._burst_left <= 0:
            return False
        self._burst_left -= 1
        return True

    def applies_to_path(self, path: str) -> bool:
        return any(path.startswith(prefix) for prefix in self.settings.api.paths)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _to_camel(values: dict[str, Any]) -> dict[str, Any]:
    return {_camel(k): list(v) if isinstance(v, tuple) else v for k, v in values.items()}


_Settings = TypeVar("_Settings", DeliveryFaults, ApiFaults)


def _merge(current: _Settings, patch: Any, family: str) -> _Settings:
    if not isinstance(patch, dict):
        raise BadRequest(f"'{family}' must be an object.")
    fields = {field.name: field for field in dataclasses.fields(current)}
    changes: dict[str, Any] = {}
    for key, value in patch.items():
        name = _snake(key)
        if name not in fields:
            raise BadRequest(f"Unknown fault setting '{family}.{key}'.")
        changes[name] = _validated(name, value, getattr(current, name), f"{family}.{key}")
    return dataclasses.replace(current, **changes)


def _validated(name: str, value: Any, current: Any, where: str) -> Any:
    if isinstance(current, tuple):
        if not isinstance(value, list) or not value:
            raise BadRequest(f"'{where}' must be a non-empty list.")
        if name == "delay_ms" and (len(value) != 2 or value[0] > value[1]):
            raise BadRequest(f"'{where}' must be [min, max].")
        return tuple(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"'{where}' must be a number.")
    if name in _PROBABILITIES:
        if not 0 <= value <= 1:
            raise BadRequest(f"'{where}' is a probability between 0 and 1.")
        return float(value)
    if value < 0:
        raise BadRequest(f"'{where}' must not be negative.")
    if value != int(value):
        raise BadRequest(f"'{where}' is a whole number (a count, milliseconds or seconds).")
    return int(value)
