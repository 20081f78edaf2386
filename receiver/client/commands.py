"""``flowtrack launches|events|dead-letters``: the operator's view of a running flowtrack.

Every command calls the REST API (``receiver.client.api``), prints a table (or JSON with
``--json``) and exits 0; a refusal prints the API's message and exits 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO
from urllib.parse import quote

from receiver.client.api import DEFAULT_URL, KEY_VARIABLE, URL_VARIABLE, Api, ClientError
from receiver.client.tables import (
    Column,
    as_json,
    field,
    moment,
    pairs,
    stream_row,
    table,
    when,
)

ENVIRONMENT = f"""environment variables:
  {URL_VARIABLE}      the flowtrack to talk to (default {DEFAULT_URL}); --url wins
  {KEY_VARIABLE}  the API key to send (a read key lists, a write key also
                     terminates and replays); --key wins"""

#: How long ``events tail`` looks back when it starts: events arrive a little after
#: they happen, and the two clocks may disagree by a few seconds.
TAIL_LOOKBACK_SECONDS = 10

LAUNCH_COLUMNS: list[Column] = [
    ("ID", field("id")),
    ("STATE", field("state")),
    ("FLOW", field("flowId")),
    ("NAME", field("name")),
    (
        "NODE",
        lambda item: (
            (item.get("currentNode") or {}).get("name") or (item.get("currentNode") or {}).get("id")
        ),
    ),
    ("CREATED", moment("createdAt")),
    ("REASON", field("stateReason")),
]
EVENT_COLUMNS: list[Column] = [
    ("ID", field("id")),
    ("OCCURRED", moment("occurredAt")),
    ("KIND", field("kind")),
    ("SOURCE", field("source")),
    ("LAUNCH", field("launchId")),
    ("CONVERSATION", field("conversationId")),
    ("NODE", lambda item: item.get("nodeName") or item.get("nodeId")),
    ("OUTCOME", lambda item: item.get("outcome") or item.get("errorCode")),
]
STEP_COLUMNS: list[Column] = [
    ("AT", moment("at")),
    ("STEP", field("type")),
    ("NODE", lambda item: item.get("nodeName") or item.get("nodeId")),
    ("OUTCOME", field("outcome")),
    ("PATH", field("outputPath")),
    ("ERROR", field("errorCode")),
    ("SOURCE", field("source")),
]
#: ``events tail`` prints rows before it knows them all: widths that fit the usual ids.
TAIL_WIDTHS = (6, 19, 10, 11, 36, 36, 20, 0)
DEAD_LETTER_COLUMNS: list[Column] = [
    ("ID", field("id")),
    ("RECEIVED", moment("receivedAt")),
    ("WEBHOOK-ID", field("webhookId")),
    ("REASON", field("reason")),
]


def add_commands(commands: Any) -> None:
    """Add ``launches``, ``events`` and ``dead-letters`` to the ``flowtrack`` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url", help=f"flowtrack's base URL (default: ${URL_VARIABLE}, else {DEFAULT_URL})"
    )
    common.add_argument("--key", help=f"API key (default: ${KEY_VARIABLE})")
    common.add_argument("--json", action="store_true", help="print the API's JSON")

    def verb(group: Any, name: str, help_text: str, run: Callable[..., int]) -> Any:
        parser = group.add_parser(
            name,
            help=help_text,
            description=help_text,
            parents=[common],
            epilog=ENVIRONMENT,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.set_defaults(run=_calling(run))
        return parser

    def noun(name: str, help_text: str) -> Any:
        parser = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=ENVIRONMENT,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.set_defaults(run=lambda _: _usage(parser))
        return parser.add_subparsers(metavar="VERB")

    launches = noun("launches", "list, show and terminate launches (over the REST API)")
    listing = verb(launches, "list", "launches, newest first", _launches_list)
    listing.add_argument("--state", help="only launches in this state")
    listing.add_argument("--flow", help="only launches of this flow id")
    _window(listing, "created")
    _paging(listing)
    show = verb(launches, "show", "one launch, its event counts and its path", _launches_show)
    show.add_argument("id", help="the launch id")
    terminate = verb(launches, "terminate", "end a launch now (needs a write key)", _terminate)
    terminate.add_argument("id", help="the launch id")
    terminate.add_argument("--reason", help="why (kept in the launch's history and the audit)")

    events = noun("events", "follow stored events (over the REST API)")
    tail = verb(events, "tail", "print new events as they are stored, until interrupted", _tail)
    tail.add_argument("--launch", help="only events of this launch id")
    tail.add_argument("--conversation", help="only events of this conversation id")
    tail.add_argument("--flow", help="only events of this flow id")
    tail.add_argument("--kind", help="only events of this kind")
    tail.add_argument(
        "--since",
        help=f"start at this ISO-8601 time (default: {TAIL_LOOKBACK_SECONDS} s before now)",
    )
    tail.add_argument(
        "--interval", type=float, default=1.0, help="seconds between polls (default 1)"
    )
    tail.add_argument("--count", type=int, help="stop after this many events")

    letters = noun("dead-letters", "list and replay callback bodies that could not be read")
    listing = verb(letters, "list", "dead letters, newest first", _dead_letters_list)
    _paging(listing)
    replay = verb(
        letters,
        "replay",
        "read a dead letter again with today's code and store its events (needs a write key)",
        _replay,
    )
    replay.add_argument("id", type=int, help="the dead letter's id")


def _window(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--since", help=f"only those {what} at or after this ISO-8601 time")
    parser.add_argument("--until", help=f"only those {what} before this ISO-8601 time")


def _paging(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", default="20", help="most items to print (default 20)")
    parser.add_argument("--cursor", help="the next page's cursor, as a previous list printed")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _calling(run: Callable[[Api, argparse.Namespace, TextIO], int]) -> Callable[..., int]:
    def call(args: argparse.Namespace) -> int:
        try:
            with Api(args.url, args.key) as api:
                return run(api, args, sys.stdout)
        except ClientError as exc:
            print(f"flowtrack: {exc.message}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130

    return call


def _page(body: Any, columns: list[Column], args: argparse.Namespace, out: TextIO) -> int:
    if args.json:
        as_json(body, out)
        return 0
    table(body["items"], columns, out)
    if body.get("nextCursor"):
        out.write(f"more: --cursor {body['nextCursor']}\n")
    return 0


def _launches_list(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    params = {"state": args.state, "flowId": args.flow, "since": args.since, "until": args.until}
    body = api.get("/api/v1/launches", {**params, "limit": args.limit, "cursor": args.cursor})
    return _page(body, LAUNCH_COLUMNS, args, out)


def _launches_show(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    path = f"/api/v1/launches/{quote(args.id, safe='')}"
    launch = api.get(path)
    steps = api.get(f"{path}/transitions")
    if args.json:
        as_json({"launch": launch, "transitions": steps}, out)
        return 0
    _describe(launch, out)
    out.write("\n")
    table(steps["items"], STEP_COLUMNS, out)
    if steps.get("nextCursor"):
        out.write("(the path goes on: see GET .../transitions with its cursor)\n")
    return 0


def _describe(launch: dict[str, Any], out: TextIO) -> None:
    node = launch.get("currentNode") or {}
    counts = launch.get("eventCounts") or {}
    pairs(
        [
            ("id", launch["id"]),
            ("state", launch["state"]),
            ("reason", launch.get("stateReason")),
            ("error code", launch.get("errorCode")),
            ("flow", launch["flowId"]),
            ("name", launch.get("name")),
            ("execution", launch.get("flowExecutionId")),
            ("conversation", launch.get("conversationId")),
            ("current node", node.get("name") or node.get("id")),
            ("created", when(launch.get("createdAt"))),
            ("deadline", when(launch.get("deadlineAt"))),
            ("last event", when(launch.get("lastEventAt"))),
            ("ended", when(launch.get("endedAt"))),
            ("events", ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())) or None),
        ],
        out,
    )


def _terminate(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    body = {"reason": args.reason} if args.reason else None
    launch = api.post(f"/api/v1/launches/{quote(args.id, safe='')}/terminate", body)
    if args.json:
        as_json(launch, out)
        return 0
    _describe(launch, out)
    if api.status == 202:
        out.write("termination in progress: the launch ends once the disconnect is confirmed\n")
    return 0


def _tail(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    """Page through the events in history order, then poll the last page for more.

    The list answers no cursor past its last page, so the last cursor it gave (or none,
    with ``since``) is asked again and the events not printed yet are printed.
    """
    since = args.since or (datetime.now(UTC) - timedelta(seconds=TAIL_LOOKBACK_SECONDS))
    filters = {
        "launchId": args.launch,
        "conversationId": args.conversation,
        "flowId": args.flow,
        "kind": args.kind,
        "since": since if isinstance(since, str) else since.isoformat().replace("+00:00", "Z"),
    }
    if not args.json:
        stream_row([heading for heading, _ in EVENT_COLUMNS], TAIL_WIDTHS, out)
    cursor: str | None = None
    shown: set[int] = set()
    printed = 0
    while True:
        page = api.get("/api/v1/events", {**filters, "limit": "500", "cursor": cursor})
        for item in page["items"]:
            if item["id"] in shown:
                continue
            shown.add(item["id"])
            if args.json:
                as_json(item, out, one_line=True)
            else:
                stream_row([read(item) for _, read in EVENT_COLUMNS], TAIL_WIDTHS, out)
            printed += 1
            if args.count is not None and printed >= args.count:
                out.flush()
                return 0
        out.flush()
        if page["nextCursor"]:
            cursor = page["nextCursor"]
            shown = set()  # the next page starts after everything shown so far
            continue
        time.sleep(args.interval)


def _dead_letters_list(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    body = api.get("/api/v1/dead-letters", {"limit": args.limit, "cursor": args.cursor})
    return _page(body, DEAD_LETTER_COLUMNS, args, out)


def _replay(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    answer = api.post(f"/api/v1/dead-letters/{args.id}/replay")
    if args.json:
        as_json(answer, out)
        return 0
    pairs([(name, value) for name, value in answer.items() if name != "events"], out)
    return 0
