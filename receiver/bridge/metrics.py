"""The tracking metrics, read when Prometheus scrapes (registered on the app's registry).

``flowtrack_bridge_*`` describe this process's notification bridge (zero when it does
not hold the channels); ``flowtrack_history_pull_*`` the pull rounds this process ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from receiver.bridge.tracking import Tracking


class TrackingCollector(Collector):
    """Reads the bridge's and the puller's plain counters at scrape time."""

    def __init__(self, tracking: Tracking) -> None:
        self._tracking = tracking

    def collect(self) -> Iterator[Metric]:
        bridge = self._tracking.bridge
        holding = bridge is not None and bridge.holding
        yield GaugeMetricFamily(
            "flowtrack_bridge_holding",
            "1 while this process holds the notification channels.",
            value=1 if holding else 0,
        )
        states = bridge.channel_states() if bridge is not None else []
        yield GaugeMetricFamily(
            "flowtrack_bridge_channels_connected",
            "Notification channels with a listening socket.",
            value=sum(1 for state in states if state.connected_since is not None),
        )
        topics = GaugeMetricFamily(
            "flowtrack_bridge_topics",
            "Topics subscribed, by state, and left out for lack of budget.",
            labels=["state"],
        )
        permitted = rejected = 0
        for state in states:
            for topic in state.topics.values():
                if topic.permitted:
                    permitted += 1
                else:
                    rejected += 1
        topics.add_metric(["Permitted"], permitted)
        topics.add_metric(["Rejected"], rejected)
        topics.add_metric(["left_out"], len(bridge.left_out) if bridge is not None else 0)
        yield topics
        counts = bridge.sink.counts if bridge is not None else None
        messages = CounterMetricFamily(
            "flowtrack_bridge_messages",
            "Notification messages committed by this process's bridge.",
            value=counts.messages if counts else 0,
        )
        yield messages
        events = CounterMetricFamily(
            "flowtrack_bridge_events",
            "Events of those messages: new, or already stored (from another source or twice).",
            labels=["result"],
        )
        events.add_metric(["stored"], counts.stored_events if counts else 0)
        events.add_metric(["duplicate"], counts.duplicate_events if counts else 0)
        yield events
        yield CounterMetricFamily(
            "flowtrack_bridge_gaps",
            "Intervals without a healthy socket this process recorded.",
            value=bridge.gaps_recorded if bridge is not None else 0,
        )
        puller = self._tracking.puller
        status = puller.status if puller is not None else None
        pulled = CounterMetricFamily(
            "flowtrack_history_pull_events",
            "Events from downloaded histories: new, or already stored.",
            labels=["result"],
        )
        pulled.add_metric(["stored"], status.stored_events if status else 0)
        pulled.add_metric(["duplicate"], status.duplicate_events if status else 0)
        yield pulled
        launches = GaugeMetricFamily(
            "flowtrack_history_pull_launches",
            "Launches by history state, as of this process's last round.",
            labels=["state"],
        )
        for name, count in (status.by_state if status else {}).items():
            launches.add_metric([name], count)
        yield launches
