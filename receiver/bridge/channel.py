"""One notification channel, kept listening: created, subscribed, its socket healthy.

- **Health**: Genesys sends a heartbeat about every ``heartbeat`` seconds. After 1.5 of
  them without any frame the socket is pinged (``{"message":"ping"}``); no frame within
  half a heartbeat more and it is given up and reconnected.
- **socket_closing**: a new socket is connected to the same channel at once; the old one
  is read until it closes (or a heartbeat later is closed by us): nothing is lost, and
  what both carried is stored once (dedupe keys).
- **Gone** (404, refused handshake, ``no_longer_subscribed``, ``token_revoked``): a new
  channel, subscribed to the same topics.
- **Renewal**: when 90 % of the channel's life has passed its topics are subscribed
  again and ``expires`` is read back; if it did not move, a new channel takes over as
  in a rollover.
- **Gaps**: every interval without a healthy socket, from the last frame heard to the
  next socket connected, is handed to :class:`GapRecorder`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

from receiver.bridge.sink import MessageSink
from receiver.genesys import Channel, ChannelTopic, GenesysError, GenesysNotFound
from receiver.genesys.notifications import NotificationsApi
from receiver.ingest.notifications import is_system_frame

log = logging.getLogger("flowtrack.bridge")

_PING = orjson.dumps({"message": "ping"}).decode()
_GONE_TOPICS = ("v2.system.no_longer_subscribed", "v2.system.token_revoked")
_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
_RENEW_AT = 0.9
_BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class GapRecorder(Protocol):
    """Told when listening stops and starts again (receiver.bridge.gaps)."""

    async def lost(self, since: datetime, reason: str) -> None: ...

    async def restored(self, at: datetime) -> None: ...


class SocketUnhealthy(Exception):
    """No heartbeat and no pong: the socket is given up."""


class ChannelGone(Exception):
    """The channel no longer exists (expired, evicted, its token gone)."""


@dataclass
class ChannelState:
    """What ``GET /api/v1/tracking`` shows of a channel."""

    id: str | None = None
    connected_since: datetime | None = None
    expires: datetime | None = None
    last_message_at: datetime | None = None
    topics: dict[str, ChannelTopic] = field(default_factory=dict)


class ChannelRunner:
    """Keeps one channel subscribed to ``topics`` and its messages flowing into the sink."""

    def __init__(
        self,
        api: NotificationsApi,
        sink: MessageSink,
        gaps: GapRecorder,
        *,
        heartbeat_seconds: float,
        refresh_seconds: float,
    ) -> None:
        self._api = api
        self._sink = sink
        self._gaps = gaps
        self._heartbeat = heartbeat_seconds
        self._refresh = refresh_seconds
        self._wanted: tuple[str, ...] = ()
        self._subscribed: tuple[str, ...] | None = None
        self._channel: Channel | None = None
        self._created_at: datetime | None = None
        self._closing = asyncio.Event()
        self._draining: set[asyncio.Task[None]] = set()
        self.state = ChannelState()

    @property
    def topics(self) -> tuple[str, ...]:
        return self._wanted

    def want(self, topics: Sequence[str]) -> None:
        """The topics this channel should carry (applied within a refresh interval)."""
        self._wanted = tuple(topics)

    async def run(self) -> None:
        """Listen until cancelled; every failure is followed by a new attempt."""
        failures = 0
        lost_since: datetime | None = None
        try:
            while True:
                try:
                    await self._listen()
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except ChannelGone as exc:
                    self._forget(str(exc))
                except (GenesysError, OSError, WebSocketException, SocketUnhealthy) as exc:
                    if isinstance(exc, GenesysNotFound):
                        self._forget("channel not found")
                    log.warning(
                        f"notification socket lost: {exc}",
                        extra={"action": "bridge.disconnected", "channel": self.state.id},
                    )
                connected = self.state.connected_since is not None
                if connected or lost_since is None:
                    lost_since = self.state.last_message_at or self.state.connected_since
                    lost_since = lost_since or datetime.now(UTC)
                    await self._gaps.lost(lost_since, "socket_lost")
                self.state.connected_since = None
                await asyncio.sleep(_BACKOFF[min(failures, len(_BACKOFF) - 1)])
                failures += 1
        finally:
            for task in self._draining:
                task.cancel()

    def _forget(self, why: str) -> None:
        log.warning(
            f"notification channel gone ({why}): opening a new one",
            extra={"action": "bridge.channel_gone", "channel": self.state.id},
        )
        self._channel = None
        self._subscribed = None

    async def _open(self) -> Channel:
        channel = await self._api.create_channel()
        if channel.connect_uri is None:
            raise ChannelGone("Genesys gave no connectUri for the new channel")
        self._channel, self._subscribed = channel, None
        self._created_at = datetime.now(UTC)
        self.state.id, self.state.expires = channel.id, channel.expires
        self.state.topics = {}
        log.info(
            "notification channel opened",
            extra={"action": "bridge.channel_opened", "channel": channel.id},
        )
        return channel

    async def _subscribe(self, channel: Channel) -> None:
        topics = self._wanted
        answer = await self._api.replace_subscriptions(channel.id, topics, ignore_errors=True)
        previous = self.state.topics
        self.state.topics = {topic.id: topic for topic in answer}
        self._subscribed = topics
        for topic in answer:
            if not topic.permitted and topic.id not in previous:
                log.warning(
                    f"topic {topic.id} rejected: {topic.rejection_reason or 'no reason'}"
                    f"; missing permissions: {', '.join(topic.missing_permissions) or 'none'}",
                    extra={
                        "action": "bridge.topic_rejected",
                        "topic": topic.id,
                        "missing_permissions": list(topic.missing_permissions),
                    },
                )

    async def _listen(self) -> None:
        channel = self._channel or await self._open()
        if self._subscribed != self._wanted:
            await self._subscribe(channel)
        socket = await self._connect(channel)
        reader = asyncio.create_task(self._read(socket))
        try:
            while True:
                closing = asyncio.create_task(self._closing.wait())
                done, _ = await asyncio.wait(
                    {reader, closing}, timeout=self._refresh, return_when="FIRST_COMPLETED"
                )
                closing.cancel()
                if reader in done:
                    reader.result()  # raises why it ended
                    raise SocketUnhealthy("the socket closed")
                if self._closing.is_set():
                    self._closing.clear()
                    reader, socket = await self._roll_over(channel, reader, socket)
                    continue
                if self._subscribed != self._wanted:
                    await self._subscribe(channel)
                if self._renewal_due():
                    channel, reader, socket = await self._renew(channel, reader, socket)
        finally:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
            await socket.close()

    async def _connect(self, channel: Channel) -> ClientConnection:
        assert channel.connect_uri is not None
        try:
            socket = await connect(
                channel.connect_uri,
                proxy=None,
                ping_interval=None,
                max_size=_MAX_MESSAGE_BYTES,
                max_queue=1024,
                # Frames are small and local CPU is the bottleneck, not bandwidth.
                compression=None,
                open_timeout=10,
            )
        except InvalidStatus as exc:
            # A refused handshake: the channel expired, was evicted or lost its token.
            raise ChannelGone(f"socket refused ({exc.response.status_code})") from None
        now = datetime.now(UTC)
        if self.state.connected_since is None:
            await self._gaps.restored(now)
            log.info(
                "notification socket connected",
                extra={"action": "bridge.connected", "channel": channel.id},
            )
        self.state.connected_since = self.state.connected_since or now
        self.state.last_message_at = now
        return socket

    async def _read(self, socket: ClientConnection) -> None:
        silence = self._heartbeat * 1.5
        while True:
            try:
                text = await asyncio.wait_for(socket.recv(), silence)
            except TimeoutError:
                await socket.send(_PING)
                try:
                    text = await asyncio.wait_for(socket.recv(), self._heartbeat / 2)
                except TimeoutError:
                    raise SocketUnhealthy("no heartbeat and no pong") from None
            await self._frame(text)

    async def _frame(self, text: str | bytes) -> None:
        now = datetime.now(UTC)
        self.state.last_message_at = now
        try:
            message: Any = orjson.loads(text)
        except orjson.JSONDecodeError:
            log.warning("unreadable socket frame", extra={"action": "bridge.unreadable"})
            return
        if not isinstance(message, dict):
            return
        if "topicName" not in message:
            return  # a subscribe acknowledgement and the like: nothing for us
        if is_system_frame(message):
            topic = message["topicName"]
            if topic == "v2.system.socket_closing":
                log.info(
                    "socket_closing: connecting a new socket",
                    extra={"action": "bridge.socket_closing", "channel": self.state.id},
                )
                self._closing.set()
            elif topic.startswith(_GONE_TOPICS):
                raise ChannelGone(topic)
            return
        await self._sink.feed(message, now)

    async def _roll_over(
        self, channel: Channel, reader: asyncio.Task[None], old: ClientConnection
    ) -> tuple[asyncio.Task[None], ClientConnection]:
        """A new socket on ``channel``; the old one is read until it ends."""
        new = await self._connect(channel)
        self._drain(reader, old)
        log.info(
            "notification socket rolled over",
            extra={"action": "bridge.rolled_over", "channel": channel.id},
        )
        return asyncio.create_task(self._read(new)), new

    def _drain(self, reader: asyncio.Task[None], socket: ClientConnection) -> None:
        async def drain() -> None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(reader), self._heartbeat)
            reader.cancel()
            await socket.close()

        task = asyncio.create_task(drain())
        self._draining.add(task)
        task.add_done_callback(self._draining.discard)

    def _renewal_due(self) -> bool:
        expires, created = self.state.expires, self._created_at
        if expires is None or created is None:
            return False
        return datetime.now(UTC) >= created + (expires - created) * _RENEW_AT

    async def _renew(
        self, channel: Channel, reader: asyncio.Task[None], socket: ClientConnection
    ) -> tuple[Channel, asyncio.Task[None], ClientConnection]:
        """Subscribe again; if ``expires`` did not move, move to a new channel."""
        before = self.state.expires
        await self._subscribe(channel)
        listed = await self._api.list_channels()
        after = next((c.expires for c in listed if c.id == channel.id), None)
        if after is not None and before is not None and after > before:
            self._created_at = datetime.now(UTC)
            self.state.expires = after
            log.info(
                "notification channel renewed",
                extra={"action": "bridge.renewed", "channel": channel.id},
            )
            return channel, reader, socket
        new_channel = await self._open()
        await self._subscribe(new_channel)
        new_socket = await self._connect(new_channel)
        self._drain(reader, socket)
        log.info(
            "notification channel replaced before it expires",
            extra={"action": "bridge.replaced", "channel": new_channel.id},
        )
        return new_channel, asyncio.create_task(self._read(new_socket)), new_socket
