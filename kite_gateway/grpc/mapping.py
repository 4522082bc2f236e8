"""Kite's JSON (as the official client returns it) to and from kite_gateway.v1 messages:
exact decimals, enums, IST timestamps."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from google.type.date_pb2 import Date
from google.type.decimal_pb2 import Decimal as Decimal_pb
from kite_gateway_api.v1 import common_pb2, order_pb2

from kite_gateway.core.market import InstrumentRef
from kite_gateway.errors import invalid
from kite_gateway.grpc.decimal_text import format_decimal, parse
from kite_gateway.kite import rows
from kite_wire import IST, kite_decimal
from kite_wire import kite_number as kite_number  # a decimal as Kite's JSON writes it

# Decimals ---------------------------------------------------------------------------------------


exact = kite_decimal  # a number from Kite's JSON as the exact decimal it was written as


def decimal_pb(value: Any) -> Decimal_pb:
    """A number from Kite (float, int, text) or the core (Decimal) as google.type.Decimal."""
    return Decimal_pb(value=format_decimal(exact(value)))


def from_decimal_pb(message: Decimal_pb, field: str) -> Decimal:
    """A request's google.type.Decimal (request_limits has checked the grammar on the way in)."""
    return parse(message.value, field)


# Times ------------------------------------------------------------------------------------------


def timestamp_pb(value: Any) -> Timestamp | None:
    """Kite's IST wall-clock time (naive datetime or `yyyy-mm-dd[ hh:mm:ss]` text) as a Timestamp."""
    moment = rows.wall_clock(value)
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def ist_wall_clock(stamp: Timestamp, field: str) -> datetime:
    """A request's Timestamp as Kite's naive IST wall-clock time (INVALID_ARGUMENT at the ends of
    the calendar, where adding IST's offset leaves the years datetime can hold)."""
    try:
        return stamp.ToDatetime(UTC).astimezone(IST).replace(tzinfo=None)
    except (OverflowError, ValueError):
        raise invalid(field, "out of range: a time between the years 0001 and 9999 in IST") from None


def date_pb(day: date) -> Date:
    return Date(year=day.year, month=day.month, day=day.day)


def calendar_date(message: Date) -> date | None:
    """A request's google.type.Date; None when all zero ("not given"). request_limits has checked
    that anything else is a calendar date."""
    if (message.year, message.month, message.day) == (0, 0, 0):
        return None
    return date(message.year, message.month, message.day)


def set_time(message: Any, field: str, value: Any) -> None:
    stamp = timestamp_pb(value)
    if stamp is not None:
        getattr(message, field).CopyFrom(stamp)


# Enums ------------------------------------------------------------------------------------------


def _enum(enum: Any, prefix: str, text: str | None) -> Any:
    if not text:
        return 0
    name = f"{prefix}_{text.upper().replace('-', '_').replace(' ', '_')}"
    return int(enum.Value(name)) if name in enum.keys() else 0  # noqa: SIM118 (an enum wrapper, not a dict)


def _text(enum: Any, prefix: str, value: int, field: str, lower: bool = False) -> str:
    if value == 0 or value not in enum.values():
        raise invalid(field, f"required: one of {', '.join(n.removeprefix(prefix + '_') for n in enum.keys()[1:])}")
    text = str(enum.Name(value)).removeprefix(prefix + "_")
    return text.lower() if lower else text


def exchange_pb(text: str | None) -> Any:
    return _enum(common_pb2.Exchange, "EXCHANGE", text)


def exchange_text(value: int, field: str = "exchange") -> str:
    return _text(common_pb2.Exchange, "EXCHANGE", value, field)


def transaction_pb(text: str | None) -> Any:
    return _enum(common_pb2.TransactionType, "TRANSACTION_TYPE", text)


def transaction_text(value: int, field: str) -> str:
    return _text(common_pb2.TransactionType, "TRANSACTION_TYPE", value, field)


def product_pb(text: str | None) -> Any:
    return _enum(common_pb2.Product, "PRODUCT", text)


def product_text(value: int, field: str) -> str:
    return _text(common_pb2.Product, "PRODUCT", value, field)


def order_type_pb(text: str | None) -> Any:
    return _enum(common_pb2.OrderType, "ORDER_TYPE", text)


def order_type_text(value: int, field: str) -> str:
    return _text(common_pb2.OrderType, "ORDER_TYPE", value, field).replace("SL_M", "SL-M")


def variety_pb(text: str | None) -> Any:
    return _enum(common_pb2.Variety, "VARIETY", text)


def variety_text(value: int, field: str) -> str:
    return _text(common_pb2.Variety, "VARIETY", value, field, lower=True)


def validity_pb(text: str | None) -> Any:
    return _enum(common_pb2.Validity, "VALIDITY", text)


def validity_text(value: int) -> str:
    return (
        "DAY" if value == common_pb2.VALIDITY_UNSPECIFIED else _text(common_pb2.Validity, "VALIDITY", value, "validity")
    )


def instrument_type_pb(text: str | None) -> Any:
    return _enum(common_pb2.InstrumentType, "INSTRUMENT_TYPE", text)


def order_status_pb(text: str | None) -> Any:
    return _enum(order_pb2.OrderStatus, "ORDER_STATUS", text)


# Instruments ------------------------------------------------------------------------------------


def instrument_ref(ref: common_pb2.InstrumentRef) -> InstrumentRef:
    """A request's InstrumentRef as the core's (neither set: not named)."""
    kind = ref.WhichOneof("ref")
    if kind == "symbol":
        return InstrumentRef(symbol=ref.symbol)
    if kind == "instrument_token":
        return InstrumentRef(instrument_token=ref.instrument_token)
    return InstrumentRef()


# Kite rows to messages --------------------------------------------------------------------------


symbol = rows.symbol  # EXCHANGE:TRADINGSYMBOL of a Kite row


def order_pb(account_id: str, row: Mapping[str, Any], client_order_id: str = "") -> order_pb2.Order:
    meta = row.get("meta") or {}
    iceberg = meta.get("iceberg") if isinstance(meta, dict) else None
    message = order_pb2.Order(
        account_id=account_id,
        order_id=str(row.get("order_id") or ""),
        exchange_order_id=str(row.get("exchange_order_id") or ""),
        parent_order_id=str(row.get("parent_order_id") or ""),
        client_order_id=client_order_id,
        status=order_status_pb(row.get("status")),
        status_raw=row.get("status") or "",
        status_message=row.get("status_message") or "",
        symbol=symbol(row),
        exchange=exchange_pb(row.get("exchange")),
        tradingsymbol=row.get("tradingsymbol") or "",
        instrument_token=int(row.get("instrument_token") or 0),
        transaction_type=transaction_pb(row.get("transaction_type")),
        variety=variety_pb(row.get("variety")),
        order_type=order_type_pb(row.get("order_type")),
        product=product_pb(row.get("product")),
        validity=validity_pb(row.get("validity")),
        validity_ttl_minutes=int(row.get("validity_ttl") or 0),
        quantity=int(row.get("quantity") or 0),
        disclosed_quantity=int(row.get("disclosed_quantity") or 0),
        filled_quantity=int(row.get("filled_quantity") or 0),
        pending_quantity=int(row.get("pending_quantity") or 0),
        cancelled_quantity=int(row.get("cancelled_quantity") or 0),
        price=decimal_pb(row.get("price")),
        trigger_price=decimal_pb(row.get("trigger_price")),
        average_price=decimal_pb(row.get("average_price")),
        market_protection=decimal_pb(row.get("market_protection")),
        modified=bool(row.get("modified")),
        tags=[t for t in (row.get("tags") or ([row["tag"]] if row.get("tag") else [])) if t],
        auction_number=str(row.get("auction_number") or ""),
        placed_by=row.get("placed_by") or "",
    )
    set_time(message, "order_time", row.get("order_timestamp"))
    set_time(message, "exchange_time", row.get("exchange_timestamp"))
    set_time(message, "exchange_update_time", row.get("exchange_update_timestamp"))
    if iceberg:
        message.iceberg.CopyFrom(
            order_pb2.IcebergProgress(
                leg=int(iceberg.get("leg", 0)),
                legs=int(iceberg.get("legs", 0)),
                leg_quantity=int(iceberg.get("leg_quantity", 0)),
                total_quantity=int(iceberg.get("total_quantity", 0)),
                remaining_quantity=int(iceberg.get("remaining_quantity", 0)),
            )
        )
    return message


def trade_pb(account_id: str, row: Mapping[str, Any]) -> order_pb2.Trade:
    message = order_pb2.Trade(
        account_id=account_id,
        trade_id=str(row.get("trade_id") or ""),
        order_id=str(row.get("order_id") or ""),
        exchange_order_id=str(row.get("exchange_order_id") or ""),
        symbol=symbol(row),
        instrument_token=int(row.get("instrument_token") or 0),
        transaction_type=transaction_pb(row.get("transaction_type")),
        product=product_pb(row.get("product")),
        quantity=int(row.get("quantity") or 0),
        average_price=decimal_pb(row.get("average_price")),
    )
    set_time(message, "fill_time", row.get("fill_timestamp"))
    set_time(message, "exchange_time", row.get("exchange_timestamp"))
    return message


def parse_decimal_text(text: str, field: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise invalid(field, f"not a number: {text!r}") from None
