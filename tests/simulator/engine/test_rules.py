"""The engine's pure pieces: form fields read as Kite reads them, Kite's order checks, and the
matching rules of one order against one quote."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from kite_simulator.engine import form, matching
from kite_simulator.engine.validation import check_iceberg, validate
from kite_simulator.errors import KiteError
from kite_simulator.market import LiveQuote
from kite_simulator.orders import SimOrder
from kite_simulator.universe import SimInstrument, build_universe
from kite_wire import MARKET_PROTECTION_REQUIRED, MCX_IOC_REFUSED
from kite_wire.market_hours import MarketHours
from kite_wire.ticker_packets import DepthEntry
from tests.simulator.conftest import MORNING

UNIVERSE = build_universe(11, MORNING.date())
INFY = UNIVERSE.by_symbol["NSE:INFY"]
HOURS = MarketHours()


def order(instrument: SimInstrument = INFY, **fields: Any) -> SimOrder:
    values: dict[str, Any] = {"order_id": "1", "user_id": "ZS0001", "app_id": 1, "api_key": "k",
                              "instrument": instrument, "variety": "regular", "transaction_type": "BUY",
                              "order_type": "LIMIT", "product": "CNC", "validity": "DAY", "quantity": 1,
                              "price": Decimal(100), "trigger_price": Decimal(0), "order_time": MORNING,
                              **fields}  # fmt: skip
    return SimOrder(**values)


def quote(last: str, offers: list[tuple[int, str]] = (), bids: list[tuple[int, str]] = ()) -> LiveQuote:  # type: ignore[assignment]
    price = Decimal(last)
    return LiveQuote(INFY, MORNING, price, 1, price, 0, 0, 0, price, price, price, price, MORNING, 0, 0, 0,
                     price * Decimal("0.8"), price * Decimal("1.2"),
                     tuple(DepthEntry(q, Decimal(p), 1) for q, p in bids),
                     tuple(DepthEntry(q, Decimal(p), 1) for q, p in offers))  # fmt: skip


def refusal(**fields: Any) -> str:
    with pytest.raises(KiteError) as caught:
        validate(order(**fields), HOURS, MORNING, require_market_protection=True)
    assert caught.value.http_status == 400 and caught.value.error_type == "InputException"
    return caught.value.message


# Form fields --------------------------------------------------------------------------------


def test_form_fields_are_trimmed_required_and_refused_by_name() -> None:
    fields: Mapping[str, str] = {"quantity": " 5 ", "side": "BUY", "price": "-1", "market_protection": "-1"}
    assert form.integer(fields, "quantity") == 5 and form.integer(fields, "missing", 0) == 0
    assert form.choice(fields, "side", ("BUY", "SELL")) == "BUY"
    assert form.choice(fields, "validity", ("DAY", "IOC"), default="DAY") == "DAY"
    assert form.decimal(fields, "market_protection") == -1  # the one field that may be negative
    with pytest.raises(KiteError, match="Missing or empty field `tag`"):
        form.text(fields, "tag")
    with pytest.raises(KiteError, match="Invalid `price`"):
        form.decimal(fields, "price")
    with pytest.raises(KiteError, match="Invalid `side`"):
        form.choice(fields, "side", ("SELL",))


def test_the_instrument_must_be_listed_and_tradable() -> None:
    assert form.instrument(UNIVERSE, {"exchange": "NSE", "tradingsymbol": "INFY"}) is INFY
    with pytest.raises(KiteError, match="is not listed"):
        form.instrument(UNIVERSE, {"exchange": "NSE", "tradingsymbol": "NOSUCH"})
    index = next(i for i in UNIVERSE if not i.tradable)
    with pytest.raises(KiteError, match="is an index and cannot be traded"):
        form.instrument(UNIVERSE, {"exchange": index.exchange, "tradingsymbol": index.tradingsymbol})


# Validation ---------------------------------------------------------------------------------


def test_an_sl_m_order_with_market_protection_0_is_refused_in_kites_words() -> None:
    stop: dict[str, Any] = {"order_type": "SL-M", "price": Decimal(0), "trigger_price": Decimal(100)}
    assert refusal(**stop, market_protection=Decimal(0)) == MARKET_PROTECTION_REQUIRED
    validate(order(**stop, market_protection=Decimal("2.5")), HOURS, MORNING, require_market_protection=True)


def test_an_ioc_order_on_mcx_is_refused_and_a_day_order_or_an_ioc_on_nse_is_not() -> None:
    crude = UNIVERSE.by_symbol["MCX:CRUDEOIL26DECFUT"]
    evening = MORNING.replace(hour=19)  # MCX is in session; NSE is not
    ioc = order(crude, product="NRML", validity="IOC", price=crude.tick_size * 100000)
    with pytest.raises(KiteError) as caught:
        validate(ioc, HOURS, evening, require_market_protection=True)
    assert caught.value.http_status == 400 and caught.value.message == MCX_IOC_REFUSED
    validate(order(crude, product="NRML", price=crude.tick_size * 100000), HOURS, evening, True)
    validate(order(validity="IOC"), HOURS, MORNING, require_market_protection=True)


def test_a_price_off_the_tick_grid_is_refused_in_kites_words() -> None:
    assert "Kindly enter price in the multiple of tick size" in refusal(price=Decimal("100.03"))


def test_a_market_order_needs_market_protection_and_loses_its_price() -> None:
    assert refusal(order_type="MARKET", price=Decimal(0)) == MARKET_PROTECTION_REQUIRED
    market = order(order_type="MARKET", market_protection=Decimal(-1))
    validate(market, HOURS, MORNING, require_market_protection=True)
    assert market.price == 0


def test_nrml_is_refused_for_equity_and_a_stop_loss_needs_its_trigger() -> None:
    assert refusal(product="NRML") == "NRML is not allowed for equity; use CNC or MIS."
    assert "needs a trigger price" in refusal(order_type="SL")


def test_an_amo_is_refused_while_the_market_is_open() -> None:
    assert "only when the market is closed" in refusal(variety="amo")


def test_a_ttl_order_needs_its_minutes_and_other_validities_lose_them() -> None:
    assert "needs its minutes to live" in refusal(validity="TTL")
    day = order(validity_ttl=5)
    validate(day, HOURS, MORNING, require_market_protection=True)
    assert day.validity_ttl == 0


def test_icebergs_need_two_to_ten_legs_covering_the_quantity() -> None:
    check_iceberg(3, 40, 120)
    for legs, leg_quantity in ((1, 120), (11, 20), (3, 39), (3, 0)):
        with pytest.raises(KiteError, match="iceberg_legs"):
            check_iceberg(legs, leg_quantity, 120)


# Matching -----------------------------------------------------------------------------------


def test_a_market_buy_fills_level_by_level_within_its_protection_band() -> None:
    buy = order(order_type="MARKET", price=Decimal(0), quantity=30, market_protection=Decimal(1))
    book = quote("100", offers=[(10, "100.5"), (10, "101"), (10, "101.5")])
    assert matching.limit_price(buy, book) == Decimal("101")
    assert matching.fills(buy, book) == [(10, Decimal("100.5")), (10, Decimal("101"))]


def test_automatic_protection_is_two_percent_and_a_limit_order_takes_its_price() -> None:
    sell = order(order_type="MARKET", transaction_type="SELL", price=Decimal(0), market_protection=Decimal(-1))
    assert matching.limit_price(sell, quote("100")) == Decimal(98)
    assert matching.limit_price(order(price=Decimal("99.5")), quote("100")) == Decimal("99.5")


def test_stops_trigger_at_or_through_their_price() -> None:
    buy_stop = order(order_type="SL-M", price=Decimal(0), trigger_price=Decimal(101))
    assert matching.triggered(buy_stop, quote("101")) and not matching.triggered(buy_stop, quote("100.95"))
    sell_stop = order(order_type="SL-M", transaction_type="SELL", price=Decimal(0), trigger_price=Decimal(99))
    assert matching.triggered(sell_stop, quote("99")) and not matching.triggered(sell_stop, quote("99.05"))


def test_a_ttl_order_expires_after_its_minutes_and_a_day_order_at_the_session_end() -> None:
    ttl = order(validity="TTL", validity_ttl=5)
    assert matching.expiry(ttl, HOURS, MORNING + timedelta(minutes=4)) is None
    assert "time to live expired" in (matching.expiry(ttl, HOURS, MORNING + timedelta(minutes=5)) or "")
    close = datetime(2026, 11, 25, 15, 30, tzinfo=MORNING.tzinfo)
    assert "end of the session" in (matching.expiry(order(), HOURS, close) or "")
