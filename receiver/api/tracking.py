"""``GET /api/v1/tracking``: how flowtrack follows flows without editing them (#18).

Read from the database, so any replica answers the same: the notification lease (who
holds the channels, and the status it published with its last renewal) and the latest
gaps in the push. docs/tracking.md explains each part.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from receiver.bridge.status import BridgeStatus
from receiver.history_pull.puller import PullStatus
from receiver.resources import services
from receiver.web.models import Timestamp, WireModel, one_of, render
from receiver.web.operations import STORAGE_UNAVAILABLE, Reply, operation
from receiver.web.responses import JSONResponse
from storage.gaps import BACKFILLS
from storage.history_pulls import PULL_STATES
from storage.lease import LeaseState

#: Gaps shown (newest first).
RECENT_GAPS = 20

_Count = Annotated[int, Field(ge=0)]


class ChannelInfo(WireModel):
    """One notification channel the holder keeps."""

    id: str | None = Field(description="The channel id (null while none could be opened).")
    connected_since: Timestamp | None = Field(
        description="Since when a socket listens without interruption (null: not now)."
    )
    expires: Timestamp | None = Field(description="When Genesys says the channel expires.")
    last_message_at: Timestamp | None = Field(
        description="The last frame heard (a heartbeat counts)."
    )
    topics: _Count = Field(description="Topics subscribed on it.")


class TopicInfo(WireModel):
    """One subscribed topic."""

    id: str = Field(description="The topic as subscribed (combined topics use `?a&b`).")
    channel_id: str | None
    state: str = one_of(("Permitted", "Rejected"), "What Genesys answered.")
    rejection_reason: str | None = None
    missing_permissions: list[str] = Field(
        description="What the OAuth client lacks for a rejected topic."
    )


class Gap(WireModel):
    """An interval without a healthy socket: messages sent meanwhile were lost."""

    id: int
    started_at: Timestamp = Field(description="The last moment a socket was known to listen.")
    ended_at: Timestamp | None = Field(description="When a socket listened again (null: open).")
    reason: str = one_of(
        ("socket_lost", "holder_changed"),
        "`socket_lost`: heartbeats stopped, the socket closed or the channel was gone; "
        "`holder_changed`: the previous holder stopped and this one took over.",
    )
    backfill: str = one_of(
        BACKFILLS,
        "What becomes of the window: `pending` (the history pull will fetch the launches "
        "that ran in it), `pulled` (done), `no_pull` (the history pull is off: what was sent "
        "meanwhile is lost).",
    )


class Notifications(WireModel):
    """The notification bridge (FLOWTRACK_NOTIFICATIONS)."""

    enabled: bool = Field(description="This process runs the bridge.")
    holder: str | None = Field(description="The process holding the channels (host:pid:id).")
    held_since: Timestamp | None
    lease_expires: Timestamp | None = Field(
        description="Unless renewed, another replica takes over after this."
    )
    status_at: Timestamp | None = Field(description="When the holder last published this.")
    channels: list[ChannelInfo]
    topics: list[TopicInfo]
    rejected_topics: list[TopicInfo] = Field(description="The topics Genesys refused.")
    left_out: list[str] = Field(
        description="Topics not followed: the channel budget (FLOWTRACK_NOTIFICATION_"
        "MAX_CHANNELS times FLOWTRACK_NOTIFICATION_TOPICS_PER_CHANNEL) is full."
    )
    counts: dict[str, _Count] = Field(
        description="The holder's messages, stored and duplicate events, dead letters."
    )


class GivenUp(WireModel):
    """A launch whose history the pull will not fetch, and why."""

    launch_id: str
    state: str = one_of(
        ("ambiguous", "expired"),
        "`ambiguous`: several runs could be it; `expired`: ended over 10 days ago without "
        "history (Genesys keeps execution data 10 days).",
    )
    detail: str | None
    updated_at: Timestamp


class HistoryPull(WireModel):
    """The execution history download (FLOWTRACK_HISTORY_PULL)."""

    enabled: bool = Field(description="This process takes part in the pull.")
    execution_data: bool | None = Field(
        description="The org's execution-data setting as last read (false: Genesys keeps "
        "no history; an admin must switch it on and republish the flows); null: not read."
    )
    last_round_at: Timestamp | None
    last_error: str | None
    stored_events: _Count = Field(description="Events the last holder stored from histories.")
    duplicate_events: _Count = Field(description="History events that were already stored.")
    launches: dict[str, _Count] = Field(
        description="Launches by history state: `pending` (not found yet, tried again), "
        "`pulled`, `ambiguous` (several runs matched: none taken), `expired` (ended over 10 "
        "days ago without history).",
        json_schema_extra={"propertyNames": {"enum": list(PULL_STATES)}},
    )
    given_up: list[GivenUp] = Field(
        description=f"The latest {RECENT_GAPS} launches given up on, newest first."
    )

    @classmethod
    def of(
        cls,
        enabled: bool,
        lease: LeaseState | None,
        launches: dict[str, int],
        given_up: list[Any],
    ) -> HistoryPull:
        status = PullStatus.from_json(lease.status) if lease and lease.status else PullStatus()
        return cls.model_construct(
            enabled=enabled,
            execution_data=status.execution_data,
            last_round_at=status.last_round_at,
            last_error=status.last_error,
            stored_events=status.stored_events,
            duplicate_events=status.duplicate_events,
            launches=launches,
            given_up=[
                GivenUp.model_construct(
                    launch_id=row.launch_id,
                    state=row.state,
                    detail=row.detail,
                    updated_at=row.updated_at,
                )
                for row in given_up
            ],
        )


class TrackingState(WireModel):
    """How flows are followed without data action steps."""

    notifications: Notifications
    gaps: list[Gap] = Field(description=f"The latest {RECENT_GAPS} gaps, newest first.")
    history_pull: HistoryPull

    @classmethod
    def of(
        cls,
        enabled: bool,
        lease: LeaseState | None,
        gaps: list[Any],
        now: datetime,
        history_pull: HistoryPull,
    ) -> TrackingState:
        """The resource from the stored lease and gaps."""
        held = lease is not None and lease.expires_at > now
        status = BridgeStatus.from_json(lease.status) if held and lease and lease.status else None
        status = status or BridgeStatus()
        topics = [
            TopicInfo.model_construct(
                id=t.id,
                channel_id=t.channel_id,
                state=t.state,
                rejection_reason=t.rejection_reason,
                missing_permissions=list(t.missing_permissions),
            )
            for t in status.topics
        ]
        notifications = Notifications.model_construct(
            enabled=enabled,
            holder=lease.holder if held and lease else None,
            held_since=lease.acquired_at if held and lease else None,
            lease_expires=lease.expires_at if held and lease else None,
            status_at=lease.status_at if held and lease else None,
            channels=[
                ChannelInfo.model_construct(
                    id=c.id,
                    connected_since=c.connected_since,
                    expires=c.expires,
                    last_message_at=c.last_message_at,
                    topics=c.topics,
                )
                for c in status.channels
            ],
            topics=topics,
            rejected_topics=[t for t in topics if t.state == "Rejected"],
            left_out=list(status.left_out),
            counts=status.counts,
        )
        return cls.model_construct(
            notifications=notifications,
            history_pull=history_pull,
            gaps=[
                Gap.model_construct(
                    id=g.id,
                    started_at=g.started_at,
                    ended_at=g.ended_at,
                    reason=g.reason,
                    backfill=g.backfill,
                )
                for g in gaps
            ],
        )


@operation(
    "getTracking",
    "How flows are followed without editing them",
    tag="tracking",
    access="read",
    description="The notification channels (who holds them, since when, until when, the "
    "last message), the subscribed topics with their state, the rejected ones with the "
    "permissions they lack, the topics left out for lack of budget, the latest gaps in "
    "the push and their backfill, and the history pull's progress (the org's "
    "execution-data setting, launches by history state). See docs/tracking.md.",
    replies={200: Reply("The tracking state.", TrackingState)},
    failures=(STORAGE_UNAVAILABLE,),
)
async def get_tracking(request: Request) -> Response:
    """``GET /api/v1/tracking``."""
    tracking = services(request).tracking
    lease = await tracking.lease()
    gaps = list(await tracking.gaps.recent(RECENT_GAPS))
    pull = HistoryPull.of(
        tracking.config.history_pull,
        await tracking.pull_lease(),
        await tracking.pulls.counts(),
        list(await tracking.pulls.unresolved(RECENT_GAPS)),
    )
    state = TrackingState.of(tracking.config.notifications, lease, gaps, datetime.now(UTC), pull)
    return JSONResponse(render(state))
