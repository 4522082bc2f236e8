"""Fills for report tests, written the way a person reads a tradebook."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from itertools import count

from kite_gateway.core.reports import Fill, Side
from kite_wire import IST

_ids = count(1)


def fill(
    when: str,
    side: str,
    quantity: int,
    price: str,
    symbol: str = "INFY",
    exchange: str = "NSE",
    product: str = "CNC",
    instrument_type: str = "EQ",
    account_id: str = "AB1234",
    order_id: str | None = None,
) -> Fill:
    """`when` is IST, "2025-06-10 10:15" or "2025-06-10"."""
    moment = datetime.fromisoformat(when if " " in when else when + " 10:00").replace(tzinfo=IST)
    n = next(_ids)
    return Fill(
        account_id=account_id,
        trade_id=f"T{n}",
        order_id=order_id or f"O{n}",
        exchange=exchange,
        tradingsymbol=symbol,
        instrument_token=hash((exchange, symbol)) & 0xFFFFFF,
        instrument_type=instrument_type,
        side=Side(side),
        product=product,
        quantity=quantity,
        price=Decimal(price),
        filled_at=moment,
    )
