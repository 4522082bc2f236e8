"""GetExitStatus as messages: decimals exact, rules not set left unset, utilisation to a millionth,
a strategy's status without margins, an event's trading day and time; and a hub's tick entries read
back as prices (the exits) and quotes (the price alerts)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from kite_gateway_api.v1 import portfolio_pb2

from kite_gateway.core.risk import ExitEvent, ExitRule, ExitRules, ExitStatus, Utilisation
from kite_gateway.grpc.exit_mapping import exit_status_pb, tick_price, tick_quote
from kite_gateway.grpc.tick_encoding import ProtoTickEncoding
from kite_gateway.streaming import UpstreamState
from kite_wire.ticker_packets import Tick

DAY = date(2026, 12, 2)
LOCK = ExitRules(profit_lock_activate=Decimal(3000), profit_lock_trail_fraction=Decimal("0.25"), square_off=False)


def test_an_account_status_carries_its_thresholds_utilisation_and_events() -> None:
    event = ExitEvent(7, "account", "ZS0001", ExitRule.PROFIT_LOCK, "lock", Decimal("2999.5"), Decimal(3000),
                      Decimal(4000), None, False, "kill switch of ZS0001 engaged", DAY,
                      datetime(2026, 12, 2, 5, tzinfo=UTC))  # fmt: skip
    used = Utilisation(Decimal(1), Decimal(3))
    status = ExitStatus("account", "ZS0001", LOCK, Decimal("2999.5"), Decimal(4000), used,
                        {ExitRule.PROFIT_LOCK: "lock"}, [event], True, DAY)  # fmt: skip
    message = exit_status_pb(status)
    assert message.scope == portfolio_pb2.EXIT_SCOPE_ACCOUNT and message.watching and message.tripped
    assert (message.pnl.value, message.peak.value, message.utilisation.value) == ("2999.5", "4000", "0.333333")
    assert (message.margin_used.value, message.margin_total.value) == ("1", "3")
    thresholds = message.thresholds
    assert not thresholds.HasField("daily_loss_limit") and not thresholds.square_off
    assert thresholds.profit_lock_trail_fraction.value == "0.25"
    assert list(message.tripped_rules) == [portfolio_pb2.EXIT_RULE_PROFIT_LOCK]
    (told,) = message.events
    assert (told.event_id, told.threshold.value, told.HasField("utilisation")) == (7, "3000", False)
    assert (told.trading_day.year, told.trading_day.month, told.trading_day.day) == (2026, 12, 2)
    assert told.time.ToDatetime(UTC) == datetime(2026, 12, 2, 5, tzinfo=UTC)


def test_a_strategy_status_has_no_margins_and_an_unarmed_lock_no_peak() -> None:
    status = ExitStatus("strategy", "momentum", LOCK, Decimal(-5), None, None, {}, [], True, DAY)
    message = exit_status_pb(status)
    assert message.scope == portfolio_pb2.EXIT_SCOPE_STRATEGY and not message.tripped
    assert not message.HasField("peak") and not message.HasField("utilisation") and message.pnl.value == "-5"


def test_the_exits_audit_action_and_rules_match_the_contracts_numbers() -> None:
    from kite_gateway_api.v1 import order_pb2

    from kite_gateway.core.risk.exits import AUDIT_ACTION_SET_KILL_SWITCH
    from kite_gateway.grpc.exit_mapping import RULES

    assert AUDIT_ACTION_SET_KILL_SWITCH == order_pb2.AUDIT_ACTION_SET_KILL_SWITCH
    assert set(RULES) == set(ExitRule)
    assert sorted(RULES.values()) == sorted(v for v in portfolio_pb2.ExitRule.values() if v)


def test_a_hub_entry_reads_back_as_its_price_and_at_quote_level_its_close() -> None:
    encoding, raw = ProtoTickEncoding(), Tick(408065, 150025, "quote", close=148000)
    quote, ltp = encoding.tick(raw, 1, "NSE:INFY", 0), encoding.tick(raw, 0, "NSE:INFY", 0)
    assert tick_quote(quote) == (408065, Decimal("1500.25"), Decimal(1480))
    assert tick_quote(ltp) == (408065, Decimal("1500.25"), None)  # an LTP tick carries no close
    assert tick_price(quote) == tick_price(ltp) == (408065, Decimal("1500.25"))
    no_close = encoding.tick(Tick(408065, 150025, "quote"), 1, "NSE:INFY", 0)
    assert tick_quote(no_close) == (408065, Decimal("1500.25"), None)
    assert tick_quote(encoding.upstream_status(UpstreamState.CONNECTED, "up", 0)) is None
