"""`autoslice=true` is never silently ignored: the simulator refuses it with Kite's InputException, as
the official client's place_autoslice_order sees it, and places nothing."""

from __future__ import annotations

import pytest
from kiteconnect import KiteConnect
from kiteconnect.exceptions import InputException

from kite_simulator.threaded import ThreadedSimulator


def test_an_autoslice_order_above_the_freeze_quantity_is_refused_not_placed_unsliced(
    kite: KiteConnect, threaded: ThreadedSimulator
) -> None:
    future = threaded.call(
        lambda: next(i for i in threaded.sim.universe if i.name == "NIFTY" and i.instrument_type == "FUT")
    )
    before = len(kite.orders())
    with pytest.raises(InputException, match=f"freeze quantity of {future.freeze_quantity}") as refused:
        kite.place_autoslice_order(
            variety="regular", exchange="NFO", tradingsymbol=future.tradingsymbol, transaction_type="BUY",
            quantity=future.freeze_quantity * 2, product="NRML", order_type="MARKET", market_protection=-1,
        )  # fmt: skip
    assert refused.value.code == 400 and "autoslice" in str(refused.value)
    assert len(kite.orders()) == before


def test_an_autoslice_flag_on_a_cash_order_is_refused_too(kite: KiteConnect) -> None:
    with pytest.raises(InputException, match="INFY has no freeze quantity"):
        kite.place_autoslice_order(
            variety="regular", exchange="NSE", tradingsymbol="INFY", transaction_type="BUY", quantity=1,
            product="CNC", order_type="MARKET", market_protection=-1,
        )  # fmt: skip
    assert kite.orders() == []


def test_autoslice_false_places_the_order_as_usual(kite: KiteConnect) -> None:
    params = {"exchange": "NSE", "tradingsymbol": "INFY", "transaction_type": "BUY", "quantity": 1, "product": "CNC",
              "order_type": "MARKET", "market_protection": -1, "autoslice": "false"}  # fmt: skip
    placed = kite._post("order.place", url_args={"variety": "regular"}, params=params)  # the client's own request path
    assert [o["order_id"] for o in kite.orders()] == [placed["order_id"]]
