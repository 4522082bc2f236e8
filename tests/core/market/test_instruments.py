"""The instrument master as a unit: lookup by symbol or token, what resolving an empty, malformed
or unknown name says, and search ranking and filters."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from kite_gateway.core.market.instruments import InstrumentMaster, InstrumentRef
from kite_gateway.errors import GatewayError, Reason, Status


def row(token: int, exchange: str, symbol: str, name: str = "", kind: str = "EQ", **more: Any) -> dict[str, Any]:
    return {"instrument_token": token, "exchange_token": token // 256, "tradingsymbol": symbol, "name": name,
            "exchange": exchange, "segment": more.pop("segment", exchange), "instrument_type": kind,
            "expiry": more.pop("expiry", ""), "strike": more.pop("strike", 0.0), "tick_size": 0.05, "lot_size": 1,
            "last_price": 0.0, **more}  # fmt: skip


@pytest.fixture
def master() -> InstrumentMaster:
    loaded = InstrumentMaster()
    loaded.load(
        [
            row(128053508, "BSE", "INFY", "INFOSYS"),
            row(408065, "NSE", "INFY", "INFOSYS"),
            row(1, "NSE", "INFYBEES", "INFY ETF"),
            row(2, "NFO", "INFY26JANFUT", "INFY", "FUT", segment="NFO-FUT", expiry=date(2026, 1, 29)),
            row(3, "NFO", "INFY25DECFUT", "INFY", "FUT", segment="NFO-FUT", expiry=date(2025, 12, 30)),
            row(
                4,
                "NFO",
                "NIFTY25DEC24000CE",
                "NIFTY",
                "CE",
                segment="NFO-OPT",
                expiry=date(2025, 12, 30),
                strike=24000.0,
            ),
            row(
                5,
                "NFO",
                "NIFTY25DEC24500CE",
                "NIFTY",
                "CE",
                segment="NFO-OPT",
                expiry=date(2025, 12, 30),
                strike=24500.0,
            ),
            row(256265, "NSE", "NIFTY 50", "NIFTY 50", segment="INDICES"),
        ]
    )
    return loaded


def test_an_instrument_is_found_by_symbol_or_by_token(master: InstrumentMaster) -> None:
    by_symbol = master.find(InstrumentRef(symbol="NSE:INFY"))
    assert by_symbol is master.find(InstrumentRef(instrument_token=408065)) and by_symbol is not None
    assert (by_symbol.tick_size, by_symbol.strike) == (Decimal("0.05"), Decimal(0))
    assert master.find(InstrumentRef()) is None and master.find(InstrumentRef(symbol="NSE:NOSUCH")) is None
    assert not master.by_symbol["NSE:NIFTY 50"].tradable


def test_resolving_nothing_or_a_symbol_without_exchange_is_invalid(master: InstrumentMaster) -> None:
    with pytest.raises(GatewayError) as empty:
        master.resolve(InstrumentRef(), "params.instrument")
    with pytest.raises(GatewayError) as bare:
        master.resolve(InstrumentRef(symbol="INFY"), "params.instrument")
    assert [e.value.code for e in (empty, bare)] == [Status.INVALID_ARGUMENT] * 2
    assert bare.value.field_violations[0][0] == "params.instrument.symbol"


def test_resolving_an_unknown_instrument_is_not_found_and_names_it(master: InstrumentMaster) -> None:
    with pytest.raises(GatewayError) as caught:
        master.resolve(InstrumentRef(instrument_token=99), "instrument")
    assert (caught.value.code, caught.value.reason) == (Status.NOT_FOUND, Reason.INSTRUMENT_NOT_FOUND)
    assert caught.value.metadata == {"instrument": "token 99"}


def search(master: InstrumentMaster, query: str, limit: int = 50, **filters: Any) -> tuple[list[str], int]:
    found, total = master.search(
        query,
        filters.get("exchanges", set()),
        filters.get("types", set()),
        filters.get("segments", set()),
        filters.get("expiry", (None, None)),
        filters.get("strike", (None, None)),
        limit,
    )
    return [listing.symbol for listing in found], total


def test_search_ranks_the_exact_symbol_first_nse_before_bse_then_prefixes_cash_before_nearer_expiries(
    master: InstrumentMaster,
) -> None:
    symbols, total = search(master, "infy")
    assert symbols == ["NSE:INFY", "BSE:INFY", "NSE:INFYBEES", "NFO:INFY25DECFUT", "NFO:INFY26JANFUT"]
    assert total == 5


def test_search_words_match_anywhere_in_the_symbol_or_the_name(master: InstrumentMaster) -> None:
    assert search(master, "etf")[0] == ["NSE:INFYBEES"]
    assert search(master, "nifty 24500")[0] == ["NFO:NIFTY25DEC24500CE"]


def test_search_filters_by_exchange_type_expiry_and_strike_and_counts_all_matches_beyond_the_page(
    master: InstrumentMaster,
) -> None:
    assert search(master, "", exchanges={"NFO"}, types={"FUT"}, expiry=(date(2026, 1, 1), None))[0] == [
        "NFO:INFY26JANFUT"
    ]
    assert search(master, "NIFTY", strike=(Decimal(24000), Decimal(24000)))[0] == ["NFO:NIFTY25DEC24000CE"]
    assert search(master, "", limit=2, segments={"NFO-OPT"}) == (["NFO:NIFTY25DEC24000CE", "NFO:NIFTY25DEC24500CE"], 2)
    assert search(master, "", limit=1)[1] == 8
