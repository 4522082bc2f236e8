"""The order-update feed over the real durable log (SQLite in tmp_path), kept in the clear and, as the
gateway keeps it, sealed with hashed de-duplication keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kite_gateway.core.order_updates import OrderUpdateFeed
from kite_gateway.storage.order_updates import OrderUpdateLog
from kite_gateway.storage.sealing import AtRest, Sealer
from kite_gateway.storage.sqlite import SqliteDatabase

ACCOUNT = "ZS0001"


def order(order_id: str, status: str = "OPEN", **fields: Any) -> dict[str, Any]:
    """An order as Kite's ticker reports it (with the envelope fields the feed drops)."""
    return {
        "order_id": order_id,
        "exchange": "NSE",
        "tradingsymbol": "INFY",
        "instrument_token": 408065,
        "transaction_type": "BUY",
        "product": "CNC",
        "variety": "regular",
        "order_type": "MARKET",
        "status": status,
        "quantity": 1,
        "filled_quantity": 1 if status == "COMPLETE" else 0,
        "order_timestamp": "2026-11-24 10:30:00",
        "user_id": ACCOUNT,
        "checksum": "ignored",
        **fields,
    }


@pytest.fixture(params=("clear", "sealed"))
async def feed(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[OrderUpdateFeed]:
    database = SqliteDatabase(tmp_path / "gateway.db")
    await database.open()
    at_rest = AtRest(Sealer(Sealer.generate_key()), b"hashing key " * 3) if request.param == "sealed" else None
    feed = OrderUpdateFeed(OrderUpdateLog(database, at_rest))
    try:
        yield feed
    finally:
        await feed.stop()
        await database.close()
