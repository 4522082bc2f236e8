"""`autoslice=true` is served as Kite's v2 response, as the official client's place_autoslice_order
reads it: a parent order id and one child per slice of at most the freeze quantity, each child an
order in the book tagged `autoslice` and `autoslice:<parent>`; what cannot be sliced is refused with
Kite's InputException and places nothing."""

from __future__ import annotations

from typing import Any

import pytest
from kiteconnect import KiteConnect
from kiteconnect.exceptions import InputException

from kite_simulator import OrderLimits
from kite_simulator.engine.slicing import slices
from kite_simulator.threaded import ThreadedSimulator
from kite_simulator.universe import SimInstrument
from tests.simulator.conftest import login, regular_hours


def nifty_future(threaded: ThreadedSimulator) -> SimInstrument:
    """A NIFTY contract cheap enough for the demo account to buy several freeze quantities of: the
    cheapest NIFTY option (it has the future's lot and freeze quantity)."""
    found: SimInstrument = threaded.call(
        lambda: min(
            (i for i in threaded.sim.universe if i.name == "NIFTY" and i.instrument_type == "CE"),
            key=lambda i: i.base_price,
        )
    )
    return found


def sliced(kite: KiteConnect, future: SimInstrument, quantity: int, **more: Any) -> dict[str, Any]:
    params = {"variety": "regular", "exchange": "NFO", "tradingsymbol": future.tradingsymbol,
              "transaction_type": "BUY", "quantity": quantity, "product": "NRML", "order_type": "MARKET",
              "market_protection": -1, **more}  # fmt: skip
    reply: dict[str, Any] = kite.place_autoslice_order(**params)
    return reply


def test_an_order_above_the_freeze_quantity_is_placed_as_slices_under_a_parent_id(
    kite: KiteConnect, threaded: ThreadedSimulator
) -> None:
    future = nifty_future(threaded)
    freeze, lot = future.freeze_quantity, future.lot_size
    reply = sliced(kite, future, 2 * freeze + 3 * lot, tag="sweep")
    parent, children = reply["order_id"], reply["children"]
    assert [set(child) for child in children] == [{"order_id"}] * 3
    book = {o["order_id"]: o for o in kite.orders()}
    assert parent not in book and [book[c["order_id"]]["quantity"] for c in children] == [freeze, freeze, 3 * lot]
    for child in children:
        order = book[child["order_id"]]
        assert order["tags"] == ["sweep", "autoslice", f"autoslice:{parent}"] and order["tag"] == "sweep"
        assert order["status"] == "COMPLETE" and order["tradingsymbol"] == future.tradingsymbol
    history = kite.order_history(children[0]["order_id"])
    assert all(f"autoslice:{parent}" in state["tags"] for state in history)


def test_a_slice_refused_after_others_were_placed_is_an_error_child_and_counts_as_an_order() -> None:
    with ThreadedSimulator(regular_hours(order_limits=OrderLimits(per_second=2))) as running:
        kite = login(running)
        future = nifty_future(running)
        reply = sliced(kite, future, 3 * future.freeze_quantity)
        placed, refused = reply["children"][:2], reply["children"][2]
        assert all(set(child) == {"order_id"} for child in placed)
        assert refused["error"]["code"] == 429 and "orders in a second" in refused["error"]["message"]
        assert set(refused["error"]) == {"code", "error_type", "message", "data"}
        assert len(kite.orders()) == 2


def test_a_quantity_too_small_to_slice_is_refused_as_kite_does(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    future = nifty_future(threaded)
    with pytest.raises(
        InputException, match=f"greater than or equal to {2 * future.freeze_quantity} for order slicing"
    ):
        sliced(kite, future, future.lot_size)
    assert kite.orders() == []


def test_more_than_ten_slices_are_refused_and_nothing_is_placed(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    future = nifty_future(threaded)
    with pytest.raises(InputException, match="at most 10 slices"):
        sliced(kite, future, 10 * future.freeze_quantity + future.lot_size)
    assert kite.orders() == []


def test_a_malformed_sliced_order_is_refused_whole(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    future = nifty_future(threaded)
    with pytest.raises(InputException, match="multiple of lot size"):
        sliced(kite, future, 2 * future.freeze_quantity + 1)
    with pytest.raises(InputException, match="without market protection"):
        sliced(kite, future, 2 * future.freeze_quantity, market_protection=0)
    assert kite.orders() == []


def test_a_cash_order_has_no_freeze_quantity_to_slice_at(kite: KiteConnect) -> None:
    with pytest.raises(InputException, match="INFY: it has no freeze quantity"):
        kite.place_autoslice_order(
            variety="regular", exchange="NSE", tradingsymbol="INFY", transaction_type="BUY", quantity=1,
            product="CNC", order_type="MARKET", market_protection=-1,
        )  # fmt: skip
    assert kite.orders() == []


def test_autoslice_false_places_one_order_as_usual(kite: KiteConnect) -> None:
    params = {"exchange": "NSE", "tradingsymbol": "INFY", "transaction_type": "BUY", "quantity": 1, "product": "CNC",
              "order_type": "MARKET", "market_protection": -1, "autoslice": "false"}  # fmt: skip
    placed = kite._post("order.place", url_args={"variety": "regular"}, params=params)  # the client's own request path
    assert [o["order_id"] for o in kite.orders()] == [placed["order_id"]]
    assert kite.orders()[0]["tags"] == []


@pytest.mark.parametrize(("quantity", "size", "parts"), [(3510, 1755, [1755, 1755]), (3575, 1755, [1755, 1755, 65])])
def test_a_quantity_is_cut_into_full_slices_and_the_rest(quantity: int, size: int, parts: list[int]) -> None:
    assert slices(quantity, size) == parts
