"""``flowtrack rollups``: the flow statistics' rollups, on the database itself.

Unlike the other client verbs these talk to the database (``FLOWTRACK_DATABASE_URL``),
not to the REST API, like ``flowtrack migrate``:

- ``flowtrack rollups status``: where the rollups stand and how far behind they are;
- ``flowtrack rollups rebuild``: empty them and take every stored event and launch
  again (after an upgrade, or to repair them). Safe while flowtrack runs: the running
  replicas' jobs advance the same rollups alongside, a batch at a time, and statistics
  read meanwhile show what has been taken so far. Statistics for periods whose events
  retention already deleted cannot be rebuilt: they are lost.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from receiver.logs import configure_logging
from receiver.settings import Settings


def add_commands(commands: Any) -> None:
    """Register ``flowtrack rollups`` on the CLI's subcommands."""
    rollups = commands.add_parser("rollups", help="the flow statistics' rollups (database)")
    verbs = rollups.add_subparsers(dest="verb", metavar="VERB", required=True)
    status = verbs.add_parser("status", help="where the rollups stand")
    status.set_defaults(run=_status)
    rebuild = verbs.add_parser("rebuild", help="recompute the rollups from the stored events")
    rebuild.add_argument("--batch", type=int, default=5000, help="events per batch")
    rebuild.set_defaults(run=_rebuild)


def _engine() -> Any:
    from storage.engine import make_engine

    settings = Settings.from_env(serving=False)
    configure_logging(settings.log_level, settings.log_format)
    return make_engine(settings.database_url)


def _status(args: argparse.Namespace) -> int:
    from storage.rollups import lag

    engine = _engine()
    try:
        behind, state = lag(engine)
    finally:
        engine.dispose()
    advanced = state.advanced_at.isoformat() if state.advanced_at else "never"
    print(f"at event {state.position}, {behind} behind; last advanced {advanced}")
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    from storage.rollups import advance, lag, reset

    engine = _engine()
    started = time.monotonic()
    taken = 0
    try:
        reset(engine)
        print("rollups emptied; taking every event again")
        while True:
            report = advance(engine, limit=args.batch)
            taken += report.events
            if not report.more and not report.conflict:
                break
            if report.events and taken // 100_000 != (taken - report.events) // 100_000:
                print(f"… {taken} events taken")
        behind, state = lag(engine)
    finally:
        engine.dispose()
    seconds = time.monotonic() - started
    print(
        f"rebuilt from {taken} events in {seconds:.1f} s; at event {state.position}, "
        f"{behind} behind",
    )
    return 0
