"""``FLOWTRACK_*`` variables that no setting declares: typos, or settings of another version.

A misspelt variable would otherwise be ignored in silence and its default used, so the
server warns about each one at start, with the closest declared name.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from receiver.settings.declaration import PREFIX
from receiver.settings.table import declarations

#: Read by others than the server: the operator CLI (its URL and key) and the test suite.
NOT_SETTINGS = frozenset({"FLOWTRACK_URL", "FLOWTRACK_API_KEY", "FLOWTRACK_TEST_POSTGRES_URL"})


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A warning for each ``FLOWTRACK_*`` name in ``environ`` that nothing reads.

    Only names are shown, never values: a misspelt secret is still a secret.
    """
    known = {setting.variable for setting in declarations()} | NOT_SETTINGS
    # Compared without the prefix, which every name shares and would make all look alike.
    stems = sorted(name.removeprefix(PREFIX) for name in known)
    warnings = []
    for name in sorted(environ):
        if not name.startswith(PREFIX) or name in known:
            continue
        close = difflib.get_close_matches(name.removeprefix(PREFIX), stems, n=1, cutoff=0.75)
        hint = f"; did you mean {PREFIX}{close[0]}?" if close else ""
        warnings.append(f"{name} is not a flowtrack setting and is ignored{hint}")
    return warnings
