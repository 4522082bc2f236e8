"""Metrics read from the runtime at scrape time (nothing on the hot path): the upstream ticker's
connections, ticks in and out, subscribers and their queues, order-update subscribers and each
account's session state."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from kite_gateway_api.v1 import account_pb2, common_pb2
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from kite_gateway.app import Runtime


class RuntimeStateCollector(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        account = ["account_id"]
        connections = GaugeMetricFamily(
            "kite_ticker_connections", "Upstream ticker connections by state.", labels=[*account, "state"]
        )
        uptime = GaugeMetricFamily(
            "kite_ticker_connection_uptime_seconds",
            "Seconds since each connected ticker connection came up (0 while it is not connected).",
            labels=[*account, "connection"],
        )
        ticks_in = CounterMetricFamily("kite_ticks_received", "Ticks decoded from the upstream.", labels=account)
        ticks_out = CounterMetricFamily("kite_gateway_ticks_sent", "Ticks handed to subscribers.", labels=account)
        conflated = CounterMetricFamily(
            "kite_gateway_ticks_conflated", "Ticks dropped for slow subscribers (newer ones kept).", labels=account
        )
        subscribers = GaugeMetricFamily("kite_gateway_tick_subscribers", "Open StreamTicks calls.", labels=account)
        depth = GaugeMetricFamily(
            "kite_gateway_subscriber_queue_depth",
            "Ticks waiting in subscriber mailboxes: the sum and the deepest one.",
            labels=[*account, "stat"],
        )
        now = time.monotonic()
        for account_id, streams in sorted(self.runtime.tick_streams.accounts.items()):
            states: dict[str, int] = {}
            for connection in streams.ticker.connections:
                name = common_pb2.UpstreamState.Name(connection.state)  # type: ignore[arg-type]
                states[name] = states.get(name, 0) + 1
                up = connection.state == common_pb2.UPSTREAM_STATE_CONNECTED
                uptime.add_metric([account_id, str(connection.index)], now - connection.connect_time if up else 0.0)
            for name, count in sorted(states.items()):
                connections.add_metric([account_id, name], count)
            ticks_in.add_metric([account_id], streams.ticks_in)
            ticks_out.add_metric([account_id], streams.fanout.delivered_total)
            conflated.add_metric([account_id], streams.fanout.conflated_total)
            pending = [len(m.pending) for m in streams.fanout.mailboxes.values()]
            subscribers.add_metric([account_id], len(pending))
            depth.add_metric([account_id, "sum"], sum(pending))
            depth.add_metric([account_id, "max"], max(pending, default=0))
        order_subscribers = GaugeMetricFamily(
            "kite_gateway_order_update_subscribers", "Open StreamOrderUpdates calls.", labels=account
        )
        for account_id, listeners in sorted(self.runtime.order_updates.listeners.items()):
            order_subscribers.add_metric([account_id], len(listeners))
        queued = GaugeMetricFamily(
            "kite_gateway_order_queue_depth",
            "Placements waiting in each account's queue in front of Kite.",
            labels=account,
        )
        for account_id in sorted(self.runtime.dispatch.accounts()):
            queued.add_metric([account_id], self.runtime.dispatch.waiting(account_id))
        sessions = GaugeMetricFamily(
            "kite_gateway_account_session", "1 for each account's current session state.", labels=[*account, "state"]
        )
        for session in self.runtime.accounts.all():
            state, _ = session.state()
            sessions.add_metric([session.account_id, account_pb2.SessionState.Name(state)], 1)  # type: ignore[arg-type]
        yield from (
            connections,
            uptime,
            ticks_in,
            ticks_out,
            conflated,
            subscribers,
            depth,
            order_subscribers,
            queued,
            sessions,
        )
