"""SignalService's messages to and from the signals core (kite_gateway/core/signals)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from kite_gateway_api.v1 import common_pb2, signal_pb2

from kite_gateway.core.market import InstrumentMaster
from kite_gateway.core.signals import (
    Side,
    Signal,
    SignalRecord,
    Sizing,
    Strategy,
    Urgency,
    Usage,
    Validity,
)
from kite_gateway.errors import invalid
from kite_gateway.grpc.mapping import (
    decimal_pb,
    from_decimal_pb,
    instrument_ref,
    product_pb,
    product_text,
    transaction_pb,
    transaction_text,
)
from kite_gateway.grpc.request_limits import MAX_QUANTITY
from kite_gateway.storage import SignalEvent, SignalOrder

_ORDER_STATUS = {
    "sending": signal_pb2.SIGNAL_ORDER_STATUS_SENDING,
    "placed": signal_pb2.SIGNAL_ORDER_STATUS_PLACED,
    "failed": signal_pb2.SIGNAL_ORDER_STATUS_FAILED,
}


def strategy_id_of(request: signal_pb2.SubmitSignalRequest) -> str:
    """The request's strategy: `strategy_id`, or the signal's own when only that is set (both: the same)."""
    outer, inner = request.strategy_id, request.signal.strategy_id
    if outer and inner and outer != inner:
        raise invalid("signal.strategy_id", f"names strategy {inner!r} but the request is for {outer!r}")
    if not (outer or inner):
        raise invalid("strategy_id", "required: the configured strategy the signal is for")
    return outer or inner


def signal_of(request: signal_pb2.SubmitSignalRequest, master: InstrumentMaster) -> Signal:
    """The core signal of a request (the instrument resolved through the loaded master)."""
    message = request.signal
    listing = master.resolve(instrument_ref(message.instrument), "signal.instrument")
    intent = message.WhichOneof("intent")
    side = quantity = target = None
    if intent == "delta":
        side = Side(transaction_text(message.delta.side, "signal.delta.side"))
        quantity = message.delta.quantity
    elif intent == "target_position":
        target = message.target_position
        if abs(target) > MAX_QUANTITY:
            raise invalid("signal.target_position", f"at most {MAX_QUANTITY} either way")
    else:
        raise invalid("signal.intent", "give either delta (side and quantity) or target_position")
    validity = message.validity
    if validity not in (common_pb2.VALIDITY_UNSPECIFIED, common_pb2.VALIDITY_DAY, common_pb2.VALIDITY_IOC):
        raise invalid("signal.validity", "DAY or IOC (or unset for DAY)")
    return Signal(
        strategy_id=strategy_id_of(request),
        signal_id=message.signal_id,
        exchange=listing.exchange,
        tradingsymbol=listing.tradingsymbol,
        side=side,
        quantity=quantity,
        target_position=target,
        price_hint=_decimal(message, "price_hint", "signal.price_hint"),
        urgency=_urgency(message.urgency),
        validity=Validity.IOC if validity == common_pb2.VALIDITY_IOC else Validity.DAY,
        product="" if message.product == common_pb2.PRODUCT_UNSPECIFIED else product_text(message.product, "product"),
        stop_distance=_decimal(message, "stop_distance", "signal.stop_distance"),
    )


def _decimal(message: signal_pb2.Signal, name: str, field: str) -> Decimal | None:
    return from_decimal_pb(getattr(message, name), field) if message.HasField(name) else None  # type: ignore[arg-type]


def _urgency(message: signal_pb2.SignalUrgency) -> Urgency:
    kind = message.WhichOneof("kind")
    if kind == "limit_offset_ticks":
        return Urgency.limit_offset(message.limit_offset_ticks)
    if kind == "at_price":
        return Urgency.at_price(from_decimal_pb(message.at_price, "signal.urgency.at_price"))
    if kind == "market" and not message.market:
        raise invalid("signal.urgency.market", "set it true, or choose limit_offset_ticks or at_price")
    return Urgency.market()


def signal_pb(signal: Signal) -> signal_pb2.Signal:
    message = signal_pb2.Signal(
        strategy_id=signal.strategy_id,
        signal_id=signal.signal_id,
        instrument=common_pb2.InstrumentRef(symbol=f"{signal.exchange}:{signal.tradingsymbol}"),
        validity=common_pb2.VALIDITY_IOC if signal.validity is Validity.IOC else common_pb2.VALIDITY_DAY,
        product=product_pb(signal.product),
    )
    if signal.target_position is not None:
        message.target_position = signal.target_position
    elif signal.side is not None and signal.quantity is not None:
        message.delta.CopyFrom(signal_pb2.SignalDelta(side=transaction_pb(signal.side.value), quantity=signal.quantity))
    if signal.price_hint is not None:
        message.price_hint.CopyFrom(decimal_pb(signal.price_hint))
    if signal.stop_distance is not None:
        message.stop_distance.CopyFrom(decimal_pb(signal.stop_distance))
    urgency = signal.urgency
    if urgency.price is not None:
        message.urgency.at_price.CopyFrom(decimal_pb(urgency.price))
    elif urgency.kind.value == "LIMIT_OFFSET":
        message.urgency.limit_offset_ticks = urgency.offset_ticks
    else:
        message.urgency.market = True
    return message


def order_pb(order: SignalOrder, kite_row: Mapping[str, Any] | None = None) -> signal_pb2.SignalOrder:
    message = signal_pb2.SignalOrder(
        account_id=order.account_id,
        client_order_id=order.client_order_id,
        order_id=order.order_id,
        status=_ORDER_STATUS.get(order.status, signal_pb2.SIGNAL_ORDER_STATUS_UNSPECIFIED),
        detail=order.detail,
    )
    if kite_row is not None:
        message.kite_status = str(kite_row.get("status") or "")
        message.filled_quantity = int(kite_row.get("filled_quantity") or 0)
        if message.filled_quantity:
            message.average_price.CopyFrom(decimal_pb(kite_row.get("average_price")))
    return message


def state_pb(state: str) -> signal_pb2.SignalState.ValueType:
    return signal_pb2.SignalState.Value(f"SIGNAL_STATE_{state}")


def record_pb(record: SignalRecord, fills: Mapping[str, Mapping[str, Any]] | None = None) -> signal_pb2.SignalRecord:
    """`fills`: Kite's row of each order by order id (GetSignal's lineage)."""
    rows = fills or {}
    message = signal_pb2.SignalRecord(
        signal=signal_pb(record.signal),
        state=state_pb(record.state.value),
        reason=record.reason,
        principal=record.principal,
        orders=[order_pb(order, rows.get(order.order_id) if order.order_id else None) for order in record.orders],
    )
    message.created_at.FromDatetime(record.created_at)
    message.updated_at.FromDatetime(record.updated_at)
    if record.expires_at is not None:
        message.expires_at.FromDatetime(record.expires_at)
    return message


def event_pb(event: SignalEvent) -> signal_pb2.SignalEvent:
    message = signal_pb2.SignalEvent(
        sequence=event.sequence,
        strategy_id=event.strategy_id,
        signal_id=event.signal_id,
        state=state_pb(event.state),
        reason=event.reason,
    )
    message.time.FromDatetime(event.created_at)
    return message


def _sizing_pb(sizing: Sizing, account_id: str = "") -> signal_pb2.Sizing:
    message = signal_pb2.Sizing(
        account_id=account_id,
        mode=signal_pb2.SizingMode.Value(f"SIZING_MODE_{sizing.mode.name}"),
        quantity=sizing.quantity or 0,
        max_quantity=sizing.max_quantity or 0,
    )
    for name in ("multiplier", "fraction", "risk_amount", "stop_distance"):
        value = getattr(sizing, name)
        if value is not None:
            getattr(message, name).CopyFrom(decimal_pb(value))
    return message


def strategy_pb(
    strategy: Strategy, accounts: tuple[str, ...], usage: Usage, halt_reason: str | None
) -> signal_pb2.Strategy:
    budget = strategy.budget
    message = signal_pb2.Strategy(
        strategy_id=strategy.id,
        accounts=list(accounts),
        groups=list(strategy.groups),
        product=product_pb(strategy.product),
        sizing=[_sizing_pb(strategy.sizing)]
        + [_sizing_pb(sizing, account_id) for account_id, sizing in sorted(strategy.account_sizing.items())],
        budget=signal_pb2.StrategyBudget(
            max_orders_per_day=budget.max_orders_per_day or 0,
            capital_deployed=decimal_pb(usage.capital_deployed),
            orders_today=usage.orders_today,
            pnl_today=decimal_pb(usage.pnl_today),
        ),
        approval_required=strategy.approval.required,
        halted=halt_reason is not None,
        halt_reason=halt_reason or "",
    )
    if budget.max_capital is not None:
        message.budget.max_capital.CopyFrom(decimal_pb(budget.max_capital))
    if budget.max_loss_per_day is not None:
        message.budget.max_loss_per_day.CopyFrom(decimal_pb(budget.max_loss_per_day))
    message.approval_timeout.FromTimedelta(timedelta(seconds=strategy.approval.timeout_seconds))
    return message
