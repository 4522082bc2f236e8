"""Building request messages from plain values: instruments from symbols or tokens, prices from
decimal.Decimal (through decimals.py), times from datetime, days from date, order parameters from
keywords."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.type import date_pb2
from kite_gateway_api.v1 import common_pb2, order_pb2

from kite_gateway_client.decimals import from_decimal

Price = Decimal | int | str  # never a float: prices are exact
Instrument = str | int | common_pb2.InstrumentRef  # "NSE:INFY", a token such as 408065, or the message


def instrument(ref: Instrument) -> common_pb2.InstrumentRef:
    """An InstrumentRef from an `EXCHANGE:TRADINGSYMBOL`, an instrument token or an InstrumentRef."""
    if isinstance(ref, common_pb2.InstrumentRef):
        return ref
    if isinstance(ref, int):
        return common_pb2.InstrumentRef(instrument_token=ref)
    return common_pb2.InstrumentRef(symbol=ref)


def instruments(refs: Iterable[Instrument]) -> list[common_pb2.InstrumentRef]:
    if isinstance(refs, str | int | common_pb2.InstrumentRef):
        raise TypeError(f"expected a sequence of instruments, got the single value {refs!r}")
    return [instrument(r) for r in refs]


def set_price(message: Message, field: str, value: Price | None) -> None:
    """Sets a Decimal field of `message` to `value` (left unset when None)."""
    if value is not None:
        if isinstance(value, float):
            raise TypeError(f"{field}: pass a decimal.Decimal or a string, not the float {value!r}")
        getattr(message, field).CopyFrom(from_decimal(value))


def timestamp(value: datetime) -> Timestamp:
    """A Timestamp from an aware datetime (a naive one is refused: it names no instant)."""
    if value.tzinfo is None:
        raise ValueError(f"{value} has no time zone; pass an aware datetime (e.g. with ZoneInfo('Asia/Kolkata'))")
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def date_message(value: date) -> date_pb2.Date:
    """A google.type.Date (a calendar day, e.g. an expiry) from a datetime.date."""
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


def to_date(value: date_pb2.Date) -> date | None:
    """The calendar day of a google.type.Date (an expiry, a candle's trading date); None when unset."""
    return date(value.year, value.month, value.day) if value.year else None


def order_params(
    symbol: Instrument,
    transaction_type: common_pb2.TransactionType.ValueType,
    quantity: int,
    *,
    order_type: common_pb2.OrderType.ValueType = common_pb2.ORDER_TYPE_MARKET,
    product: common_pb2.Product.ValueType = common_pb2.PRODUCT_CNC,
    variety: common_pb2.Variety.ValueType = common_pb2.VARIETY_REGULAR,
    validity: common_pb2.Validity.ValueType = common_pb2.VALIDITY_UNSPECIFIED,
    price: Price | None = None,
    trigger_price: Price | None = None,
    disclosed_quantity: int = 0,
) -> order_pb2.OrderParams:
    """OrderParams for the common case, e.g. `order_params("NSE:INFY", TRANSACTION_TYPE_BUY, 1,
    order_type=ORDER_TYPE_LIMIT, price=Decimal("1500.05"))`; set other fields on the result."""
    params = order_pb2.OrderParams(
        instrument=instrument(symbol),
        transaction_type=transaction_type,
        variety=variety,
        order_type=order_type,
        product=product,
        validity=validity,
        quantity=quantity,
        disclosed_quantity=disclosed_quantity,
    )
    set_price(params, "price", price)
    set_price(params, "trigger_price", trigger_price)
    return params


def order_target(order_id: str | None, client_order_id: str | None) -> order_pb2.OrderTarget:
    """The order named by Kite's order id or by the client_order_id it was placed with (one of them)."""
    if order_id is not None and client_order_id is None:
        return order_pb2.OrderTarget(order_id=order_id)
    if client_order_id is not None and order_id is None:
        return order_pb2.OrderTarget(client_order_id=client_order_id)
    raise TypeError("name the order by exactly one of order_id and client_order_id")
