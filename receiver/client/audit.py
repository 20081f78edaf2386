"""``flowtrack audit list``: who did what through the API (over the REST API, with a read
key), newest first.

What is recorded: launches and terminations, data action runs and their cancellations,
every write to a webhook endpoint (create, update, delete, secret rotation, test,
recover, message resend), dead letter replays, and registrations with Genesys; each
with the API key's name, its target, its outcome and a detail (docs/operations.md).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from receiver.client.api import DEFAULT_URL, KEY_VARIABLE, URL_VARIABLE, Api, ClientError
from receiver.client.tables import Column, as_json, field, moment, table
from storage.audit import ACTIONS

AUDIT_COLUMNS: list[Column] = [
    ("AT", moment("at")),
    ("KEY", field("keyName")),
    ("ACTION", field("action")),
    ("TARGET", field("target")),
    ("OUTCOME", field("outcome")),
    ("DETAIL", field("detail")),
]


def add_commands(commands: Any) -> None:
    """Register ``flowtrack audit`` on the CLI's subcommands."""
    audit = commands.add_parser("audit", help="who did what through the API (over the REST API)")
    verbs = audit.add_subparsers(dest="verb", metavar="VERB", required=True)
    listing = verbs.add_parser(
        "list",
        help="audit records, newest first: launches, terminations, data action runs and "
        "cancellations, webhook endpoint writes, dead letter replays, registrations",
    )
    listing.add_argument(
        "--url", help=f"flowtrack's base URL (default: ${URL_VARIABLE}, else {DEFAULT_URL})"
    )
    listing.add_argument("--key", help=f"API key (default: ${KEY_VARIABLE})")
    listing.add_argument("--json", action="store_true", help="print the API's JSON")
    listing.add_argument(
        "--action",
        choices=ACTIONS,
        metavar="ACTION",
        help="only records of this action: " + ", ".join(ACTIONS),
    )
    listing.add_argument("--key-name", help="only records made with this API key's name")
    listing.add_argument("--target", help="only records about this id (launch, run, endpoint…)")
    listing.add_argument("--since", help="only those made at or after this ISO-8601 time")
    listing.add_argument("--until", help="only those made before this ISO-8601 time")
    listing.add_argument("--limit", default="20", help="most records to print (default 20)")
    listing.add_argument("--cursor", help="the next page's cursor, as a previous list printed")
    listing.set_defaults(run=_list)


def _list(args: argparse.Namespace) -> int:
    params = {
        "action": args.action,
        "keyName": args.key_name,
        "target": args.target,
        "since": args.since,
        "until": args.until,
        "limit": args.limit,
        "cursor": args.cursor,
    }
    try:
        with Api(args.url, args.key) as api:
            body = api.get("/api/v1/audit", params)
    except ClientError as exc:
        print(f"flowtrack: {exc.message}", file=sys.stderr)
        return 1
    _print(body, args.json, sys.stdout)
    return 0


def _print(body: Any, raw: bool, out: TextIO) -> None:
    if raw:
        as_json(body, out)
        return
    table(body["items"], AUDIT_COLUMNS, out)
    if body.get("nextCursor"):
        out.write(f"more: --cursor {body['nextCursor']}\n")
