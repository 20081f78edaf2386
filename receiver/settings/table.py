"""The README's configuration table, generated from the :class:`Settings` declarations.

``python -m receiver.settings`` prints it; README.md keeps a copy between its
``<!-- settings:start -->`` and ``<!-- settings:end -->`` lines, which a test compares.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from receiver.settings.catalog import Settings
from receiver.settings.declaration import DECLARATION, Setting, SettingGroup


def declarations() -> tuple[Setting[Any], ...]:
    """Every ``FLOWTRACK_*`` variable, in the order of the :class:`Settings` fields."""
    found: list[Setting[Any]] = []
    for each in fields(Settings):
        declaration = each.metadata[DECLARATION]
        if isinstance(declaration, SettingGroup):
            found.extend(declaration.settings)
        else:
            found.append(declaration)
    return tuple(found)


def configuration_table() -> str:
    """The README's configuration table (markdown), one row per declared variable."""
    rows = ["| Variable | Default | Description |", "|---|---|---|"]
    for setting in declarations():
        default = f"`{setting.default}`" if setting.default else "\N{EN DASH}"
        described = (
            "**Secret**: never shown in logs or error messages. " if setting.secret else ""
        ) + setting.help
        cell = described.replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{setting.variable}` | {default} | {cell} |")
    return "\n".join(rows)


def main() -> None:
    """``python -m receiver.settings``: print the table to paste into the README."""
    print(configuration_table())
