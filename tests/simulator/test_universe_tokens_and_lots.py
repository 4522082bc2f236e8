"""The simulated universe's instrument tokens are Kite's (below 2**31, `exchange_token << 8 | segment`,
unique) and its derivatives carry the exchanges' current lot sizes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kite_simulator.lot_sizes import INDEX_LOTS, STOCK_LOTS
from kite_simulator.universe import TOKEN_LIMIT, build_universe
from kite_wire import ticker_packets as seg

SEGMENT_IDS = {"NSE": seg.SEGMENT_NSE, "BSE": seg.SEGMENT_BSE, "NFO": seg.SEGMENT_NFO, "BFO": seg.SEGMENT_BFO,
               "MCX": seg.SEGMENT_MCX, "CDS": seg.SEGMENT_CDS}  # fmt: skip
DAY = date(2026, 11, 25)  # a trading day (24 Nov 2026 is an NSE holiday)


@pytest.mark.parametrize("seed", [5, 11, 12345])
def test_no_instrument_token_reads_negative_as_a_signed_32_bit_integer(seed: int) -> None:
    universe = build_universe(seed, DAY)
    above = [i.symbol for i in universe if not 0 < i.instrument_token < TOKEN_LIMIT]
    assert len(universe) > 3000 and above == []


def test_every_token_is_its_exchange_token_shifted_with_its_segment_and_unique() -> None:
    universe = build_universe(5, DAY)
    for instrument in universe:
        segment = seg.SEGMENT_INDICES if instrument.segment == "INDICES" else SEGMENT_IDS[instrument.exchange]
        assert instrument.instrument_token == instrument.exchange_token << 8 | segment, instrument.symbol
    assert len({i.instrument_token for i in universe}) == len(universe)


def test_a_contract_keeps_its_token_from_one_day_to_the_next() -> None:
    today, tomorrow = build_universe(5, DAY), build_universe(5, DAY + timedelta(days=1))
    common = set(today.by_symbol) & set(tomorrow.by_symbol)
    assert len(common) > 2000
    assert all(today.by_symbol[s].instrument_token == tomorrow.by_symbol[s].instrument_token for s in common)


def test_index_derivatives_carry_the_lots_nse_set_for_2026_expiries() -> None:
    universe = build_universe(5, DAY)

    def lots(name: str) -> set[int]:
        return {i.lot_size for i in universe if i.is_derivative and i.name == name}

    assert (lots("NIFTY"), lots("BANKNIFTY"), lots("FINNIFTY"), lots("SENSEX")) == ({65}, {30}, {60}, {20})


def test_stock_derivatives_carry_their_listed_lot_and_freeze_at_whole_lots() -> None:
    universe = build_universe(5, DAY)
    hdfc = [i for i in universe if i.exchange == "NFO" and i.name == "HDFCBANK"]
    assert hdfc and {i.lot_size for i in hdfc} == {550}
    assert {i.lot_size for i in universe if i.exchange == "NFO" and i.name == "RELIANCE"} == {500}
    for instrument in universe:
        if instrument.exchange in ("NFO", "BFO"):
            assert instrument.freeze_quantity % instrument.lot_size == 0, instrument.symbol


def test_every_lot_size_names_its_source_and_date() -> None:
    for name, lot in {**INDEX_LOTS, **STOCK_LOTS}.items():
        assert lot.units > 0 and lot.source and lot.since.year >= 2024, name
