"""Every kiteconnect call the gateway uses works against the simulator and returns data that is
well-formed (as the client parses it) and consistent across endpoints."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from kiteconnect import KiteConnect
from kiteconnect.exceptions import InputException

from kite_simulator.threaded import ThreadedSimulator
from tests.simulator.conftest import MORNING


def test_quotes_ltp_and_ohlc_agree_at_the_same_moment(kite: KiteConnect) -> None:
    symbols = ["NSE:INFY", "BSE:INFY", "NSE:NIFTY 50", "NSE:NOSUCH"]
    quote, ltp, ohlc = kite.quote(symbols), kite.ltp(symbols), kite.ohlc(symbols)
    assert set(quote) == set(ltp) == set(ohlc) == {"NSE:INFY", "BSE:INFY", "NSE:NIFTY 50"}
    for symbol in quote:
        assert quote[symbol]["last_price"] == ltp[symbol]["last_price"] == ohlc[symbol]["last_price"]
        assert quote[symbol]["ohlc"] == ohlc[symbol]["ohlc"]
    infy = quote["NSE:INFY"]
    assert isinstance(infy["timestamp"], datetime) and isinstance(infy["last_trade_time"], datetime)
    assert infy["depth"]["sell"][0]["price"] == infy["last_price"] > infy["depth"]["buy"][0]["price"]
    assert infy["lower_circuit_limit"] < infy["last_price"] < infy["upper_circuit_limit"]
    assert infy["net_change"] == pytest.approx(infy["last_price"] - infy["ohlc"]["close"])
    assert (
        kite.quote([str(infy["instrument_token"])])[str(infy["instrument_token"])]["last_price"] == infy["last_price"]
    )


def test_the_instrument_dump_parses_into_typed_rows(kite: KiteConnect) -> None:
    everything, nfo = kite.instruments(), kite.instruments("NFO")
    assert len(everything) > 3000 and {row["exchange"] for row in nfo} == {"NFO"}
    option = next(row for row in nfo if row["instrument_type"] == "CE")
    assert isinstance(option["expiry"], date) and option["strike"] > 0 and option["lot_size"] > 1
    assert option["tradingsymbol"].startswith(option["name"])
    infy = next(row for row in everything if row["tradingsymbol"] == "INFY" and row["exchange"] == "NSE")
    assert (infy["instrument_token"], infy["tick_size"], infy["lot_size"], infy["expiry"]) == (408065, 0.05, 1, "")
    with pytest.raises(InputException):
        kite.instruments("NOPE")


def test_historical_candles_are_tz_aware_stitched_and_limited_per_interval(kite: KiteConnect) -> None:
    start = MORNING - timedelta(days=7)
    minutes = kite.historical_data(408065, start, MORNING, "minute")
    day = kite.historical_data(408065, start, MORNING, "day")
    hours = kite.historical_data(408065, start, MORNING, "60minute", oi=True)
    assert minutes[0]["date"].utcoffset() == timedelta(hours=5, minutes=30)
    assert minutes[-1]["date"] + timedelta(minutes=1) <= MORNING  # only completed candles
    assert all(a["date"] < b["date"] for a, b in itertools.pairwise(minutes))
    last_full_day = [c for c in minutes if c["date"].date() == day[-2]["date"].date()]
    assert len(last_full_day) == 375
    assert day[-2]["volume"] == sum(c["volume"] for c in last_full_day)
    assert day[-2]["high"] == max(c["high"] for c in last_full_day)
    assert "oi" in hours[0] and hours[1]["date"] - hours[0]["date"] == timedelta(hours=1)
    for interval, days in (("minute", 60), ("15minute", 200), ("day", 2000)):
        with pytest.raises(InputException, match=f"max limit: {days} days"):
            kite.historical_data(408065, MORNING - timedelta(days=days + 1), MORNING, interval)


def test_margins_and_charges_previews_match_what_an_order_blocks(kite: KiteConnect) -> None:
    order = {"exchange": "NSE", "tradingsymbol": "INFY", "transaction_type": "BUY", "variety": "regular",
             "product": "MIS", "order_type": "LIMIT", "quantity": 10, "price": 1500, "trigger_price": 0}  # fmt: skip
    (preview,) = kite.order_margins([order])
    assert preview["total"] == pytest.approx(1500 * 10 * 0.2)
    before = kite.margins("equity")["net"]
    kite.place_order(variety="regular", **{k: v for k, v in order.items() if k not in ("variety", "trigger_price")})
    assert kite.margins("equity")["net"] == pytest.approx(before - preview["total"])
    basket = kite.basket_order_margins([order, {**order, "transaction_type": "SELL"}], consider_positions=True)
    assert len(basket["orders"]) == 2 and basket["final"]["total"] <= basket["initial"]["total"]
    (note,) = kite.get_virtual_contract_note([{**order, "order_id": "1", "average_price": 1500}])
    charges = note["charges"]
    parts = ("transaction_tax", "exchange_turnover_charge", "sebi_turnover_charge", "brokerage", "stamp_duty")
    assert charges["total"] == pytest.approx(sum(charges[p] for p in parts) + charges["gst"]["total"])


def test_a_gtt_places_its_order_when_the_price_crosses(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    sim = threaded.sim
    infy = sim.universe.by_symbol["NSE:INFY"]
    now = threaded.call(lambda: sim.engine.quote(infy).last_price)
    # Look ahead in the (pure) price path for the first minute 0.4% away; trigger 0.3% that way.
    minutes, future = next(
        (m, p)
        for m in range(1, 300)
        if abs((p := sim.market.quote(infy, sim.clock.now() + timedelta(minutes=m)).last_price) - now) / now > 0.004
    )
    trigger = now * (Decimal("1.003") if future > now else Decimal("0.997"))
    trigger = trigger - trigger % infy.tick_size
    leg = {"transaction_type": "SELL", "quantity": 1, "order_type": "LIMIT", "product": "CNC", "price": float(trigger)}
    placed = kite.place_gtt(kite.GTT_TYPE_SINGLE, "INFY", "NSE", [float(trigger)], float(now), [leg])
    gtt_id = placed["trigger_id"]
    assert kite.get_gtt(gtt_id)["status"] == "active"
    threaded.advance(minutes * 60)
    fired = kite.get_gtt(gtt_id)
    result = fired["orders"][0]["result"]
    assert fired["status"] == "triggered" and result["order_result"]["status"] == "success"
    assert (
        Decimal(str(result["triggered_at"])) >= trigger
        if future > now
        else Decimal(str(result["triggered_at"])) <= trigger
    )
    assert any(o["order_id"] == result["order_result"]["order_id"] for o in kite.orders())
    with pytest.raises(InputException, match="triggered and cannot be deleted"):
        kite.delete_gtt(gtt_id)


def test_a_gtt_needs_as_many_orders_as_trigger_values(kite: KiteConnect) -> None:
    leg = {"transaction_type": "SELL", "quantity": 1, "order_type": "LIMIT", "product": "CNC", "price": 1700}
    with pytest.raises(InputException, match="two-leg GTT two of each"):
        kite.place_gtt(kite.GTT_TYPE_OCO, "INFY", "NSE", [1400, 1700], 1550, [leg])


def test_the_profile_and_session_describe_the_same_user(threaded: ThreadedSimulator, kite: KiteConnect) -> None:
    profile = kite.profile()
    assert profile["user_id"] == "ZS0001" and profile["broker"] == "ZERODHA"
    assert {"NSE", "NFO", "MCX", "CDS"} <= set(profile["exchanges"])
    assert "avatar_url" in profile and profile["avatar_url"] is None  # as Kite sends it (profile.json)
    margins = kite.margins()
    assert set(margins) == {"equity", "commodity"} and margins["equity"]["available"]["cash"] == 1_000_000
