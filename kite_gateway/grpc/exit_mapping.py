"""The automatic exits as kite_gateway.v1 messages (GetExitStatus), and the last price of a tick
(and its quote) as the tick hub shares it (the exits' price feed and the price alerts read the same
bytes as StreamTicks)."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any

from kite_gateway_api.v1 import market_data_pb2, portfolio_pb2

from kite_gateway.core.risk import ExitEvent, ExitRule, ExitRules, ExitStatus
from kite_gateway.grpc.mapping import date_pb, decimal_pb


def _entry_tick(entry: bytes) -> market_data_pb2.Tick | None:
    """The Tick of a TickBatch entry made by ProtoTickEncoding.tick (field 1: tag, varint length,
    Tick bytes); None for anything else."""
    if not entry or entry[0] != 0x0A:
        return None
    length, shift, at = 0, 0, 1
    while at < len(entry):
        byte = entry[at]
        length |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            break
        shift += 7
    return market_data_pb2.Tick.FromString(entry[at : at + length])


def tick_price(entry: bytes) -> tuple[int, Decimal] | None:
    """(instrument token, last price) of a TickBatch entry; None for anything else."""
    tick = _entry_tick(entry)
    if tick is None or not tick.last_price.value:
        return None
    return tick.instrument_token, Decimal(tick.last_price.value)


def tick_quote(entry: bytes) -> tuple[int, Decimal, Decimal | None] | None:
    """(instrument token, last price, the previous close) of a TickBatch entry (the close is in
    QUOTE and FULL ticks: None in an LTP tick, or when Kite sent none); None for anything else."""
    tick = _entry_tick(entry)
    if tick is None or not tick.last_price.value:
        return None
    close = Decimal(tick.ohlc.close.value) if tick.HasField("ohlc") and tick.ohlc.close.value else None
    return tick.instrument_token, Decimal(tick.last_price.value), close or None


RULES = {
    ExitRule.DAILY_LOSS_LIMIT: portfolio_pb2.EXIT_RULE_DAILY_LOSS_LIMIT,
    ExitRule.PROFIT_LOCK: portfolio_pb2.EXIT_RULE_PROFIT_LOCK,
    ExitRule.MARGIN_UTILISATION: portfolio_pb2.EXIT_RULE_MARGIN_UTILISATION,
}
RATIO = Decimal("0.000001")  # utilisation to a millionth
SCOPES = {"account": portfolio_pb2.EXIT_SCOPE_ACCOUNT, "strategy": portfolio_pb2.EXIT_SCOPE_STRATEGY}


def _set(message: Any, name: str, value: Decimal | None) -> None:
    if value is not None:
        getattr(message, name).CopyFrom(decimal_pb(value))


def thresholds_pb(rules: ExitRules) -> portfolio_pb2.ExitThresholds:
    message = portfolio_pb2.ExitThresholds(square_off=rules.square_off)
    for name in (
        "daily_loss_limit", "profit_lock_activate", "profit_lock_trail", "profit_lock_trail_fraction",
        "max_margin_utilisation",
    ):  # fmt: skip
        _set(message, name, getattr(rules, name))
    return message


def exit_event_pb(event: ExitEvent) -> portfolio_pb2.ExitEvent:
    message = portfolio_pb2.ExitEvent(
        event_id=event.event_id,
        scope=SCOPES[event.scope],
        scope_id=event.scope_id,
        rule=RULES[event.rule],
        reason=event.reason,
        square_off=event.square_off,
        outcome=event.outcome,
        trading_day=date_pb(event.trading_day),
    )
    _set(message, "pnl", event.pnl)
    _set(message, "threshold", event.threshold)
    _set(message, "peak", event.peak)
    _set(message, "utilisation", None if event.utilisation is None else event.utilisation.quantize(RATIO))
    message.time.FromDatetime(event.at.astimezone(UTC))
    return message


def exit_status_pb(status: ExitStatus) -> portfolio_pb2.ExitStatus:
    message = portfolio_pb2.ExitStatus(
        scope=SCOPES[status.scope],
        scope_id=status.scope_id,
        watching=status.watching,
        thresholds=thresholds_pb(status.rules),
        tripped=bool(status.crossed),
        tripped_rules=[RULES[rule] for rule in sorted(status.crossed, key=lambda r: RULES[r])],
        events=[exit_event_pb(event) for event in status.events],
        trading_day=date_pb(status.trading_day),
    )
    _set(message, "pnl", status.pnl)
    _set(message, "peak", status.peak)
    if status.utilisation is not None:
        _set(message, "margin_used", status.utilisation.used)
        _set(message, "margin_total", status.utilisation.total)
        _set(message, "utilisation", status.utilisation.ratio.quantize(RATIO))
    return message


def exit_status_response(account: ExitStatus, strategies: list[ExitStatus]) -> portfolio_pb2.GetExitStatusResponse:
    return portfolio_pb2.GetExitStatusResponse(
        account=exit_status_pb(account), strategies=[exit_status_pb(s) for s in strategies]
    )
