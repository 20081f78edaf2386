"""Notification channels, their topic subscriptions and the sockets attached to them.

Lifecycle as documented (genesys-api.md §7, §16.A):

- 20 channels per OAuth client; creating the 21st evicts the least recently used one,
  unconnected channels first (a connected victim's socket is closed).
- A channel lives ``channel_lifetime_seconds`` (24 h) from its creation or its last
  subscription request: re-subscribing (POST or PUT) renews it, and ``expires`` says
  until when. An expired channel, or one whose OAuth token expired, is gone: 404 on REST,
  the handshake refused, its socket closed.
- 1,000 topics per channel (a combined topic counts once); beyond that a 400.
- One socket per channel: a second connection kicks the first, except during the grace
  that follows ``v2.system.socket_closing``, when the old and the new socket both receive
  every frame until the old one is closed at the end of the grace.
- No durability: a frame for a channel without a socket (or a silenced one) is dropped.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from sandbox.channel_topics import Permissions, Topic, parse_topic, topic_json
from sandbox.errors import BadRequest, NotFound, SandboxError
from sandbox.messages import frame, socket_closing_frame
from sandbox.stats import Stats
from sandbox.timestamps import iso, utc_now

MAX_CHANNELS_PER_CLIENT = 20
MAX_TOPICS_PER_CHANNEL = 1000
#: Outbox sentinels: close with a close frame, or cut the TCP connection without one.
CLOSE = "close"
ABORT = "abort"


class Session:
    """One connected socket's outbox of serialized frames (and close/abort orders)."""

    def __init__(self, stats: Stats) -> None:
        self.outbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.connected_at = utc_now()
        self.kicked = False
        #: A silenced socket stays open but carries nothing (no frames, beats or pongs).
        self.silent = False
        self._stats = stats

    def send(self, message: dict[str, Any]) -> None:
        self.send_text(orjson.dumps(message).decode())

    def send_text(self, text: str) -> None:
        if self.silent:
            self._stats.incr("notifications.silenced")
            return
        self.outbox.put_nowait(("frame", text))

    def close(self, reason: str = "channel taken over or removed") -> None:
        self.kicked = True
        self.outbox.put_nowait((CLOSE, reason))

    def abort(self) -> None:
        self.kicked = True
        self.outbox.put_nowait((ABORT, ""))


@dataclass
class Channel:
    id: str
    client_id: str
    token: str
    expires: datetime
    last_used: float = field(default_factory=time.monotonic)
    topics: dict[str, Topic] = field(default_factory=dict)
    #: The concrete topics the subscriptions stand for (combined topics expanded).
    expanded: frozenset[str] = frozenset()
    sessions: list[Session] = field(default_factory=list)
    #: Until when (monotonic) a new socket joins instead of kicking: the rollover grace.
    rollover_until: float = 0.0

    def to_json(self, ws_base_url: str) -> dict[str, Any]:
        """``Channel``."""
        return {
            "connectUri": f"{ws_base_url}/channels/{self.id}",
            "id": self.id,
            "expires": iso(self.expires),
        }

    def set_topics(self, topics: dict[str, Topic]) -> None:
        self.topics = topics
        self.expanded = frozenset(t for topic in topics.values() for t in topic.expanded)


class NotificationHub:
    """All channels of the sandbox, and the fan-out of published notifications."""

    def __init__(
        self,
        stats: Stats,
        lifetime_seconds: float,
        *,
        permissions: Permissions | None = None,
        token_alive: Callable[[str], bool] = lambda _: True,
        closing_grace_seconds: float = 60.0,
    ) -> None:
        self._stats = stats
        self.lifetime = timedelta(seconds=lifetime_seconds)
        self.permissions = permissions or Permissions(None)
        self._token_alive = token_alive
        self.closing_grace_seconds = closing_grace_seconds
        self.channels: dict[str, Channel] = {}
        #: Extra receivers of every published frame (the EventBridge publisher).
        self.sinks: list[Callable[[dict[str, Any]], None]] = []

    def create(self, client_id: str, token: str) -> Channel:
        owned = [c for c in self.channels.values() if c.client_id == client_id]
        if len(owned) >= MAX_CHANNELS_PER_CLIENT:
            victim = min(owned, key=lambda c: (bool(c.sessions), c.last_used))
            self.remove(victim.id, "channel evicted by the 20-channel limit")
            self._stats.incr("notifications.channels_evicted")
        channel_id = f"streaming-0-{uuid.uuid4().hex}"
        channel = Channel(channel_id, client_id, token, utc_now() + self.lifetime)
        self.channels[channel_id] = channel
        self._stats.incr("notifications.channels_created")
        return channel

    def alive(self, channel: Channel) -> bool:
        """Neither expired nor left without a valid token."""
        return channel.expires > utc_now() and self._token_alive(channel.token)

    def get(self, channel_id: str) -> Channel:
        """A live channel, or 404 (an expired one is removed on the way)."""
        channel = self.channels.get(channel_id)
        if channel is not None and not self.alive(channel):
            self.expire(channel_id)
            channel = None
        if channel is None:
            raise NotFound(f"Channel {channel_id} was not found.")
        channel.last_used = time.monotonic()
        return channel

    def listing(self, client_id: str, token: str, include: str) -> list[Channel]:
        self.purge()
        channels = [c for c in self.channels.values() if c.client_id == client_id]
        if include != "oauthclient":
            channels = [c for c in channels if c.token == token]
        return channels

    def purge(self) -> None:
        for channel in list(self.channels.values()):
            if not self.alive(channel):
                self.expire(channel.id)

    def expire(self, channel_id: str) -> None:
        if channel_id in self.channels:
            self._stats.incr("notifications.channels_expired")
        self.remove(channel_id, "channel expired")

    def remove(self, channel_id: str, reason: str = "channel removed") -> None:
        channel = self.channels.pop(channel_id, None)
        if channel is not None:
            for session in channel.sessions:
                session.close(reason)
            channel.sessions = []

    def subscribe(
        self, channel: Channel, topics: list[str], *, replace: bool, ignore_errors: bool
    ) -> list[dict[str, Any]]:
        """Add (POST) or replace (PUT) topics and renew the channel; ``ChannelTopic``s."""
        parsed = [parse_topic(t) for t in topics]
        granted = self.permissions.of(channel.client_id)
        rejected: list[dict[str, Any]] = []
        accepted: dict[str, Topic] = {}
        for topic in parsed:
            missing = topic.missing(granted)
            if topic.unknown is not None:
                if not ignore_errors:
                    raise BadRequest(f"Invalid topic: {topic.id}", code="invalid.value")
                rejected.append(topic_json(topic.id, rejection=topic.unknown))
            elif missing:
                if not ignore_errors:
                    raise SandboxError(
                        f"Missing permissions {missing} for topic {topic.id}",
                        status=403,
                        code="missing.permissions",
                    )
                reason = "The client lacks the permissions the topic requires."
                rejected.append(topic_json(topic.id, rejection=reason, missing=missing))
                self._stats.incr("notifications.topics_rejected")
            else:
                accepted[topic.id] = topic
        kept = {} if replace else dict(channel.topics)
        kept.update(accepted)
        if len(kept) > MAX_TOPICS_PER_CHANNEL:
            raise BadRequest(
                f"A channel can be subscribed to at most {MAX_TOPICS_PER_CHANNEL} topics.",
                code="invalid.value",
            )
        channel.set_topics(kept)
        channel.expires = utc_now() + self.lifetime
        return [topic_json(t) for t in kept] + rejected

    def attach(self, channel: Channel) -> Session:
        """Connect a socket to ``channel``: it kicks the others unless a rollover is on."""
        if channel.sessions and time.monotonic() >= channel.rollover_until:
            for session in channel.sessions:
                session.close()
                self._stats.incr("notifications.sockets_kicked")
            channel.sessions = []
        session = Session(self._stats)
        channel.sessions.append(session)
        channel.last_used = time.monotonic()
        return session

    def detach(self, channel_id: str, session: Session) -> None:
        channel = self.channels.get(channel_id)
        if channel is not None and session in channel.sessions:
            channel.sessions.remove(session)

    def announce_closing(self, channel: Channel) -> int:
        """Push ``v2.system.socket_closing``; the sockets warned close after the grace."""
        warned = list(channel.sessions)
        if not warned:
            return 0
        grace = self.closing_grace_seconds
        channel.rollover_until = time.monotonic() + grace
        for session in warned:
            session.send(socket_closing_frame())
        loop = asyncio.get_running_loop()
        loop.call_later(grace, self._close_warned, warned)
        self._stats.incr("notifications.socket_closing_sent")
        return len(warned)

    def _close_warned(self, warned: list[Session]) -> None:
        for session in warned:
            if not session.kicked:
                session.close("maintenance: the socket was announced closing")

    def publish(self, topic: str, body: dict[str, Any], **metadata: Any) -> dict[str, Any]:
        """Send one notification to every subscribed socket and every sink."""
        message = frame(topic, body)
        if metadata:
            message["metadata"].update(metadata)
        self._stats.incr("notifications.published")
        text: str | None = None
        now = utc_now()
        for channel in self.channels.values():
            if topic not in channel.expanded or channel.expires <= now:
                continue
            if not channel.sessions:
                self._stats.incr("notifications.dropped")
                continue
            text = text or orjson.dumps(message).decode()
            for session in channel.sessions:
                session.send_text(text)
                self._stats.incr("notifications.frames")
        for sink in self.sinks:
            sink(message)
        return message

    def clear(self) -> None:
        for channel_id in list(self.channels):
            self.remove(channel_id)
        self.permissions.reset()
