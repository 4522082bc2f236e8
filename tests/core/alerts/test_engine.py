"""The alert engine: every kind fires once when its condition starts to hold, stays quiet while it
holds, re-arms once it clears; disabled rules never fire; refusal windows stay bounded; a restored
snapshot keeps a restarted engine from paging again."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from kite_gateway.core.alerts import (
    AlertEngine,
    AlertKind,
    AlertRule,
    AlertStateError,
    Direction,
    DuplicateEvent,
    DuplicateRule,
    MarginEvent,
    MarginUtilisationRule,
    MoveDirection,
    OrderAlertStatus,
    OrderEvent,
    OrderStatusRule,
    PercentMoveRule,
    PnlDrawdownRule,
    PnlEvent,
    PnlOf,
    PriceCrossRule,
    PriceEvent,
    Reference,
    RiskRefusalEvent,
    RiskRefusalRateRule,
    SessionEvent,
    SessionRule,
    SessionStatus,
    Severity,
    TickerEvent,
    TickerRule,
    TickerState,
)

T0 = datetime(2026, 12, 3, 9, 15, tzinfo=UTC)
URL = "https://kite.example/connect/login?api_key=k"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def price(last: str, close: str | None = "1000", symbol: str = "INFY", s: float = 0) -> PriceEvent:
    return PriceEvent("NSE", symbol, Decimal(last), None if close is None else Decimal(close), at(s))


def order(
    status: str, filled: int = 0, quantity: int = 10, order_id: str = "o1", account: str = "ZS0001"
) -> OrderEvent:
    return OrderEvent(account, order_id, status, filled, quantity, "margin exceeds" if status == "REJECTED" else "", T0)


def session(state: SessionStatus, expires_in_minutes: float | None = 120, s: float = 0) -> SessionEvent:
    expires = None if expires_in_minutes is None else at(s) + timedelta(minutes=expires_in_minutes)
    return SessionEvent("ZS0001", state, expires, URL, at(s))


def ticker(state: TickerState, last_tick: float | None, s: float) -> TickerEvent:
    return TickerEvent("ZS0001", state, None if last_tick is None else at(last_tick), at(s))


def refusal(s: float, account: str = "ZS0001") -> RiskRefusalEvent:
    return RiskRefusalEvent(account, "max_order_value", at(s))


def fired(engine: AlertEngine, *events: object) -> list[str]:
    """The rule ids each event fired, one entry per event ("" for none)."""
    out = []
    for event in events:
        alerts = engine.observe(event)  # type: ignore[arg-type]
        out.append(",".join(a.rule_id for a in alerts))
    return out


ABOVE = PriceCrossRule(id="above", scope="NSE:INFY", direction=Direction.ABOVE, level=Decimal("1600"))
BELOW = PriceCrossRule(id="below", scope="NSE:INFY", direction=Direction.BELOW, level=Decimal("1500"))


# --- price cross ---------------------------------------------------------------------------------


def test_a_price_crossing_above_fires_once_and_rearms_only_back_below_the_level() -> None:
    engine = AlertEngine([ABOVE])
    prices = [price(p) for p in ("1599.95", "1600", "1650", "1600.05", "1599.95", "1601")]
    assert fired(engine, *prices) == ["", "above", "", "", "", "above"]


def test_a_price_crossing_below_fires_once_and_rearms_back_above() -> None:
    engine = AlertEngine([BELOW])
    assert fired(engine, price("1500.05"), price("1499"), price("1400"), price("1501"), price("1500")) == [
        "", "below", "", "", "below"
    ]  # fmt: skip


def test_a_price_cross_alert_says_what_crossed_with_exact_prices() -> None:
    (alert,) = AlertEngine([ABOVE]).observe(price("1600.05"))
    assert (alert.kind, alert.severity, alert.scope, alert.at) == (
        AlertKind.PRICE_CROSS,
        Severity.WARNING,
        "NSE:INFY",
        T0,
    )
    assert alert.fields == {"instrument": "NSE:INFY", "last_price": "1600.05", "level": "1600", "direction": "above"}
    assert "1600.05" in alert.message and "1600" in alert.title


def test_a_price_on_another_instrument_is_not_a_crossing() -> None:
    assert AlertEngine([ABOVE]).observe(price("1700", symbol="TCS")) == []


# --- percent move --------------------------------------------------------------------------------


def test_a_move_from_the_previous_close_fires_once_and_rearms_when_it_narrows() -> None:
    rule = PercentMoveRule(id="move", scope="NSE:INFY", percent=Decimal("3"))
    engine = AlertEngine([rule])
    moves = [price("1029.99"), price("970"), price("960"), price("1010"), price("1031")]
    assert fired(engine, *moves) == ["", "move", "", "", "move"]


def test_a_move_up_only_rule_ignores_a_fall() -> None:
    rule = PercentMoveRule(id="up", scope="NSE:INFY", percent=Decimal("3"), direction=MoveDirection.UP)
    assert fired(AlertEngine([rule]), price("900"), price("1030")) == ["", "up"]


def test_a_move_from_the_first_price_seen_measures_from_that_price() -> None:
    rule = PercentMoveRule(id="first", scope="NSE:INFY", percent=Decimal("10"), reference=Reference.FIRST)
    engine = AlertEngine([rule])
    (alert,) = [a for e in (price("2000", close=None), price("2199"), price("1800")) for a in engine.observe(e)]
    assert alert.fields["reference"] == "2000" and alert.fields["move_percent"] == "-10.00"
    assert alert.fields["reference_kind"] == "first"


def test_a_move_from_the_close_without_a_close_fires_nothing() -> None:
    rule = PercentMoveRule(id="move", scope="NSE:INFY", percent=Decimal("1"))
    assert fired(AlertEngine([rule]), price("5000", close=None), price("5000", close="0")) == ["", ""]


# --- orders and duplicates -----------------------------------------------------------------------


ORDERS = OrderStatusRule(
    id="orders",
    scope="*",
    statuses=frozenset({OrderAlertStatus.REJECTED, OrderAlertStatus.PARTIALLY_FILLED, OrderAlertStatus.COMPLETE}),
)


def test_each_order_status_fires_once_per_order() -> None:
    engine = AlertEngine([ORDERS])
    events = [order("OPEN"), order("OPEN", 4), order("OPEN", 7), order("COMPLETE", 10), order("COMPLETE", 10)]
    assert fired(engine, *events) == ["", "orders", "", "orders", ""]


def test_a_rejection_alert_carries_kites_reason() -> None:
    (alert,) = AlertEngine([ORDERS]).observe(order("REJECTED", order_id="o9"))
    assert alert.fields["status"] == "REJECTED" and alert.fields["order_id"] == "o9"
    assert "margin exceeds" in alert.message


def test_an_order_rule_only_fires_for_its_statuses_and_account() -> None:
    rule = OrderStatusRule(id="rej", scope="ZS0001", statuses=frozenset({OrderAlertStatus.REJECTED}))
    engine = AlertEngine([rule])
    events = [order("COMPLETE", 10), order("OPEN", 3), order("REJECTED", account="ZS0002"), order("REJECTED")]
    assert fired(engine, *events) == ["", "", "", "rej"]


def test_a_cancelled_part_filled_order_is_not_a_partial_fill() -> None:
    engine = AlertEngine([ORDERS])
    assert fired(engine, order("CANCELLED", 4)) == [""]


def test_each_duplicate_order_fires_once() -> None:
    engine = AlertEngine([DuplicateRule(id="dup", scope="*", severity=Severity.CRITICAL)])
    first = DuplicateEvent("ZS0001", "c1", "o1", "o2", "CANCELLED", "cancelled the second order", T0)
    second = DuplicateEvent("ZS0001", "c1", "o1", "o3", "CANCELLED", "cancelled the third order", T0)
    assert fired(engine, first, first, second) == ["dup", "", "dup"]
    (alert,) = AlertEngine([DuplicateRule(id="dup", scope="*", severity=Severity.CRITICAL)]).observe(first)
    assert alert.severity is Severity.CRITICAL and alert.fields["duplicate_order_id"] == "o2"


# --- P&L, margin ---------------------------------------------------------------------------------


def pnl(amount: str, scope: PnlOf = PnlOf.ACCOUNT, scope_id: str = "ZS0001") -> PnlEvent:
    return PnlEvent(scope, scope_id, Decimal(amount), T0)


def test_a_drawdown_from_the_peak_fires_once_and_rearms_when_the_pnl_recovers() -> None:
    engine = AlertEngine([PnlDrawdownRule(id="dd", scope="*", amount=Decimal("1000"))])
    events = [pnl("0"), pnl("2500"), pnl("1500.01"), pnl("1500"), pnl("200"), pnl("1600"), pnl("1400")]
    assert fired(engine, *events) == ["", "", "", "dd", "", "", "dd"]


def test_a_drawdown_alert_names_the_peak_and_the_fall() -> None:
    engine = AlertEngine([PnlDrawdownRule(id="dd", scope="momentum", pnl_of=PnlOf.STRATEGY, amount=Decimal("100"))])
    engine.observe(pnl("300", PnlOf.STRATEGY, "momentum"))
    (alert,) = engine.observe(pnl("150.50", PnlOf.STRATEGY, "momentum"))
    assert alert.fields == {
        "scope": "strategy",
        "scope_id": "momentum",
        "pnl": "150.50",
        "peak": "300",
        "drawdown": "149.50",
    }


def test_the_peak_starts_at_zero_as_the_days_pnl_does() -> None:
    engine = AlertEngine([PnlDrawdownRule(id="dd", scope="*", amount=Decimal("1000"))])
    assert fired(engine, pnl("-999.99"), pnl("-1000")) == ["", "dd"]


def test_a_strategy_drawdown_rule_ignores_an_account_of_the_same_name() -> None:
    engine = AlertEngine([PnlDrawdownRule(id="dd", scope="X", pnl_of=PnlOf.STRATEGY, amount=Decimal("1"))])
    assert fired(engine, pnl("10", scope_id="X"), pnl("0", scope_id="X")) == ["", ""]


def test_margin_utilisation_at_the_ceiling_fires_once_and_rearms_below_it() -> None:
    engine = AlertEngine([MarginUtilisationRule(id="m", scope="*", ceiling=Decimal("0.9"))])
    events = [MarginEvent("ZS0001", Decimal(u), T0) for u in ("0.5", "0.9", "0.95", "0.89", "0.91")]
    assert fired(engine, *events) == ["", "m", "", "", "m"]


def test_margin_is_tracked_per_account() -> None:
    engine = AlertEngine([MarginUtilisationRule(id="m", scope="*", ceiling=Decimal("0.9"))])
    events = [MarginEvent(account, Decimal("0.95"), T0) for account in ("ZS0001", "ZS0002", "ZS0001")]
    assert fired(engine, *events) == ["m", "m", ""]


# --- session -------------------------------------------------------------------------------------


def test_needs_login_fires_once_with_the_login_url_and_rearms_after_a_login() -> None:
    engine = AlertEngine([SessionRule(id="s", scope="*")])
    events = [
        session(SessionStatus.ACTIVE),
        session(SessionStatus.NEEDS_LOGIN, None),
        session(SessionStatus.NEEDS_LOGIN, None),
        session(SessionStatus.ACTIVE),
        session(SessionStatus.NEEDS_LOGIN, None),
    ]
    assert fired(engine, *events) == ["", "s", "", "", "s"]
    (alert,) = AlertEngine([SessionRule(id="s", scope="*")]).observe(session(SessionStatus.NEEDS_LOGIN, None))
    assert alert.fields["login_url"] == URL and URL in alert.message


def test_a_session_expiring_within_n_minutes_fires_on_tick_once_and_rearms_on_renewal() -> None:
    engine = AlertEngine([SessionRule(id="exp", scope="*", expiring_within_minutes=30, needs_login=False)])
    assert engine.observe(session(SessionStatus.ACTIVE, expires_in_minutes=60)) == []  # expires at T0 + 60 min
    assert engine.tick(at(29 * 60 + 59)) == []
    (alert,) = engine.tick(at(30 * 60))
    assert alert.rule_id == "exp" and alert.at == at(30 * 60) and alert.fields["login_url"] == URL
    assert engine.tick(at(45 * 60)) == []
    assert engine.observe(session(SessionStatus.ACTIVE, expires_in_minutes=24 * 60, s=50 * 60)) == []
    assert engine.tick(at(50 * 60 + 24 * 3600 - 30 * 60 - 1)) == []
    assert [a.rule_id for a in engine.tick(at(50 * 60 + 24 * 3600 - 30 * 60))] == ["exp"]


def test_an_event_of_a_session_already_expiring_fires_at_once() -> None:
    engine = AlertEngine([SessionRule(id="exp", scope="*", expiring_within_minutes=30)])
    assert fired(engine, session(SessionStatus.ACTIVE, 10)) == ["exp"]
    assert engine.tick(at(60)) == []


# --- ticker --------------------------------------------------------------------------------------


def test_a_ticker_going_down_fires_once_and_rearms_when_connected() -> None:
    engine = AlertEngine([TickerRule(id="t", scope="*")])
    events = [
        ticker(TickerState.CONNECTED, 0, 0),
        ticker(TickerState.DOWN, 0, 1),
        ticker(TickerState.DOWN, 0, 2),
        ticker(TickerState.CONNECTED, 3, 3),
        ticker(TickerState.DOWN, 3, 4),
    ]
    assert fired(engine, *events) == ["", "t", "", "", "t"]


def test_a_stale_ticker_fires_on_tick_once_and_rearms_on_a_fresh_tick() -> None:
    engine = AlertEngine([TickerRule(id="stale", scope="*", down=False, stale_seconds=20)])
    engine.observe(ticker(TickerState.CONNECTED, 0, 0))
    assert engine.tick(at(19.9)) == []
    assert [a.rule_id for a in engine.tick(at(20))] == ["stale"]
    assert engine.tick(at(30)) == []
    assert engine.observe(ticker(TickerState.CONNECTED, 31, 31)) == []
    assert [a.rule_id for a in engine.tick(at(51))] == ["stale"]


def test_a_connected_ticker_that_never_ticked_is_stale_from_its_connection() -> None:
    engine = AlertEngine([TickerRule(id="stale", scope="*", down=False, stale_seconds=20)])
    engine.observe(ticker(TickerState.CONNECTED, None, 5))
    assert engine.tick(at(24)) == []
    (alert,) = engine.tick(at(25))
    assert alert.fields["last_tick_at"] == at(5).isoformat()


def test_a_down_ticker_is_not_also_stale() -> None:
    engine = AlertEngine([TickerRule(id="stale", scope="*", down=False, stale_seconds=20)])
    engine.observe(ticker(TickerState.DOWN, 0, 0))
    assert engine.tick(at(100)) == []


# --- risk refusal rate ---------------------------------------------------------------------------


RATE = RiskRefusalRateRule(id="rate", scope="*", max_refusals=3, window_seconds=60)


def test_more_than_n_refusals_within_the_window_fires_once() -> None:
    engine = AlertEngine([RATE])
    assert fired(engine, refusal(0), refusal(10), refusal(20), refusal(30), refusal(40)) == ["", "", "", "rate", ""]


def test_refusals_spread_wider_than_the_window_never_fire() -> None:
    engine = AlertEngine([RATE])
    assert fired(engine, *(refusal(s) for s in range(0, 600, 21))) == [""] * len(range(0, 600, 21))


def test_the_refusal_rule_rearms_once_refusals_age_out_of_the_window() -> None:
    engine = AlertEngine([RATE])
    fired(engine, refusal(0), refusal(1), refusal(2), refusal(3))
    assert engine.tick(at(50)) == [] and not engine.armed("rate", "ZS0001")
    engine.tick(at(61))
    assert engine.armed("rate", "ZS0001")
    assert fired(engine, refusal(100), refusal(101), refusal(102), refusal(103)) == ["", "", "", "rate"]


def test_refusals_are_counted_per_account() -> None:
    engine = AlertEngine([RATE])
    events = [refusal(s, account) for s in range(3) for account in ("A", "B")] + [refusal(3, "B")]
    assert fired(engine, *events)[-1] == "rate"
    assert engine.armed("rate", "A")


def test_the_refusal_window_remembers_at_most_n_plus_one_times() -> None:
    engine = AlertEngine([RATE])
    fired(engine, *(refusal(s / 100) for s in range(10_000)))
    (times,) = engine.snapshot()["windows"]["rate"].values()
    assert len(times) == RATE.max_refusals + 1


def test_the_disarmed_keys_of_one_off_events_are_bounded() -> None:
    engine = AlertEngine([ORDERS], max_keys=100)
    fired(engine, *(order("REJECTED", order_id=f"o{n}") for n in range(1000)))
    assert len(engine.snapshot()["disarmed"]["orders"]) == 100


# --- enabled, scope ------------------------------------------------------------------------------


DISABLED: list[tuple[AlertRule, object]] = [
    (PriceCrossRule(id="x", scope="NSE:INFY", enabled=False, level=Decimal("1")), price("2")),
    (PercentMoveRule(id="x", scope="NSE:INFY", enabled=False, percent=Decimal("1")), price("2000")),
    (OrderStatusRule(id="x", scope="*", enabled=False), order("REJECTED")),
    (DuplicateRule(id="x", scope="*", enabled=False), DuplicateEvent("A", "c", "o1", "o2", "KEPT", "", T0)),
    (PnlDrawdownRule(id="x", scope="*", enabled=False, amount=Decimal("1")), pnl("-100")),
    (MarginUtilisationRule(id="x", scope="*", enabled=False, ceiling=Decimal("0.1")), MarginEvent("A", Decimal(1), T0)),
    (SessionRule(id="x", scope="*", enabled=False, expiring_within_minutes=60), session(SessionStatus.NEEDS_LOGIN)),
    (TickerRule(id="x", scope="*", enabled=False, stale_seconds=1), ticker(TickerState.DOWN, 0, 0)),
    (RiskRefusalRateRule(id="x", scope="*", enabled=False, max_refusals=0, window_seconds=60), refusal(0)),
]


@pytest.mark.parametrize(("rule", "event"), DISABLED, ids=[r.kind.value for r, _ in DISABLED])
def test_a_disabled_rule_never_fires(rule: AlertRule, event: object) -> None:
    engine = AlertEngine([rule])
    assert fired(engine, event, event) == ["", ""]
    assert engine.tick(at(3600)) == []
    enabled = AlertEngine([type(rule)(**{**rule.__dict__, "enabled": True})])
    assert fired(enabled, event) == ["x"]  # the same event fires the rule when it is enabled


def test_an_account_scoped_rule_ignores_other_accounts() -> None:
    engine = AlertEngine([MarginUtilisationRule(id="m", scope="ZS0001", ceiling=Decimal("0.5"))])
    assert fired(engine, MarginEvent("ZS0002", Decimal("0.9"), T0), MarginEvent("ZS0001", Decimal("0.9"), T0)) == [
        "",
        "m",
    ]


def test_rules_over_one_event_each_fire() -> None:
    engine = AlertEngine([ABOVE, PercentMoveRule(id="move", scope="NSE:INFY", percent=Decimal("50"))])
    assert fired(engine, price("1700")) == ["above,move"]


def test_two_rules_with_one_id_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        AlertEngine([ABOVE, PriceCrossRule(id="above", scope="NSE:TCS", level=Decimal("1"))])


# --- snapshot and restore ------------------------------------------------------------------------


ALL_RULES: list[AlertRule] = [
    ABOVE,
    PercentMoveRule(id="first", scope="NSE:INFY", percent=Decimal("10"), reference=Reference.FIRST),
    ORDERS,
    PnlDrawdownRule(id="dd", scope="*", amount=Decimal("100")),
    SessionRule(id="s", scope="*"),
    RATE,
]


def test_a_restored_engine_does_not_fire_again_for_what_already_fired() -> None:
    before = AlertEngine(ALL_RULES)
    assert fired(before, price("2000", close=None), price("1700", close=None)) == ["above", "first"]
    fired(before, order("REJECTED"), pnl("500"), pnl("300"), session(SessionStatus.NEEDS_LOGIN))
    fired(before, refusal(0), refusal(1), refusal(2), refusal(3))
    state = json.loads(json.dumps(before.snapshot()))  # it survives a trip through JSON

    after = AlertEngine(ALL_RULES)
    after.restore(state)
    events = [
        price("1650", close=None),  # still above 1600, still 17.5% under the first price 2000
        order("REJECTED"),
        pnl("350"),  # the peak 500 came back: still 150 under it
        session(SessionStatus.NEEDS_LOGIN),
        refusal(4),
    ]
    assert fired(after, *events) == ["", "", "", "", ""]
    fresh = AlertEngine(ALL_RULES)
    assert fired(fresh, *events) == ["above", "orders", "", "s", ""]  # without the snapshot they would fire


def test_a_restored_engine_rearms_as_the_conditions_clear() -> None:
    before = AlertEngine([ABOVE])
    before.observe(price("1700"))
    after = AlertEngine([ABOVE])
    after.restore(before.snapshot())
    assert fired(after, price("1650"), price("1500"), price("1650")) == ["", "", "above"]


def test_the_state_of_a_rule_no_longer_configured_is_dropped() -> None:
    before = AlertEngine([ABOVE])
    before.observe(price("1700"))
    after = AlertEngine([BELOW])
    after.restore(before.snapshot())
    assert after.snapshot() == {"version": 1, "disarmed": {}, "values": {}, "windows": {}}


def test_a_restored_refusal_window_keeps_counting() -> None:
    before = AlertEngine([RATE])
    fired(before, refusal(0), refusal(1), refusal(2))
    after = AlertEngine([RATE])
    after.restore(json.loads(json.dumps(before.snapshot())))
    assert fired(after, refusal(3)) == ["rate"]


@pytest.mark.parametrize(
    ("state", "named"),
    [
        ({}, "version must be 1"),
        ({"version": 2}, "version must be 1"),
        ({"version": 1, "disarmed": []}, "disarmed must be an object"),
        ({"version": 1, "disarmed": {"above": "NSE:INFY"}}, "disarmed.above must be a list"),
        ({"version": 1, "values": {"first": {"NSE:INFY": 1.5}}}, "values.first.NSE:INFY must be a decimal"),
        ({"version": 1, "windows": {"rate": {"A": ["yesterday"]}}}, "windows.rate.A must be an ISO 8601"),
        ({"version": 1, "windows": {"rate": {"A": "x"}}}, "must be a list"),
    ],
)
def test_a_malformed_snapshot_is_refused_with_what_is_wrong(state: dict[str, object], named: str) -> None:
    engine = AlertEngine([ABOVE, ALL_RULES[1], RATE])
    with pytest.raises(AlertStateError, match=named.replace(".", r"\.")):
        engine.restore(state)


def test_a_restored_engine_measures_from_the_first_price_seen_before_the_restart() -> None:
    rule = PercentMoveRule(id="first", scope="NSE:INFY", percent=Decimal("10"), reference=Reference.FIRST)
    before = AlertEngine([rule])
    before.observe(price("2000", close=None))
    after = AlertEngine([rule])
    after.restore(json.loads(json.dumps(before.snapshot())))
    assert fired(after, price("1790", close=None)) == ["first"]
    assert fired(AlertEngine([rule]), price("1790", close=None)) == [""]  # a fresh engine starts from 1790


def test_an_expiring_session_that_needed_a_login_warns_again_near_its_new_expiry() -> None:
    engine = AlertEngine([SessionRule(id="s", scope="*", expiring_within_minutes=30)])
    events = [
        session(SessionStatus.ACTIVE, 10),
        session(SessionStatus.NEEDS_LOGIN, None, s=600),
        session(SessionStatus.ACTIVE, 20, s=700),
    ]
    assert fired(engine, *events) == ["s", "s", "s"]  # expiring; needs login; a new session, expiring


# --- rebuilding with other rules -----------------------------------------------------------------


def test_an_engine_rebuilt_with_other_rules_keeps_the_unchanged_rules_state_and_resets_a_changed_one() -> None:
    tcs = PriceCrossRule(id="tcs", scope="NSE:TCS", direction=Direction.ABOVE, level=Decimal("3000"))
    engine = AlertEngine([ABOVE, tcs])
    assert fired(engine, price("1601"), price("3001", symbol="TCS")) == ["above", "tcs"]
    engine.observe(session(SessionStatus.NEEDS_LOGIN))
    higher = PriceCrossRule(id="tcs", scope="NSE:TCS", direction=Direction.ABOVE, level=Decimal("3000.50"))
    needs_login = SessionRule(id="session", scope="*", needs_login=True)
    rebuilt = engine.with_rules([ABOVE, higher, needs_login])
    assert fired(rebuilt, price("1602")) == [""]  # unchanged: still disarmed
    assert fired(rebuilt, price("3001", symbol="TCS")) == ["tcs"]  # a new level: armed again
    assert [a.rule_id for a in rebuilt.tick(T0)] == ["session"]  # the session seen before is still known
    assert fired(engine, price("1603")) == [""]  # the old engine is left as it was
