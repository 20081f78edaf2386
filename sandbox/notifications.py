"""Notification channels, their topic subscriptions and the sockets attached to them.

Limits as documented (genesys-api.md §7.1, §7.3): 20 channels per OAuth client (creating
the 21st evicts the least recently used, unconnected ones first), 1,000 topics per
channel, 24 h lifetime, one socket per channel (a second connection kicks the first), no
durability (a frame for a channel without a socket is dropped).

Topics the sandbox can publish are ``Permitted``; any other topic is ``Rejected`` (with
``ignoreErrors=true``) or makes the whole request a 400.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sandbox.errors import BadRequest, NotFound
from sandbox.messages import frame
from sandbox.stats import Stats
from sandbox.timestamps import iso, utc_now

MAX_CHANNELS_PER_CLIENT = 20
MAX_TOPICS_PER_CHANNEL = 1000
_PUBLISHED_TOPICS = (
    re.compile(r"^v2\.detail\.events\.conversation\.[^.]+\.flow\.(start|end|outcome)$"),
    re.compile(r"^v2\.flows\.instances\.flow\.[^.]+$"),
)


class Session:
    """One connected socket's outbox; ``None`` in the queue tells its writer to close."""

    def __init__(self) -> None:
        self.outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.kicked = False

    def send(self, message: dict[str, Any]) -> None:
        self.outbox.put_nowait(message)

    def close(self) -> None:
        self.kicked = True
        self.outbox.put_nowait(None)


@dataclass
class Channel:
    id: str
    client_id: str
    token: str
    expires: datetime
    last_used: float = field(default_factory=time.monotonic)
    topics: dict[str, None] = field(default_factory=dict)
    session: Session | None = None

    def to_json(self, ws_base_url: str) -> dict[str, Any]:
        """``Channel``."""
        return {
            "connectUri": f"{ws_base_url}/channels/{self.id}",
            "id": self.id,
            "expires": iso(self.expires),
        }


def topic_permitted(topic: str) -> bool:
    return any(pattern.match(topic) for pattern in _PUBLISHED_TOPICS)


def topic_json(topic: str, permitted: bool = True) -> dict[str, Any]:
    """``ChannelTopic``."""
    if permitted:
        return {"id": topic, "state": "Permitted"}
    return {"id": topic, "state": "Rejected", "rejectionReason": "The topic is not available."}


class NotificationHub:
    """All channels of the sandbox, and the fan-out of published notifications."""

    def __init__(self, stats: Stats, lifetime_seconds: int) -> None:
        self._stats = stats
        self._lifetime = timedelta(seconds=lifetime_seconds)
        self.channels: dict[str, Channel] = {}
        #: Extra receivers of every published frame (the EventBridge publisher).
        self.sinks: list[Callable[[dict[str, Any]], None]] = []

    def create(self, client_id: str, token: str) -> Channel:
        owned = [c for c in self.channels.values() if c.client_id == client_id]
        if len(owned) >= MAX_CHANNELS_PER_CLIENT:
            victim = min(owned, key=lambda c: (c.session is not None, c.last_used))
            self.remove(victim.id)
            self._stats.incr("notifications.channels_evicted")
        channel_id = f"streaming-0-{uuid.uuid4().hex}"
        channel = Channel(channel_id, client_id, token, utc_now() + self._lifetime)
        self.channels[channel_id] = channel
        self._stats.incr("notifications.channels_created")
        return channel

    def get(self, channel_id: str) -> Channel:
        channel = self.channels.get(channel_id)
        if channel is not None and channel.expires <= utc_now():
            self.remove(channel_id)
            channel = None
        if channel is None:
            raise NotFound(f"Channel {channel_id} was not found.")
        channel.last_used = time.monotonic()
        return channel

    def listing(self, client_id: str, token: str, include: str) -> list[Channel]:
        channels = [c for c in self.channels.values() if c.client_id == client_id]
        if include != "oauthclient":
            channels = [c for c in channels if c.token == token]
        return channels

    def remove(self, channel_id: str) -> None:
        channel = self.channels.pop(channel_id, None)
        if channel is not None and channel.session is not None:
            channel.session.close()

    def subscribe(
        self, channel: Channel, topics: list[str], *, replace: bool, ignore_errors: bool
    ) -> list[dict[str, Any]]:
        """Add (POST) or replace (PUT) topics; returns the ``ChannelTopic`` entities."""
        rejected = [t for t in topics if not topic_permitted(t)]
        if rejected and not ignore_errors:
            raise BadRequest(f"Invalid topic(s): {', '.join(rejected)}", code="invalid.value")
        accepted = [t for t in topics if topic_permitted(t)]
        kept = {} if replace else dict(channel.topics)
        kept.update(dict.fromkeys(accepted))
        if len(kept) > MAX_TOPICS_PER_CHANNEL:
            raise BadRequest(
                f"A channel can be subscribed to at most {MAX_TOPICS_PER_CHANNEL} topics.",
                code="invalid.value",
            )
        channel.topics = kept
        return [topic_json(t) for t in kept] + [topic_json(t, False) for t in rejected]

    def attach(self, channel: Channel) -> Session:
        """Connect a socket to ``channel``; a socket already there is kicked off."""
        if channel.session is not None:
            channel.session.close()
            self._stats.incr("notifications.sockets_kicked")
        channel.session = Session()
        channel.last_used = time.monotonic()
        return channel.session

    def detach(self, channel_id: str, session: Session) -> None:
        channel = self.channels.get(channel_id)
        if channel is not None and channel.session is session:
            channel.session = None

    def publish(self, topic: str, body: dict[str, Any]) -> dict[str, Any]:
        """Send one notification to every subscribed socket and every sink."""
        message = frame(topic, body)
        self._stats.incr("notifications.published")
        for channel in self.channels.values():
            if topic not in channel.topics:
                continue
            if channel.session is None:
                self._stats.incr("notifications.dropped")
                continue
            channel.session.send(message)
            self._stats.incr("notifications.frames")
        for sink in self.sinks:
            sink(message)
        return message

    def clear(self) -> None:
        for channel_id in list(self.channels):
            self.remove(channel_id)
