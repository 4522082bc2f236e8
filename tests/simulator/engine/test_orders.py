"""Orders walk Kite's status sequence, fill against the book, are rejected where Kite rejects
them, and keep trades, positions, holdings and margins consistent."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from kiteconnect import KiteConnect
from kiteconnect.exceptions import InputException, KiteException, OrderException, TokenException

from kite_simulator.threaded import ThreadedSimulator
from tests.simulator.conftest import login, place


def statuses(kite: KiteConnect, order_id: str) -> list[str]:
    return [state["status"] for state in kite.order_history(order_id)]


def order(kite: KiteConnect, order_id: str) -> dict[str, Any]:
    return next(o for o in kite.orders() if o["order_id"] == order_id)


def ltp(threaded: ThreadedSimulator, symbol: str = "NSE:INFY") -> Decimal:
    sim = threaded.sim
    return threaded.call(lambda: sim.engine.quote(sim.universe.by_symbol[symbol]).last_price)


def coming_price(threaded: ThreadedSimulator) -> tuple[int, Decimal]:
    """The first whole minute ahead at which INFY trades at least two ticks from now, and that price
    (the price path is a pure function of time, so the test can look ahead)."""
    sim = threaded.sim
    infy = sim.universe.by_symbol["NSE:INFY"]
    now = ltp(threaded)
    for minutes in range(5, 240):
        price = sim.market.quote(infy, sim.clock.now() + timedelta(minutes=minutes)).last_price
        if abs(price - now) >= 2 * infy.tick_size:
            return minutes, price
    raise AssertionError("INFY did not move two ticks in four hours")


def test_a_market_order_walks_kites_status_sequence_to_complete(kite: KiteConnect) -> None:
    order_id = place(kite)
    assert statuses(kite, order_id) == [
        "PUT ORDER REQ RECEIVED",
        "VALIDATION PENDING",
        "OPEN PENDING",
        "OPEN",
        "COMPLETE",
    ]
    done = order(kite, order_id)
    assert (done["filled_quantity"], done["pending_quantity"], done["exchange_order_id"] is not None) == (1, 0, True)
    (trade,) = kite.order_trades(order_id)
    assert trade["quantity"] == 1 and trade["average_price"] == done["average_price"]


def test_a_resting_limit_order_fills_only_once_the_market_reaches_it(
    kite: KiteConnect, threaded: ThreadedSimulator
) -> None:
    now, (minutes, future), tick = ltp(threaded), coming_price(threaded), Decimal("0.05")
    side, limit = ("BUY", future + tick) if future < now else ("SELL", future - tick)
    order_id = place(kite, transaction_type=side, order_type="LIMIT", price=float(limit), product="MIS")
    assert order(kite, order_id)["status"] == "OPEN"
    threaded.advance(minutes * 60)
    filled = order(kite, order_id)
    assert filled["status"] == "COMPLETE"
    average = Decimal(str(filled["average_price"]))
    assert average <= limit if side == "BUY" else average >= limit


def test_a_stop_loss_order_waits_in_trigger_pending_until_its_trigger_trades(
    kite: KiteConnect, threaded: ThreadedSimulator
) -> None:
    now, (minutes, future) = ltp(threaded), coming_price(threaded)
    side = "BUY" if future > now else "SELL"
    order_id = place(kite, transaction_type=side, order_type="SL-M", trigger_price=float(future), product="MIS")
    assert order(kite, order_id)["status"] == "TRIGGER PENDING"
    threaded.advance(minutes * 60)
    assert statuses(kite, order_id)[-3:] == ["TRIGGER PENDING", "OPEN", "COMPLETE"]


def test_an_order_larger_than_the_book_fills_partially_over_several_trades(
    kite: KiteConnect, threaded: ThreadedSimulator
) -> None:
    order_id = place(kite, quantity=400, product="MIS")
    first = order(kite, order_id)
    assert first["status"] == "OPEN" and 0 < first["filled_quantity"] < 400
    while order(kite, order_id)["status"] == "OPEN":
        threaded.advance(1)
    trades = kite.order_trades(order_id)
    assert len(trades) > 1 and sum(t["quantity"] for t in trades) == 400
    done = order(kite, order_id)
    weighted = sum(Decimal(str(t["average_price"])) * t["quantity"] for t in trades) / 400
    assert Decimal(str(done["average_price"])) == weighted.quantize(Decimal("0.0001")).normalize()


def test_an_ioc_order_cancels_what_the_book_cannot_fill_at_once(kite: KiteConnect) -> None:
    order_id = place(kite, quantity=400, product="MIS", validity="IOC")
    done = order(kite, order_id)
    assert done["status"] == "CANCELLED"
    assert done["filled_quantity"] + done["cancelled_quantity"] == 400 and done["filled_quantity"] > 0


def test_a_ttl_order_is_cancelled_when_its_minutes_run_out(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    order_id = place(
        kite, order_type="LIMIT", price=float(ltp(threaded) - 40), product="MIS", validity="TTL", validity_ttl=2
    )
    threaded.advance(60)
    assert order(kite, order_id)["status"] == "OPEN"
    threaded.advance(61)
    assert order(kite, order_id)["status"] == "CANCELLED"


def test_open_day_orders_are_cancelled_at_the_close(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    order_id = place(kite, order_type="LIMIT", price=float(ltp(threaded) - 40), product="MIS")
    threaded.advance(5 * 3600 + 60)  # past 15:30
    done = order(kite, order_id)
    assert done["status"] == "CANCELLED" and "end of the session" in done["status_message"]


def test_an_amo_waits_for_the_next_session_and_then_trades(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    with pytest.raises(InputException, match="only when the market is closed"):
        place(kite, variety="amo")
    threaded.advance(6 * 3600)  # 16:30, closed
    order_id = place(kite, variety="amo")
    assert order(kite, order_id)["status"] == "AMO REQ RECEIVED"
    threaded.advance(17 * 3600)  # next morning, 09:30: yesterday's token expired at 06:00
    with pytest.raises(TokenException):
        kite.orders()
    kite = login(threaded)
    assert statuses(kite, order_id)[-3:] == ["OPEN PENDING", "OPEN", "COMPLETE"]


def test_an_iceberg_order_is_worked_leg_by_leg(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    first = place(kite, variety="iceberg", quantity=30, iceberg_legs=3, iceberg_quantity=10, product="MIS")
    threaded.advance(30)
    legs = [o for o in kite.orders() if o["variety"] == "iceberg"]
    assert [o["meta"]["iceberg"]["leg"] for o in legs] == [1, 2, 3]
    assert [o["quantity"] for o in legs] == [10, 10, 10]
    assert all(o["status"] == "COMPLETE" for o in legs)
    assert legs[0]["order_id"] == first and {o["parent_order_id"] for o in legs[1:]} == {first}
    assert legs[-1]["meta"]["iceberg"]["remaining_quantity"] == 0


def test_a_cover_order_gets_its_stop_loss_leg_once_filled(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    entry = place(kite, variety="co", trigger_price=float(ltp(threaded) - 20), product="MIS")
    (stop,) = [o for o in kite.orders() if o["parent_order_id"] == entry]
    assert (stop["status"], stop["order_type"], stop["transaction_type"]) == ("TRIGGER PENDING", "SL-M", "SELL")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tradingsymbol": "NOPE"}, "is not listed"),
        ({"order_type": "LIMIT", "price": 1500.03}, "Tick size for this script is 0.05"),
        ({"transaction_type": "HOLD"}, "Invalid `transaction_type`"),
        ({"quantity": 0}, "Invalid `quantity`"),
        ({"market_protection": None}, "without market protection are not allowed"),
        ({"order_type": "SL", "price": 1500}, "needs a trigger price"),
        ({"product": "NRML"}, "NRML is not allowed for equity"),
        ({"tag": "x" * 21}, "Invalid `tag`"),
    ],
)
def test_malformed_orders_are_refused_with_kites_input_exception(
    kite: KiteConnect, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputException, match=message):
        place(kite, **fields)


def test_derivative_quantities_must_be_lots_and_within_the_freeze_limit(
    kite: KiteConnect, threaded: ThreadedSimulator
) -> None:
    future = threaded.call(
        lambda: next(
            i for i in threaded.sim.universe if i.tradingsymbol.startswith("NIFTY") and i.instrument_type == "FUT"
        )
    )
    contract = {"exchange": "NFO", "tradingsymbol": future.tradingsymbol, "product": "NRML"}
    with pytest.raises(InputException, match=f"multiple of lot size \\({future.lot_size}\\)"):
        place(kite, **contract, quantity=future.lot_size + 1)
    with pytest.raises(InputException, match="freeze limit"):
        place(kite, **contract, quantity=future.freeze_quantity + future.lot_size)


def test_orders_the_rms_refuses_are_accepted_then_rejected_with_a_reason(
    kite: KiteConnect, threaded: ThreadedSimulator
) -> None:
    upper = threaded.call(lambda: threaded.sim.engine.quote(threaded.sim.universe.by_symbol["NSE:INFY"]).upper_circuit)
    beyond = place(kite, order_type="LIMIT", price=float(upper + Decimal("0.05")))
    assert "upper circuit limit" in order(kite, beyond)["status_message"]
    expensive = place(kite, quantity=5000)
    rejected = order(kite, expensive)
    assert rejected["status"] == "REJECTED" and rejected["status_message"].startswith("Insufficient funds.")
    oversold = place(kite, transaction_type="SELL", quantity=11)
    assert "Insufficient holdings: 10 of INFY" in order(kite, oversold)["status_message"]
    assert statuses(kite, oversold) == ["PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "REJECTED"]


def test_a_closed_market_refuses_regular_orders(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    threaded.advance(6 * 3600)
    with pytest.raises(InputException, match="Markets are closed"):
        place(kite)


def test_an_order_can_be_modified_25_times_and_no_more(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    price = ltp(threaded) - 40
    order_id = place(kite, order_type="LIMIT", price=float(price), product="MIS")
    for step in range(25):
        threaded.advance_clock(1)  # modifications count in the 10 orders a second too
        kite.modify_order("regular", order_id, price=float(price - step * Decimal("0.05")))
    threaded.advance_clock(1)
    with pytest.raises(KiteException, match="Maximum allowed order modifications exceeded"):
        kite.modify_order("regular", order_id, price=float(price))
    assert order(kite, order_id)["modified"] is True


def test_a_finished_order_cannot_be_cancelled(kite: KiteConnect) -> None:
    order_id = place(kite)
    with pytest.raises(OrderException, match="already COMPLETE"):
        kite.cancel_order("regular", order_id)


def test_a_round_trip_books_realised_pnl_and_frees_the_margin(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    before = kite.margins("equity")["net"]
    buy = place(kite, quantity=10, product="MIS")
    assert kite.margins("equity")["net"] < before
    threaded.advance(600)
    sell = place(kite, quantity=10, product="MIS", transaction_type="SELL")
    bought, sold = order(kite, buy)["average_price"], order(kite, sell)["average_price"]
    (position,) = [p for p in kite.positions()["net"] if p["product"] == "MIS"]
    assert position["quantity"] == 0
    assert Decimal(str(position["realised"])) == (Decimal(str(sold)) - Decimal(str(bought))) * 10
    assert Decimal(str(position["pnl"])) == Decimal(str(position["realised"]))
    after = kite.margins("equity")
    assert Decimal(str(after["utilised"]["m2m_realised"])) == -Decimal(str(position["realised"]))
    assert Decimal(str(after["net"])) == Decimal(str(before)) + Decimal(str(position["realised"]))


def test_an_open_position_marks_to_market(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    place(kite, quantity=10, product="MIS")
    threaded.advance(900)
    (position,) = kite.positions()["net"]
    expected = (Decimal(str(position["last_price"])) - Decimal(str(position["average_price"]))) * 10
    assert Decimal(str(position["unrealised"])) == expected and position["quantity"] == 10


def test_selling_holdings_marks_them_used(kite: KiteConnect) -> None:
    place(kite, transaction_type="SELL", quantity=4)
    infy = next(h for h in kite.holdings() if h["tradingsymbol"] == "INFY")
    assert (infy["quantity"], infy["used_quantity"]) == (10, 4)
    assert kite.positions()["day"][0]["quantity"] == -4


def test_a_second_account_sees_none_of_the_first_accounts_orders(
    kite: KiteConnect, threaded: ThreadedSimulator
) -> None:
    place(kite)
    other = login(threaded, "ZS0002")
    assert other.orders() == [] and other.positions() == {"net": [], "day": []} and other.holdings() == []


def test_an_orders_algo_id_is_kept_but_not_shown_in_the_order_book(
    kite: KiteConnect, threaded: ThreadedSimulator
) -> None:
    order_id = place(kite, algo_id="ALGO-7")
    plain = place(kite)
    accounts = threaded.sim.engine.accounts
    kept = threaded.call(lambda: {i: accounts["ZS0001"].orders[i].algo_id for i in (order_id, plain)})
    assert kept == {order_id: "ALGO-7", plain: None}
    assert "algo_id" not in order(kite, order_id)  # Kite's order book has no such key
