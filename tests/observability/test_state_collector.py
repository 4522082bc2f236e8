"""The scrape-time collector as a unit: each series read from its provider, per account, in
account order, with the ticker's connections counted by state and the mailbox depths summed."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from kite_gateway.observability.state_collector import (
    ConnectionStats,
    EgressStats,
    LeaseStats,
    StateCollector,
    StateSources,
    TickerStats,
)


def scrape(sources: StateSources) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(StateCollector(sources))
    assert generate_latest(registry)  # renders
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
    }


def sources(**given: object) -> StateSources:
    empty: dict[str, object] = {}
    values = {"tickers": empty, "order_subscribers": empty, "order_queues": empty, "sessions": empty, **given}
    return StateSources(**{name: (lambda value=value: value) for name, value in values.items()})


def test_ticker_connections_are_counted_by_state_with_each_ones_uptime() -> None:
    stats = TickerStats(
        connections=[
            ConnectionStats(0, "UPSTREAM_STATE_CONNECTED", 12.5),
            ConnectionStats(1, "UPSTREAM_STATE_CONNECTED", 3.0),
            ConnectionStats(2, "UPSTREAM_STATE_RECONNECTING", 0.0, reconnects=4),
        ],
        connected=True,
        ticks_in=40,
        delivered=70,
        conflated=5,
        queue_depths=[0, 3, 9],
    )
    samples = scrape(sources(tickers={"AB1234": stats}))
    account = ("account_id", "AB1234")
    assert samples[("kite_ticker_connections", (account, ("state", "UPSTREAM_STATE_CONNECTED")))] == 2
    assert samples[("kite_ticker_connections", (account, ("state", "UPSTREAM_STATE_RECONNECTING")))] == 1
    assert samples[("kite_ticker_connection_uptime_seconds", (account, ("connection", "0")))] == 12.5
    assert samples[("kite_ticks_received_total", (account,))] == 40
    assert samples[("kite_ticker_up", (account,))] == 1
    assert samples[("kite_ticker_reconnects_total", (account,))] == 4
    assert samples[("kite_gateway_ticks_sent_total", (account,))] == 70
    assert samples[("kite_gateway_ticks_conflated_total", (account,))] == 5
    assert samples[("kite_gateway_tick_subscribers", (account,))] == 3
    assert samples[("kite_gateway_subscriber_queue_depth", (account, ("stat", "sum")))] == 12
    assert samples[("kite_gateway_subscriber_queue_depth", (account, ("stat", "max")))] == 9


def test_order_streams_queues_and_session_states_come_from_their_providers() -> None:
    samples = scrape(
        sources(
            order_subscribers={"AB1234": 2},
            order_queues={"AB1234": 7, "CD5678": 0},
            sessions={"AB1234": "SESSION_STATE_ACTIVE", "CD5678": "SESSION_STATE_NEEDS_LOGIN"},
        )
    )
    assert samples[("kite_gateway_order_update_subscribers", (("account_id", "AB1234"),))] == 2
    assert samples[("kite_gateway_order_queue_depth", (("account_id", "AB1234"),))] == 7
    assert samples[("kite_gateway_order_queue_depth", (("account_id", "CD5678"),))] == 0
    assert (
        samples[("kite_gateway_account_session", (("account_id", "CD5678"), ("state", "SESSION_STATE_NEEDS_LOGIN")))]
        == 1
    )


def test_an_account_without_a_ticker_exports_no_ticker_series() -> None:
    samples = scrape(sources(sessions={"AB1234": "SESSION_STATE_ACTIVE"}))
    assert not [name for name, _ in samples if name.startswith(("kite_ticker", "kite_ticks", "kite_gateway_tick"))]


def test_accounts_per_egress_are_summed_per_ip_against_the_family_size() -> None:
    egresses = [
        EgressStats("family-a", "203.0.113.10", 3, 4),
        EgressStats("family-a2", "203.0.113.10", 2, 4),  # another egress behind the same NAT'd IP
        EgressStats("default", "the host's default route", 1, 4),
    ]
    samples = scrape(sources(egresses=egresses))
    assert samples[("kite_gateway_egress_accounts", (("egress", "family-a"), ("ip", "203.0.113.10")))] == 3
    assert samples[("kite_gateway_egress_family_size", ())] == 4
    assert samples[("kite_gateway_egress_shared_beyond_family", (("ip", "203.0.113.10"),))] == 1
    assert samples[("kite_gateway_egress_shared_beyond_family", (("ip", "the host's default route"),))] == 0


def test_no_egress_source_adds_no_egress_series() -> None:
    assert not any(name.startswith("kite_gateway_egress") for name, _ in scrape(sources()))


def test_each_stored_kill_switch_is_one_while_engaged_and_zero_once_released() -> None:
    samples = scrape(sources(kill_switches={"gateway": False, "AB1234": True, "CD5678": False}))
    assert samples[("kite_gateway_kill_switch_engaged", (("scope", "AB1234"),))] == 1
    assert samples[("kite_gateway_kill_switch_engaged", (("scope", "CD5678"),))] == 0
    assert samples[("kite_gateway_kill_switch_engaged", (("scope", "gateway"),))] == 0


def test_no_kill_switch_stored_exports_no_kill_switch_series() -> None:
    assert not [key for key in scrape(sources()) if key[0] == "kite_gateway_kill_switch_engaged"]


def test_a_feed_that_is_down_reads_zero_rather_than_losing_its_series() -> None:
    stats = TickerStats(connections=[ConnectionStats(0, "UPSTREAM_STATE_RECONNECTING", 0.0, reconnects=7)])
    samples = scrape(sources(tickers={"AB1234": stats}))
    assert samples[("kite_ticker_up", (("account_id", "AB1234"),))] == 0
    assert samples[("kite_ticker_reconnects_total", (("account_id", "AB1234"),))] == 7


def test_automatic_exits_are_counted_by_scope_and_rule() -> None:
    carried = {("account", "daily_loss_limit"): 2, ("strategy", "profit_lock"): 1}
    samples = scrape(sources(automatic_exits=carried))
    total = "kite_gateway_automatic_exits_total"
    assert samples[(total, (("rule", "daily_loss_limit"), ("scope", "account")))] == 2
    assert samples[(total, (("rule", "profit_lock"), ("scope", "strategy")))] == 1


def test_a_clustered_replica_exports_its_leases_the_keys_to_hold_and_whether_it_reaches_the_database() -> None:
    stats = LeaseStats(held=2, keys=5, database_reachable=False)
    samples = scrape(sources(leases=stats))
    assert samples[("kite_gateway_leases_held", ())] == 2
    assert samples[("kite_gateway_lease_keys", ())] == 5
    assert samples[("kite_gateway_lease_database_reachable", ())] == 0


def test_a_gateway_that_is_not_clustered_exports_no_lease_series() -> None:
    assert not [key for key in scrape(sources()) if "lease" in key[0]]


def test_each_accounts_token_expiry_is_exported_in_unix_seconds() -> None:
    samples = scrape(sources(session_expiries={"AB1234": 1_780_000_000.0}))
    assert samples[("kite_gateway_session_expiry_timestamp_seconds", (("account_id", "AB1234"),))] == 1_780_000_000.0


def test_alert_events_dropped_on_a_full_queue_are_counted_by_event_type_beside_the_queue_depth() -> None:
    samples = scrape(sources(alerts=(7, {"PriceEvent": 3, "OrderEvent": 1})))
    assert samples[("kite_gateway_alert_events_queued", ())] == 7
    assert samples[("kite_gateway_alert_events_dropped_total", (("event", "PriceEvent"),))] == 3
    assert samples[("kite_gateway_alert_events_dropped_total", (("event", "OrderEvent"),))] == 1
