"""Which topics a channel may subscribe to, what each costs, and who may have it.

- Published topics (genesys-api.md §5.4, §6): ``v2.flows.instances.flow.{flowId}`` and
  ``v2.detail.events.conversation.{id}.flow.start|end|outcome``. Anything else is not a
  topic the sandbox knows: ``Rejected`` with ``ignoreErrors=true``, else the request is a
  400.
- Combined topics (§16.A.2): ``prefix?suffix1&suffix2`` stands for ``prefix.suffix1``
  and ``prefix.suffix2``, is at most 200 characters, counts once against the 1,000-topic
  limit, and notifications still arrive under the expanded names.
- Permissions: each topic kind needs a permission (which one Genesys checks is
  UNCONFIRMED, §16.A.6; the names below are the plausible ones). A client missing it gets
  the topic ``Rejected`` with ``missingPermissions`` (``ignoreErrors=true``), or a 403
  for the whole request (the 2021-12-13 announcement, §16.A.1).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.errors import BadRequest

MAX_COMBINED_LENGTH = 200
INSTANCES_PERMISSION = "architect:flowInstance:view"
DETAIL_EVENTS_PERMISSION = "analytics:flowEvent:view"
#: What a client has when the configuration names no permissions for it: everything.
ALL_PERMISSIONS: frozenset[str] = frozenset({INSTANCES_PERMISSION, DETAIL_EVENTS_PERMISSION})

_KINDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^v2\.detail\.events\.conversation\.[^.?&]+\.flow\.(start|end|outcome)$"),
        DETAIL_EVENTS_PERMISSION,
    ),
    (re.compile(r"^v2\.flows\.instances\.flow\.[^.?&]+$"), INSTANCES_PERMISSION),
)


@dataclass(frozen=True)
class Topic:
    """One subscription as requested: its id and the concrete topics it stands for."""

    id: str
    expanded: tuple[str, ...]
    #: Why the sandbox cannot serve it (unknown topic), or None.
    unknown: str | None = None

    def missing(self, granted: Collection[str]) -> list[str]:
        """The permissions ``granted`` lacks for this topic, sorted."""
        needed = {permission_of(t) for t in self.expanded}
        return sorted(p for p in needed if p is not None and p not in granted)


#: The topic catalogue (``AvailableTopic``; ``transports`` values are unconfirmed).
AVAILABLE: tuple[dict[str, Any], ...] = (
    *(
        {
            "id": f"v2.detail.events.conversation.{{id}}.flow.{event}",
            "description": f"Flow {event} detail event of a conversation's flow session.",
            "requiresPermissions": [DETAIL_EVENTS_PERMISSION],
            "visibility": "Public",
            "transports": ["All"],
            "topicParameters": ["id"],
        }
        for event in ("start", "end", "outcome")
    ),
    {
        "id": "v2.flows.instances.flow.{id}",
        "description": "Event generated when a Flow's Execution History is received and logged.",
        "requiresPermissions": [INSTANCES_PERMISSION],
        "visibility": "Public",
        "transports": ["All"],
        "topicParameters": ["id"],
    },
)


def available_topics(expand: Collection[str]) -> list[dict[str, Any]]:
    """``AvailableTopic``s with ``id`` and the fields named in ``expand``."""
    return [{k: v for k, v in topic.items() if k == "id" or k in expand} for topic in AVAILABLE]


def permission_of(topic: str) -> str | None:
    for pattern, permission in _KINDS:
        if pattern.match(topic):
            return permission
    return None


def parse_topic(topic: str) -> Topic:
    """Read one requested topic id; a malformed combined topic is a 400."""
    if "?" not in topic:
        unknown = None if permission_of(topic) else "The topic is not available."
        return Topic(topic, (topic,), unknown)
    if len(topic) > MAX_COMBINED_LENGTH:
        raise BadRequest(
            f"A combined topic is at most {MAX_COMBINED_LENGTH} characters: {topic[:60]}…",
            code="invalid.value",
        )
    prefix, _, suffixes = topic.partition("?")
    parts = suffixes.split("&")
    if not prefix or not all(parts):
        raise BadRequest(f"Malformed combined topic: {topic}", code="invalid.value")
    expanded = tuple(f"{prefix}.{part}" for part in parts)
    unavailable = [t for t in expanded if permission_of(t) is None]
    reason = f"Not available: {', '.join(unavailable)}." if unavailable else None
    return Topic(topic, expanded, reason)


def topic_json(
    topic: str, *, rejection: str | None = None, missing: Sequence[str] = ()
) -> dict[str, Any]:
    """``ChannelTopic``: ``Permitted``, or ``Rejected`` with its reason and permissions."""
    if rejection is None:
        return {"id": topic, "state": "Permitted"}
    document: dict[str, Any] = {"id": topic, "state": "Rejected", "rejectionReason": rejection}
    if missing:
        document["missingPermissions"] = list(missing)
    return document


class Permissions:
    """Granted permissions per OAuth client; a client nobody configured has them all."""

    def __init__(self, configured: Mapping[str, Sequence[str]] | None) -> None:
        self._initial = {k: frozenset(v) for k, v in (configured or {}).items()}
        self._granted = dict(self._initial)

    def of(self, client_id: str) -> frozenset[str]:
        return self._granted.get(client_id, ALL_PERMISSIONS)

    def grant(self, client_id: str, permissions: Sequence[str] | None) -> frozenset[str]:
        """Set a client's permissions (None: all again); returns what it now has."""
        if permissions is None:
            self._granted.pop(client_id, None)
        else:
            self._granted[client_id] = frozenset(permissions)
        return self.of(client_id)

    def to_json(self) -> dict[str, list[str]]:
        return {client: sorted(granted) for client, granted in sorted(self._granted.items())}

    def reset(self) -> None:
        self._granted = dict(self._initial)
