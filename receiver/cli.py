"""The ``flowtrack`` command: serve, migrate, register, sandbox; and launches, events and
dead-letters, which talk to a running flowtrack over its REST API."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Sequence

from receiver import demo as demo_cli
from receiver.client import actions as actions_cli
from receiver.client import audit as audit_cli
from receiver.client import commands as client_cli
from receiver.client import rollups as rollups_cli
from receiver.errors import FlowtrackError
from receiver.logs import configure_logging
from receiver.settings import Settings
from receiver.settings.environment import unknown_variables
from receiver.web.index import installed_version
from sandbox import cli as sandbox_cli
from storage.errors import StorageError

#: How often the running thread offers the GIL to a waiting one (Python's default: 5 ms).
SWITCH_INTERVAL_SECONDS = 0.0005


log = logging.getLogger("flowtrack.cli")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flowtrack`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        code: int = args.run(args)
    except (FlowtrackError, StorageError) as exc:
        print(f"flowtrack: {exc}", file=sys.stderr)
        return 1
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowtrack", description=__doc__)
    parser.add_argument("--version", action="version", version=f"flowtrack {installed_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the web app (uvicorn)")
    serve.add_argument(
        "--host",
        default=None,
        help="interface to bind (default 0.0.0.0; 127.0.0.1 when FLOWTRACK_INSECURE_API or "
        "FLOWTRACK_INSECURE_CALLBACKS is set)",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "8000")),
        help="port (default: $PORT, else 8000)",
    )
    serve.add_argument(
        "--migrate", action="store_true", help="apply database migrations before serving"
    )
    serve.set_defaults(run=_serve)

    demo = commands.add_parser(
        "demo", help="flowtrack and the sandbox on a local SQLite file, with flows to follow"
    )
    demo_cli.add_arguments(demo)
    demo.set_defaults(run=demo_cli.run)

    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate.set_defaults(run=_migrate)

    register = commands.add_parser(
        "register", help="create or update flowtrack's data action in Genesys, and say what changed"
    )
    register.set_defaults(run=_register)

    sandbox = commands.add_parser("sandbox", help="run the local Genesys Cloud sandbox")
    sandbox_cli.add_arguments(sandbox)
    sandbox.set_defaults(run=sandbox_cli.run)

    client_cli.add_commands(commands)
    rollups_cli.add_commands(commands)
    actions_cli.add_commands(commands)
    audit_cli.add_commands(commands)
    return parser


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from receiver.app import create_app
    from receiver.serving.protocol import HttpProtocol

    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    for warning in unknown_variables(os.environ):
        log.warning(warning, extra={"action": "settings.unknown_variable"})
    if args.migrate:
        _upgrade(settings)
    app = create_app(settings)
    # Everything imported so far lives as long as the process. Frozen, the collector
    # stops walking it: otherwise each full collection stalls every request for ~60 ms.
    gc.collect()
    gc.freeze()
    # The event writer's thread lets go of the GIL in every database call and must win
    # it back from the busy event loop; at the default 5 ms switch interval its commits
    # spent a third of their time waiting for it. 0.5 ms: about 20% more callbacks/s.
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    uvicorn.run(
        app,
        host=bind_host(args.host, settings),
        port=args.port,
        log_config=None,
        access_log=settings.access_log,
        proxy_headers=True,
        server_header=False,
        http=HttpProtocol,
    )
    return 0


def bind_host(host: str | None, settings: Settings) -> str:
    """``--host`` if given; else every interface, unless a development switch is on.

    A server that accepts unauthenticated calls must not be reachable from elsewhere by
    accident: it listens on the loopback interface only, unless ``--host`` says otherwise.
    """
    if host is not None:
        return host
    return "127.0.0.1" if settings.insecure_api or settings.insecure_callbacks else "0.0.0.0"


def _migrate(args: argparse.Namespace) -> int:
    settings = Settings.from_env(serving=False)
    configure_logging(settings.log_level, settings.log_format)
    revision = _upgrade(settings)
    print(f"database is at migration {revision}")
    return 0


def _register(args: argparse.Namespace) -> int:
    import asyncio

    from receiver.registration.register import register_from_settings

    settings = Settings.from_env(serving=False)
    configure_logging(settings.log_level, settings.log_format)
    report = asyncio.run(register_from_settings(settings))
    print("\n".join(report.lines()))
    return 0


def _upgrade(settings: Settings) -> str:
    from storage.engine import make_engine
    from storage.migrations import check_ready, upgrade

    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        return check_ready(engine)
    finally:
        engine.dispose()
