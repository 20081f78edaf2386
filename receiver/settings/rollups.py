"""The ``FLOWTRACK_ROLLUP*`` variables: how the rollups advance and how long they are kept.

They are declared together in the one :class:`~receiver.settings.catalog.Settings`
field they build, ``rollups`` (docs/rollups.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any, Final

from receiver.settings.declaration import PREFIX, Setting
from receiver.settings.values import flag, optional_positive_int, positive_float, positive_int


@dataclass(frozen=True)
class RollupsConfig:
    """The rollup job's pace and the rollups' own retention (None: forever)."""

    enabled: bool
    interval_seconds: float
    batch_events: int
    hourly_days: int
    retention_days: int | None


def rollups_config(
    values: Mapping[str, Any], given: Set[str], problems: list[str]
) -> RollupsConfig:
    """The rollup settings; hourly rows are never kept longer than daily ones."""
    hourly, kept = values["ROLLUP_HOURLY_DAYS"], values["ROLLUP_RETENTION_DAYS"]
    if kept is not None and hourly > kept:
        problems.append(
            f"{PREFIX}ROLLUP_HOURLY_DAYS: at most {PREFIX}ROLLUP_RETENTION_DAYS ({kept})"
        )
        hourly = kept
    return RollupsConfig(
        enabled=values["ROLLUPS"],
        interval_seconds=values["ROLLUP_INTERVAL"],
        batch_events=values["ROLLUP_BATCH_EVENTS"],
        hourly_days=hourly,
        retention_days=kept,
    )


SETTINGS: Final = (
    Setting(
        "ROLLUPS",
        flag,
        "true",
        "Advance the flow statistics' rollups in the background (see "
        "[docs/rollups.md](docs/rollups.md)); off, another replica must do it.",
    ),
    Setting(
        "ROLLUP_INTERVAL",
        positive_float,
        "0.5",
        "Seconds between two rollup runs; a run takes every new event and changed launch.",
    ),
    Setting(
        "ROLLUP_BATCH_EVENTS",
        positive_int,
        "5000",
        "Most events one rollup batch takes, each batch in its own short transaction.",
    ),
    Setting(
        "ROLLUP_HOURLY_DAYS",
        positive_int,
        "92",
        "Days the hourly rollups are kept; older windows are read by whole days.",
    ),
    Setting(
        "ROLLUP_RETENTION_DAYS",
        optional_positive_int,
        "",
        "Days the daily rollups are kept (independent of FLOWTRACK_RETENTION_DAYS: "
        "statistics outlive the events). Unset: forever.",
    ),
)
