"""How a setting is declared: one ``FLOWTRACK_*`` variable, its parser, default and help.

A :class:`~receiver.settings.catalog.Settings` field's default is ``setting(variable,
parser, default as written in the environment, help)``: a ``dataclasses.field`` whose
default is the parsed default and whose metadata keeps the :class:`Setting`, so the
field's default, its parsing and its error messages all come from that one declaration.
``setting_group`` does the same for a field built from several variables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

PREFIX = "FLOWTRACK_"
T = TypeVar("T")

#: Key of a field's declaration in its dataclass metadata.
DECLARATION: Final = "flowtrack.setting"


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One ``FLOWTRACK_*`` variable: its name, parser, default and help, written once.

    ``default`` is written as it would be in the environment (``""``: unset) and goes
    through ``parse`` like any value. ``parse`` raises ValueError with what is expected;
    for a ``secret`` setting the message is dropped if it quotes the value anyway.
    """

    name: str
    parse: Callable[[str], T]
    default: str
    help: str
    secret: bool = False

    @property
    def variable(self) -> str:
        return PREFIX + self.name

    def read(self, environ: Mapping[str, str], problems: list[str]) -> T:
        """The parsed value; on a bad one, a problem naming the variable and the default."""
        raw = environ.get(self.variable, self.default)
        try:
            return self.parse(raw)
        except ValueError as exc:
            message = str(exc)
            if self.secret and _quotes(message, raw):
                message = "invalid value (not shown: it is a secret)"
            problems.append(f"{self.variable}: {message}")
            return self.parse(self.default)


@dataclass(frozen=True)
class SettingGroup(Generic[T]):
    """Variables that together build one field (``FLOWTRACK_GENESYS_*`` → ``genesys``).

    Each variable is parsed (and reported) on its own; ``build`` gets the values by name,
    the names given a non-blank value, and the problem list for the cross-checks.
    """

    settings: tuple[Setting[Any], ...]
    build: Callable[[Mapping[str, Any], Set[str], list[str]], T]

    def read(self, environ: Mapping[str, str], problems: list[str]) -> T:
        values = {setting.name: setting.read(environ, problems) for setting in self.settings}
        given = {s.name for s in self.settings if environ.get(s.variable, "").strip()}
        return self.build(values, given, problems)


def _quotes(message: str, raw: str) -> bool:
    parts = [raw.strip(), *(part.strip() for part in raw.split(","))]
    return any(part in message for part in parts if part)


def setting(
    name: str, parse: Callable[[str], T], default: str, help: str, *, secret: bool = False
) -> T:
    """A :class:`Settings` field declared by its variable; its default is ``parse(default)``."""
    declaration = Setting(name, parse, default, help, secret)
    metadata = {DECLARATION: declaration}
    value = parse(default)
    if type(value).__hash__ is None:  # mutable (a dict): every instance gets its own
        return field(default_factory=lambda: parse(default), repr=not secret, metadata=metadata)
    return field(default=value, repr=not secret, metadata=metadata)


def setting_group(
    build: Callable[[Mapping[str, Any], Set[str], list[str]], T], *settings: Setting[Any]
) -> T:
    """A :class:`Settings` field built from several variables; its default is built from theirs."""
    group = SettingGroup(settings, build)
    return field(default=group.read({}, []), metadata={DECLARATION: group})
