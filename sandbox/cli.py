"""``flowtrack sandbox``: run the sandbox standalone (API, login path and WebSockets)."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from sandbox.app import create_sandbox_app
from sandbox.config import SandboxConfig
from sandbox.errors import SandboxError
from sandbox.flows import load_flow_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``flowtrack sandbox`` options on ``parser``."""
    defaults = SandboxConfig()
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8010, help="port to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--flows", metavar="FILE", help="flow file (JSON or YAML); default: built-in samples"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for every random choice")
    parser.add_argument("--client-id", default=defaults.client_id, help="OAuth client id")
    parser.add_argument(
        "--client-secret", default=defaults.client_secret, help="OAuth client secret"
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=defaults.time_scale,
        help="multiplier on node durations (default: %(default)s)",
    )
    parser.add_argument("--eventbridge-url", default=None, help="POST EventBridge envelopes here")
    parser.add_argument(
        "--public-base-url",
        default=None,
        help="externally visible base URL for connectUri (default: the request's Host)",
    )
    parser.add_argument(
        "--token-lifetime",
        type=int,
        default=defaults.token_lifetime_seconds,
        help="access token lifetime in seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=defaults.rate_limit_per_minute,
        help="API requests per minute per client (default: %(default)s)",
    )


def config_from(args: argparse.Namespace) -> SandboxConfig:
    """The :class:`SandboxConfig` described by parsed ``flowtrack sandbox`` arguments."""
    return SandboxConfig(
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_lifetime_seconds=args.token_lifetime,
        rate_limit_per_minute=args.rate_limit,
        seed=args.seed,
        flows=load_flow_file(args.flows) if args.flows else None,
        time_scale=args.time_scale,
        eventbridge_url=args.eventbridge_url,
        public_base_url=args.public_base_url,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; 0 on a clean stop, 2 on an invalid configuration."""
    try:
        config = config_from(args)
    except (SandboxError, OSError) as exc:
        print(f"flowtrack sandbox: {exc}", file=sys.stderr)
        return 2
    app = create_sandbox_app(config)
    print(
        f"Genesys sandbox on http://{args.host}:{args.port} "
        f"(client {config.client_id!r}, {len(list(app.state.sandbox.catalog))} flows)"
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", lifespan="on")
    return 0
