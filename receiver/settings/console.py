"""The ``FLOWTRACK_UI*`` variables: whether the web console is served, and how its
sessions are signed.

They are declared together in the one :class:`~receiver.settings.catalog.Settings`
field they build, ``console``.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any, Final

from receiver.settings.declaration import PREFIX, Setting
from receiver.settings.values import flag, positive_float, text

#: Shortest session secret accepted: 32 characters of a random token.
MIN_SECRET_CHARS: Final = 32


@dataclass(frozen=True)
class ConsoleConfig:
    """The console's settings. ``secret`` None: one is generated at start (and warned about)."""

    enabled: bool
    secret: str | None
    session_hours: float


def console_config(
    values: Mapping[str, Any], given: Set[str], problems: list[str]
) -> ConsoleConfig:
    """The console settings; a secret set but too short is a problem."""
    secret = values["UI_SECRET"] or None
    if secret is not None and len(secret) < MIN_SECRET_CHARS:
        problems.append(
            f"{PREFIX}UI_SECRET: at least {MIN_SECRET_CHARS} characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
        secret = None
    return ConsoleConfig(
        enabled=values["UI"], secret=secret, session_hours=values["UI_SESSION_HOURS"]
    )


SETTINGS: Final = (
    Setting("UI", flag, "1", "`0` turns the web console (`/ui/`) off."),
    Setting(
        "UI_SECRET",
        text,
        "",
        "Signs the console's session cookies (32+ characters). Unset: a random one per "
        "process, logged as a warning — sessions then end at each restart and are not "
        "shared between replicas.",
        secret=True,
    ),
    Setting(
        "UI_SESSION_HOURS",
        positive_float,
        "12",
        "How long a console sign-in lasts.",
    ),
)
