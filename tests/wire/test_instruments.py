"""The instrument row and the dump's CSV: what the simulator writes, the official client and the gateway
read to the same rows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from kiteconnect import KiteConnect

from kite_simulator.universe import build_universe
from kite_wire.instruments import (
    CSV_COLUMNS,
    Instrument,
    csv_row,
    format_instruments_csv,
    instrument_from_row,
    parse_instruments_csv,
)

OPTION = Instrument(
    instrument_token=12345 << 8 | 2, exchange_token=12345, tradingsymbol="NIFTY25JAN24350CE", name="NIFTY",
    exchange="NFO", segment="NFO-OPT", instrument_type="CE", expiry=date(2025, 1, 30), strike=Decimal("24350"),
    tick_size=Decimal("0.05"), lot_size=75, last_price=Decimal("182.4"),
)  # fmt: skip


def test_a_row_is_written_as_kites_dump_writes_it() -> None:
    assert csv_row(OPTION) == [
        str(12345 << 8 | 2), "12345", "NIFTY25JAN24350CE", "NIFTY", "182.4", "2025-01-30", "24350.0", "0.05", "75",
        "CE", "NFO-OPT", "NFO",
    ]  # fmt: skip


def test_the_dump_starts_with_kites_header() -> None:
    assert format_instruments_csv([]).splitlines() == [",".join(CSV_COLUMNS)]


def test_the_dump_parses_back_to_its_rows() -> None:
    assert parse_instruments_csv(format_instruments_csv([OPTION])) == [OPTION]


def test_the_official_clients_rows_of_the_simulators_dump_read_as_the_dump_parses() -> None:
    text = build_universe(7, date(2025, 1, 6)).csv()
    official = KiteConnect("key")._parse_instruments(text.encode())
    assert [instrument_from_row(row) for row in official] == parse_instruments_csv(text)


def test_an_equity_has_no_expiry_and_is_not_a_derivative() -> None:
    (row,) = parse_instruments_csv(
        "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,"
        "instrument_type,segment,exchange\n408065,1594,INFY,INFOSYS,0.0,,0.0,0.05,1,EQ,NSE,NSE\n"
    )
    assert row.expiry is None and not row.is_derivative and row.tradable and row.symbol == "NSE:INFY"
    assert row.tick_size == Decimal("0.05") and row.last_price == 0


def test_an_index_is_not_tradable() -> None:
    row = instrument_from_row({"instrument_token": 256265, "tradingsymbol": "NIFTY 50", "exchange": "NSE",
                               "segment": "INDICES"})  # fmt: skip
    assert not row.tradable and row.lot_size == 0 and row.strike == 0


def test_a_float_from_the_official_client_is_read_as_the_decimal_it_was_written_as() -> None:
    row = instrument_from_row({"instrument_token": 1, "tradingsymbol": "X", "exchange": "CDS", "tick_size": 0.0025})
    assert row.tick_size == Decimal("0.0025")


def test_the_simulators_dump_is_its_instruments_rows() -> None:
    universe = build_universe(7, date(2025, 1, 6))
    rows = parse_instruments_csv(universe.csv("MCX"))
    assert rows == [i.instrument() for i in universe if i.exchange == "MCX"] and rows
    assert all(row.last_price > 0 for row in rows if row.is_derivative)
