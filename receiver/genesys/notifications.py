"""Notification channels and their topic subscriptions (genesys-api.md §7).

Calls: ``apis/notifications_api.py``. A channel is opened over REST, then listened to
on the WebSocket at its ``connectUri`` (not this module's business).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from receiver.genesys import wire
from receiver.genesys.errors import GenesysNotFound
from receiver.genesys.page import Page
from receiver.genesys.session import ApiSession, segment
from receiver.genesys.wire import JSONObject


@dataclass(frozen=True, slots=True)
class Channel:
    """A notification channel; open a WebSocket to ``connect_uri``. Lives about 24 h."""

    id: str
    connect_uri: str | None = None
    expires: datetime | None = None

    @classmethod
    def from_wire(cls, data: JSONObject) -> Channel:
        return cls(
            id=wire.required_text(data, "id"),
            connect_uri=wire.text(data, "connectUri"),
            expires=wire.timestamp(data, "expires"),
        )


@dataclass(frozen=True, slots=True)
class ChannelTopic:
    """A subscribed topic; ``state`` is ``Permitted`` or ``Rejected``."""

    id: str
    state: str | None = None
    rejection_reason: str | None = None
    missing_permissions: tuple[str, ...] = ()

    @classmethod
    def from_wire(cls, data: JSONObject) -> ChannelTopic:
        return cls(
            id=wire.required_text(data, "id"),
            state=wire.text(data, "state"),
            rejection_reason=wire.text(data, "rejectionReason"),
            missing_permissions=wire.strings(data, "missingPermissions"),
        )

    @property
    def permitted(self) -> bool:
        return self.state != "Rejected"


class NotificationsApi:
    """``/api/v2/notifications/channels``: channels and their subscriptions."""

    def __init__(self, session: ApiSession) -> None:
        self._session = session

    async def create_channel(self) -> Channel:
        """Open a channel (``post_notifications_channels``); at most 20 per OAuth client,
        the 21st evicts the least recently used."""
        # Repeating is harmless: unconnected channels are the first ones Genesys evicts.
        return await self._session.fetch(
            "POST", "/api/v2/notifications/channels", Channel.from_wire, retry_safe=True
        )

    async def list_channels(self, *, include_channels: str | None = None) -> list[Channel]:
        """This token's channels, or with ``include_channels="oauthclient"`` those of all
        tokens of the OAuth client (``get_notifications_channels``)."""
        params = None if include_channels is None else {"includechannels": include_channels}
        page = await self._session.fetch(
            "GET", "/api/v2/notifications/channels", _channel_page, params=params
        )
        return list(page.entities)

    async def channel_exists(self, channel_id: str) -> bool:
        """Whether a channel still exists and is valid (``head_notifications_channel``)."""
        path = f"/api/v2/notifications/channels/{segment(channel_id)}"
        try:
            await self._session.request("HEAD", path)
        except GenesysNotFound:
            return False
        return True

    async def get_subscriptions(self, channel_id: str) -> list[ChannelTopic]:
        """The channel's topics (``get_notifications_channel_subscriptions``)."""
        return await self._subscriptions("GET", channel_id, None, ignore_errors=False)

    async def add_subscriptions(
        self, channel_id: str, topics: Iterable[str], *, ignore_errors: bool = False
    ) -> list[ChannelTopic]:
        """Add topics (``post_notifications_channel_subscriptions``). ``ignore_errors``
        turns failed permission checks into ``Rejected`` topics instead of an error."""
        return await self._subscriptions("POST", channel_id, topics, ignore_errors=ignore_errors)

    async def replace_subscriptions(
        self, channel_id: str, topics: Iterable[str], *, ignore_errors: bool = False
    ) -> list[ChannelTopic]:
        """Replace all topics (``put_notifications_channel_subscriptions``)."""
        return await self._subscriptions("PUT", channel_id, topics, ignore_errors=ignore_errors)

    async def delete_subscriptions(self, channel_id: str) -> None:
        """Remove every topic (``delete_notifications_channel_subscriptions``)."""
        path = f"/api/v2/notifications/channels/{segment(channel_id)}/subscriptions"
        await self._session.request("DELETE", path)

    async def _subscriptions(
        self, method: str, channel_id: str, topics: Iterable[str] | None, *, ignore_errors: bool
    ) -> list[ChannelTopic]:
        path = f"/api/v2/notifications/channels/{segment(channel_id)}/subscriptions"
        body = None if topics is None else [{"id": topic} for topic in topics]
        params = {"ignoreErrors": "true"} if ignore_errors else None
        # Adding a topic twice changes nothing, so POST is as safe to repeat as PUT.
        page = await self._session.fetch(
            method, path, _topic_page, params=params, body=body, retry_safe=True
        )
        return list(page.entities)


def _channel_page(data: JSONObject) -> Page[Channel]:
    return Page.from_wire(data, Channel.from_wire)


def _topic_page(data: JSONObject) -> Page[ChannelTopic]:
    return Page.from_wire(data, ChannelTopic.from_wire)
