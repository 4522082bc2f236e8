"""The typed portfolio adapter: positions, holdings and margins as exact typed rows (absent fields
read as zero), every call rate class OTHER, and conversion sent as a change."""

from __future__ import annotations

from decimal import Decimal

from kite_gateway.kite.limits import EndpointClass
from kite_gateway.kite.portfolio import KitePortfolio, PositionConversion
from tests.kite.recording_caller import caller


async def test_positions_are_typed_rows_with_their_symbol_and_exact_amounts() -> None:
    net = {"exchange": "NSE", "tradingsymbol": "INFY", "instrument_token": 408065, "product": "MIS", "quantity": 10,
           "pnl": 12.3, "m2m": 1.1, "last_price": 1501.25, "multiplier": 1}  # fmt: skip
    kite, fake = caller({"positions": {"net": [net], "day": []}})
    positions = await KitePortfolio(kite).positions()
    (row,) = positions.net
    assert (row.symbol, row.product, row.quantity, row.pnl, row.last_price) == (
        "NSE:INFY",
        "MIS",
        10,
        Decimal("12.3"),
        Decimal("1501.25"),
    )
    assert (row.overnight_quantity, row.day_sell_value, positions.day) == (0, Decimal(0), [])
    assert fake.calls == [("read", EndpointClass.OTHER, "positions", (), {})]


async def test_holdings_flatten_the_mtf_part() -> None:
    holding = {"exchange": "NSE", "tradingsymbol": "TCS", "quantity": 2, "t1_quantity": 1, "isin": "INE467B01029",
               "average_price": 3000, "mtf": {"quantity": 4, "initial_margin": 1200.5}}  # fmt: skip
    kite, _ = caller({"holdings": [holding]})
    (row,) = await KitePortfolio(kite).holdings()
    assert (row.symbol, row.isin, row.quantity, row.t1_quantity) == ("NSE:TCS", "INE467B01029", 2, 1)
    assert (row.mtf_quantity, row.mtf_initial_margin, row.average_price) == (4, Decimal("1200.5"), Decimal(3000))


async def test_margins_of_both_segments_and_of_one() -> None:
    equity = {"enabled": True, "net": 99.5, "available": {"cash": 100}, "utilised": {"debits": 0.5}}
    kite, fake = caller({"margins": {"equity": equity}})
    portfolio = KitePortfolio(kite)
    both = await portfolio.margins()
    assert (both.equity.enabled, both.equity.net, both.equity.available.cash) == (True, Decimal("99.5"), Decimal(100))
    assert (both.equity.utilised.debits, both.commodity.enabled, both.commodity.net) == (
        Decimal("0.5"),
        False,
        Decimal(0),
    )
    fake.answers["margins"] = equity
    assert (await portfolio.segment_margins("equity")).net == Decimal("99.5")
    assert fake.calls[-1] == ("read", EndpointClass.OTHER, "margins", ("equity",), {})


async def test_a_conversion_is_an_other_class_change() -> None:
    kite, fake = caller({})
    await KitePortfolio(kite).convert_position(PositionConversion("NSE", "INFY", "BUY", "day", 3, "CNC", "MIS"))
    ((kind, endpoint, method, args, kwargs),) = fake.calls
    assert (kind, endpoint, method, args) == ("change", EndpointClass.OTHER, "convert_position", ())
    assert kwargs == {"exchange": "NSE", "tradingsymbol": "INFY", "transaction_type": "BUY", "position_type": "day",
                      "quantity": 3, "old_product": "CNC", "new_product": "MIS"}  # fmt: skip
