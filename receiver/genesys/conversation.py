"""Conversations as read by ``GET /api/v2/conversations/{id}`` (genesys-api.md §4).

``Conversation.state`` is write-only on the platform and never read here; whether a
conversation has ended is told by ``endTime`` (§4.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from receiver.genesys import wire
from receiver.genesys.wire import JSONObject

#: ``Participant`` arrays holding one media object each (wire names).
MEDIA_KINDS: Final = (
    "calls",
    "callbacks",
    "chats",
    "cobrowsesessions",
    "emails",
    "messages",
    "internalMessages",
    "screenMonitorings",
    "screenshares",
    "socialExpressions",
    "videos",
)
_ENDED_MEDIA_STATES: Final = frozenset({"disconnected", "terminated"})


@dataclass(frozen=True, slots=True)
class MediaSession:
    """One media object of a participant (a call, a chat, ...)."""

    kind: str
    id: str | None
    state: str | None
    disconnect_type: str | None
    disconnected_time: datetime | None

    @classmethod
    def from_wire(cls, kind: str, data: JSONObject) -> MediaSession:
        return cls(
            kind=kind,
            id=wire.text(data, "id"),
            state=wire.text(data, "state"),
            disconnect_type=wire.text(data, "disconnectType"),
            disconnected_time=wire.timestamp(data, "disconnectedTime"),
        )

    @property
    def ended(self) -> bool:
        return self.state is not None and self.state.lower() in _ENDED_MEDIA_STATES


@dataclass(frozen=True, slots=True)
class Participant:
    """A ``Participant``; ``purpose`` is e.g. ``customer``, ``ivr``, ``agent``, ``workflow``."""

    id: str | None
    purpose: str | None = None
    name: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    connected_time: datetime | None = None
    address: str | None = None
    ani: str | None = None
    dnis: str | None = None
    user_id: str | None = None
    queue_id: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    media: tuple[MediaSession, ...] = ()

    @classmethod
    def from_wire(cls, data: JSONObject) -> Participant:
        attributes = wire.mapping(data, "attributes")
        return cls(
            id=wire.text(data, "id"),
            purpose=wire.text(data, "purpose"),
            name=wire.text(data, "name"),
            start_time=wire.timestamp(data, "startTime"),
            end_time=wire.timestamp(data, "endTime"),
            connected_time=wire.timestamp(data, "connectedTime"),
            address=wire.text(data, "address"),
            ani=wire.text(data, "ani"),
            dnis=wire.text(data, "dnis"),
            user_id=wire.text(data, "userId"),
            queue_id=wire.text(data, "queueId"),
            attributes={k: v for k, v in attributes.items() if isinstance(v, str)},
            media=tuple(
                MediaSession.from_wire(kind, item)
                for kind in MEDIA_KINDS
                for item in wire.mappings(data, kind)
            ),
        )

    @property
    def ended(self) -> bool:
        """Left the conversation: ``endTime`` set, or every media object disconnected."""
        if self.end_time is not None:
            return True
        return bool(self.media) and all(session.ended for session in self.media)


@dataclass(frozen=True, slots=True)
class Conversation:
    """A ``Conversation``; ``end_time`` stays ``None`` while it is active."""

    id: str
    start_time: datetime | None = None
    end_time: datetime | None = None
    name: str | None = None
    address: str | None = None
    participants: tuple[Participant, ...] = ()
    raw: JSONObject = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: JSONObject) -> Conversation:
        return cls(
            id=wire.required_text(data, "id"),
            start_time=wire.timestamp(data, "startTime"),
            end_time=wire.timestamp(data, "endTime"),
            name=wire.text(data, "name"),
            address=wire.text(data, "address"),
            participants=tuple(
                Participant.from_wire(item) for item in wire.mappings(data, "participants")
            ),
            raw=data,
        )

    @property
    def ended(self) -> bool:
        """The conversation is over (genesys-api.md §4.5, most reliable signal first)."""
        if self.end_time is not None:
            return True
        return bool(self.participants) and all(p.ended for p in self.participants)
