"""Metrics read at scrape time (nothing on the hot path): the upstream ticker's connections, ticks
in and out, subscribers and their queues, order-update subscribers, order queues, each account's
session state, kill switches, automatic exits and how many accounts each egress carries. Each
comes from a small provider (a callable) that the composition root wires to the part that knows
it; this module knows none of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


@dataclass(frozen=True)
class ConnectionStats:
    """One upstream ticker connection: its index, its state's name, seconds up (0 while not connected),
    and how often it has reconnected."""

    index: int
    state: str
    uptime: float
    reconnects: int = 0


@dataclass(frozen=True)
class TickerStats:
    """One account's live ticks; `connected`: its feed is up as its subscribers are told it."""

    connected: bool = False
    connections: Sequence[ConnectionStats] = ()
    ticks_in: int = 0
    delivered: int = 0
    conflated: int = 0
    queue_depths: Sequence[int] = ()  # ticks waiting in each subscriber's mailbox


@dataclass(frozen=True)
class EgressStats:
    """One egress: its name, the IP Kite sees its calls come from (as far as the gateway knows), the
    accounts it carries and how many accounts may share one IP before the gateway warns."""

    name: str
    ip: str
    accounts: int
    family_size: int


@dataclass(frozen=True)
class LeaseStats:
    """The clustered mode, on this replica: leases it holds, the lease keys (Kite apps) that some
    replica should hold, and whether its lease keeper reached the database within a lease ttl."""

    held: int
    keys: int
    database_reachable: bool


def _no_egresses() -> Sequence[EgressStats]:
    return ()


def _no_switches() -> Mapping[str, bool]:
    return {}


def _no_exits() -> Mapping[tuple[str, str], int]:
    return {}


def _no_expiries() -> Mapping[str, float]:
    return {}


def _no_alerts() -> tuple[int, Mapping[str, int]]:
    return 0, {}


def _not_clustered() -> LeaseStats | None:
    return None


@dataclass(frozen=True)
class StateSources:
    """By account id: ticker stats, open order-update streams, queued placements, and the name of
    the session state (e.g. SESSION_STATE_ACTIVE); the egresses; and each stored kill switch by
    scope (an account id, or "gateway" for the gateway-wide one) with whether it is engaged; and
    the automatic exits this process carried out, by (scope kind, rule); when each account's access
    token expires (Unix seconds, for accounts holding one); and, clustered, the leases."""

    tickers: Callable[[], Mapping[str, TickerStats]]
    order_subscribers: Callable[[], Mapping[str, int]]
    order_queues: Callable[[], Mapping[str, int]]
    sessions: Callable[[], Mapping[str, str]]
    egresses: Callable[[], Sequence[EgressStats]] = _no_egresses
    kill_switches: Callable[[], Mapping[str, bool]] = _no_switches
    automatic_exits: Callable[[], Mapping[tuple[str, str], int]] = _no_exits
    leases: Callable[[], LeaseStats | None] = _not_clustered
    session_expiries: Callable[[], Mapping[str, float]] = _no_expiries
    alerts: Callable[[], tuple[int, Mapping[str, int]]] = _no_alerts  # (events queued, dropped by event type)


class StateCollector(Collector):
    def __init__(self, sources: StateSources) -> None:
        self.sources = sources

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
        # Always one sample per account (0 or 1): kite_ticker_connections has no series for a state no
        # connection is in, so "connected" would vanish, not read 0, while the feed is down.
        up = GaugeMetricFamily(
            "kite_ticker_up",
            "1 while the account's ticker feed is connected (as its subscribers see it).",
            labels=account,
        )
        reconnects = CounterMetricFamily(
            "kite_ticker_reconnects", "Reconnects of the account's upstream ticker connections.", labels=account
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
        for account_id, stats in sorted(self.sources.tickers().items()):
            states: dict[str, int] = {}
            for connection in stats.connections:
                states[connection.state] = states.get(connection.state, 0) + 1
                uptime.add_metric([account_id, str(connection.index)], connection.uptime)
            for name, count in sorted(states.items()):
                connections.add_metric([account_id, name], count)
            up.add_metric([account_id], 1 if stats.connected else 0)
            reconnects.add_metric([account_id], sum(connection.reconnects for connection in stats.connections))
            ticks_in.add_metric([account_id], stats.ticks_in)
            ticks_out.add_metric([account_id], stats.delivered)
            conflated.add_metric([account_id], stats.conflated)
            subscribers.add_metric([account_id], len(stats.queue_depths))
            depth.add_metric([account_id, "sum"], sum(stats.queue_depths))
            depth.add_metric([account_id, "max"], max(stats.queue_depths, default=0))
        order_subscribers = GaugeMetricFamily(
            "kite_gateway_order_update_subscribers", "Open StreamOrderUpdates calls.", labels=account
        )
        for account_id, count in sorted(self.sources.order_subscribers().items()):
            order_subscribers.add_metric([account_id], count)
        queued = GaugeMetricFamily(
            "kite_gateway_order_queue_depth",
            "Placements waiting in each account's queue in front of Kite.",
            labels=account,
        )
        for account_id, waiting in sorted(self.sources.order_queues().items()):
            queued.add_metric([account_id], waiting)
        sessions = GaugeMetricFamily(
            "kite_gateway_account_session", "1 for each account's current session state.", labels=[*account, "state"]
        )
        for account_id, state in sorted(self.sources.sessions().items()):
            sessions.add_metric([account_id, state], 1)
        expiries = GaugeMetricFamily(
            "kite_gateway_session_expiry_timestamp_seconds",
            "When each account's Kite access token expires (Unix seconds); no series without a token.",
            labels=account,
        )
        for account_id, expires in sorted(self.sources.session_expiries().items()):
            expiries.add_metric([account_id], expires)
        switches = GaugeMetricFamily(
            "kite_gateway_kill_switch_engaged",
            "1 while a kill switch is engaged (new orders refused), 0 once released; by scope (account or gateway).",
            labels=["scope"],
        )
        for scope, engaged in sorted(self.sources.kill_switches().items()):
            switches.add_metric([scope], 1 if engaged else 0)
        exits = CounterMetricFamily(
            "kite_gateway_automatic_exits",
            "Automatic exits carried out (kill switch or halt, then square-off if configured), by scope and rule.",
            labels=["scope", "rule"],
        )
        for (scope, rule), count in sorted(self.sources.automatic_exits().items()):
            exits.add_metric([scope, rule], count)
        queued_events, dropped_events = self.sources.alerts()
        alert_queue = GaugeMetricFamily(
            "kite_gateway_alert_events_queued",
            "Events waiting for the alert engine (bounded by KITE_GATEWAY_ALERTS_QUEUE).",
        )
        alert_queue.add_metric([], queued_events)
        alert_drops = CounterMetricFamily(
            "kite_gateway_alert_events_dropped",
            "Events the alert engine never saw because its queue was full, by event type: alerts may be missing.",
            labels=["event"],
        )
        for event, count in sorted(dropped_events.items()):
            alert_drops.add_metric([event], count)
        yield from (alert_queue, alert_drops)
        yield from self._egress_metrics()
        yield from self._lease_metrics()
        yield from (
            connections,
            up,
            reconnects,
            uptime,
            ticks_in,
            ticks_out,
            conflated,
            subscribers,
            depth,
            order_subscribers,
            queued,
            sessions,
            expiries,
            switches,
            exits,
        )

    def _egress_metrics(self) -> Iterator[Metric]:
        egresses = self.sources.egresses()
        if not egresses:
            return
        accounts = GaugeMetricFamily(
            "kite_gateway_egress_accounts",
            "Accounts whose order calls leave through each egress, and the IP Kite sees them come from.",
            labels=["egress", "ip"],
        )
        per_ip: dict[str, int] = {}
        for egress in egresses:
            accounts.add_metric([egress.name, egress.ip], egress.accounts)
            per_ip[egress.ip] = per_ip.get(egress.ip, 0) + egress.accounts
        family = GaugeMetricFamily(
            "kite_gateway_egress_family_size",
            "Accounts that may share one IP (Kite allows sharing within a family) before the gateway warns.",
        )
        family.add_metric([], egresses[0].family_size)
        beyond = GaugeMetricFamily(
            "kite_gateway_egress_shared_beyond_family",
            "1 for an IP that more accounts' order calls leave from than the family size, else 0.",
            labels=["ip"],
        )
        for ip, count in sorted(per_ip.items()):
            beyond.add_metric([ip], 1 if count > egresses[0].family_size else 0)
        yield from (accounts, family, beyond)

    def _lease_metrics(self) -> Iterator[Metric]:
        leases = self.sources.leases()
        if leases is None:
            return
        yield GaugeMetricFamily("kite_gateway_leases_held", "Leases (Kite apps) this replica holds.", leases.held)
        yield GaugeMetricFamily(
            "kite_gateway_lease_keys",
            "Lease keys (Kite apps with accounts) that some replica should hold.",
            leases.keys,
        )
        yield GaugeMetricFamily(
            "kite_gateway_lease_database_reachable",
            "1 while this replica's lease keeper reached the database within a lease ttl (it can hold leases).",
            1 if leases.database_reachable else 0,
        )
