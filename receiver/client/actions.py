"""``flowtrack actions list|run``: the org's data actions, and executing one through
flowtrack (over the REST API, like the other client verbs)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO
from urllib.parse import quote

import orjson

from receiver.client.api import DEFAULT_URL, KEY_VARIABLE, URL_VARIABLE, Api, ClientError
from receiver.client.tables import Column, as_json, field, pairs, table, when

ACTION_COLUMNS: list[Column] = [
    ("ID", field("id")),
    ("NAME", field("name")),
    ("CATEGORY", field("category")),
    ("VERSION", field("version")),
    ("TIMEOUT", field("timeoutSeconds")),
]
#: How long ``run --wait`` polls a run before giving up: longer than any action may run.
WAIT_SECONDS = 120.0
_FINAL = ("succeeded", "failed", "timed_out", "cancelled", "unknown")


def add_commands(commands: Any) -> None:
    """Register ``flowtrack actions`` on the CLI's subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url", help=f"flowtrack's base URL (default: ${URL_VARIABLE}, else {DEFAULT_URL})"
    )
    common.add_argument("--key", help=f"API key (default: ${KEY_VARIABLE})")
    common.add_argument("--json", action="store_true", help="print the API's JSON")
    actions = commands.add_parser("actions", help="list and run data actions (over the REST API)")
    verbs = actions.add_subparsers(dest="verb", metavar="VERB", required=True)
    listing = verbs.add_parser("list", help="the org's data actions", parents=[common])
    listing.add_argument("--name", help="only actions whose name contains this")
    listing.add_argument("--category", help="only actions of this category")
    listing.set_defaults(run=_calling(_list))
    run = verbs.add_parser(
        "run", help="execute a data action (needs a write key)", parents=[common]
    )
    run.add_argument("action_id", metavar="ACTION_ID", help="the data action's id")
    run.add_argument("--input", required=True, help="the input, a JSON object")
    run.add_argument(
        "--wait", action="store_true", help="wait for the result (exit 1 unless it succeeded)"
    )
    run.add_argument("--coerce", action="store_true", help="convert values to the schema's types")
    run.add_argument("--dry-run", action="store_true", help="use Genesys's test instead")
    run.add_argument("--idempotent", action="store_true", help="5xx and timeouts may be retried")
    run.add_argument("--cache-ttl", type=int, help="reuse a success this many seconds old")
    run.set_defaults(run=_calling(_run))


def _calling(run: Callable[[Api, argparse.Namespace, TextIO], int]) -> Callable[..., int]:
    def call(args: argparse.Namespace) -> int:
        try:
            with Api(args.url, args.key) as api:
                return run(api, args, sys.stdout)
        except ClientError as exc:
            print(f"flowtrack: {exc.message}", file=sys.stderr)
            return 1

    return call


def _list(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    body = api.get("/api/v1/actions", {"name": args.name, "category": args.category})
    if args.json:
        as_json(body, out)
    else:
        table(body["items"], ACTION_COLUMNS, out)
    return 0


def _run(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    try:
        given = orjson.loads(args.input)
    except orjson.JSONDecodeError as exc:
        raise ClientError(f"--input is not JSON: {exc}") from None
    request: dict[str, Any] = {
        "input": given,
        "coerce": args.coerce,
        "dryRun": args.dry_run,
        "idempotent": args.idempotent,
    }
    if args.cache_ttl is not None:
        request["cacheTtlSeconds"] = args.cache_ttl
    run = api.post(f"/api/v1/actions/{quote(args.action_id, safe='')}/runs", request)
    if args.wait:
        deadline = time.monotonic() + WAIT_SECONDS
        while run["state"] not in _FINAL and time.monotonic() < deadline:
            time.sleep(0.25)
            run = api.get(f"/api/v1/action-runs/{quote(run['id'], safe='')}")
    if args.json:
        as_json(run, out)
    else:
        describe(run, out)
    return 0 if not args.wait or run["state"] == "succeeded" else 1


def describe(run: dict[str, Any], out: TextIO) -> None:
    """A run as lines of ``name: value``, its output as JSON."""
    attempts = run.get("attempts") or []
    pairs(
        [
            ("run", run["id"]),
            ("action", run["actionId"]),
            ("state", run["state"]),
            ("reason", run.get("failureReason")),
            ("cached from", run.get("cachedFrom")),
            ("attempts", ", ".join(f"{a.get('status') or '-'} {a['outcome']}" for a in attempts)),
            ("latency ms", run.get("latencyMs")),
            ("created", when(run["createdAt"])),
        ],
        out,
    )
    for coercion in run.get("coercions") or []:
        out.write(f"coerced: {coercion['field']} {coercion['from']} -> {coercion['to']}\n")
    if run.get("output") is not None:
        out.write("output: " + orjson.dumps(run["output"]).decode() + "\n")
    if run.get("error") is not None:
        out.write("error: " + str(run["error"].get("message")) + "\n")
