"""What the channel holder tells the other replicas: its channels and topics.

The holder stores this document with its lease (``storage.lease``) on every refresh,
so ``GET /api/v1/tracking`` answers the same whichever replica serves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import orjson

from receiver.bridge.channel import ChannelState


@dataclass(frozen=True)
class TopicStatus:
    """One subscribed topic, its state (``Permitted``/``Rejected``) and why."""

    id: str
    channel_id: str | None
    state: str
    rejection_reason: str | None = None
    missing_permissions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChannelStatus:
    """One channel."""

    id: str | None
    connected_since: datetime | None
    expires: datetime | None
    last_message_at: datetime | None
    topics: int


@dataclass(frozen=True)
class BridgeStatus:
    """The holder's channels, topics, the topics left out for lack of budget, and counts."""

    channels: tuple[ChannelStatus, ...] = ()
    topics: tuple[TopicStatus, ...] = ()
    left_out: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(
        cls, states: Sequence[ChannelState], left_out: Sequence[str], counts: dict[str, int]
    ) -> BridgeStatus:
        channels, topics = [], []
        for state in states:
            channels.append(
                ChannelStatus(
                    state.id,
                    state.connected_since,
                    state.expires,
                    state.last_message_at,
                    len(state.topics),
                )
            )
            for topic in state.topics.values():
                topics.append(
                    TopicStatus(
                        topic.id,
                        state.id,
                        topic.state or "Permitted",
                        topic.rejection_reason,
                        topic.missing_permissions,
                    )
                )
        return cls(tuple(channels), tuple(topics), tuple(left_out), counts)

    def to_json(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_json(cls, text: str) -> BridgeStatus:
        data: dict[str, Any] = orjson.loads(text)
        return cls(
            channels=tuple(
                ChannelStatus(
                    c["id"],
                    _time(c["connected_since"]),
                    _time(c["expires"]),
                    _time(c["last_message_at"]),
                    c["topics"],
                )
                for c in data.get("channels", ())
            ),
            topics=tuple(
                TopicStatus(
                    t["id"],
                    t["channel_id"],
                    t["state"],
                    t.get("rejection_reason"),
                    tuple(t.get("missing_permissions", ())),
                )
                for t in data.get("topics", ())
            ),
            left_out=tuple(data.get("left_out", ())),
            counts=dict(data.get("counts", {})),
        )


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
