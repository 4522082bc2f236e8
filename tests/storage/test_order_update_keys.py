"""De-duplication of order updates never drops a different order's update: the key holds what
makes an order that order (instrument, side, product, variety, time, tag), not only its id and
quantities; one change reported by several sources is still stored once."""

from __future__ import annotations

import json
from typing import Any

from kite_gateway.storage.database import Database
from kite_gateway.storage.order_updates import OrderUpdateLog, dedupe_key

ORDER: dict[str, Any] = {
    "order_id": "261124000000001",
    "exchange": "NSE",
    "tradingsymbol": "INFY",
    "instrument_token": 408065,
    "transaction_type": "BUY",
    "product": "CNC",
    "variety": "regular",
    "order_type": "MARKET",
    "validity": "DAY",
    "status": "COMPLETE",
    "quantity": 1,
    "filled_quantity": 1,
    "pending_quantity": 0,
    "cancelled_quantity": 0,
    "price": 0,
    "trigger_price": 0,
    "average_price": 1500.5,
    "order_timestamp": "2026-11-24 10:30:00",
    "exchange_update_timestamp": "2026-11-24 10:30:00",
    "tag": "kg1",
}


async def test_an_order_id_handed_out_again_for_another_order_is_stored_not_dropped_as_a_duplicate(
    database: Database,
) -> None:
    log = OrderUpdateLog(database)
    assert await log.append("ZS0001", ORDER, 1) is not None
    again = {**ORDER, "tradingsymbol": "TCS", "instrument_token": 2953217, "order_timestamp": "2026-11-25 09:16:00"}
    assert await log.append("ZS0001", again, 1) is not None
    assert await log.append("ZS0001", {**ORDER, "average_price": 1500.50}, 2) is None  # the same change again
    assert [u.order["tradingsymbol"] for u in await log.after("ZS0001", 0)] == ["INFY", "TCS"]


def test_every_field_that_tells_two_orders_apart_is_in_the_key() -> None:
    for name, other in [("exchange", "BSE"), ("tradingsymbol", "TCS"), ("instrument_token", 1), ("product", "MIS"),
                        ("transaction_type", "SELL"), ("variety", "amo"), ("order_timestamp", "2026-11-25 09:15:00"),
                        ("tag", "kg2"), ("order_type", "LIMIT")]:  # fmt: skip
        assert dedupe_key({**ORDER, name: other}) != dedupe_key(ORDER), name


def test_one_change_spelled_differently_by_two_sources_has_one_key() -> None:
    assert dedupe_key({**ORDER, "average_price": 1500.50, "price": 0.0}) == dedupe_key(ORDER)
    assert dedupe_key({**ORDER, "quantity": 1.0, "trigger_price": None}) == dedupe_key(ORDER)


async def test_updates_stored_under_the_old_key_are_rekeyed_so_their_repeats_are_still_recognised(
    database: Database,
) -> None:
    await database.execute(
        "INSERT INTO order_updates (account_id, sequence, order_id, dedupe_key, source, received_at, payload) "
        "VALUES ('ZS0001', 1, ?, 'old|key', 1, '2026-11-24T05:00:00+00:00', ?)",
        (ORDER["order_id"], json.dumps(ORDER)),
    )
    log = OrderUpdateLog(database)
    assert await log.rekey() == 1 and await log.rekey() == 0
    assert await log.append("ZS0001", ORDER, 2) is None
    assert await log.latest_by_order("ZS0001") == {ORDER["order_id"]: dedupe_key(ORDER)}
