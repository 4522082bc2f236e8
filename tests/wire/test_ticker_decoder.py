"""The gateway's ticker decoder reads every packet kind exactly as the official parser does."""

from __future__ import annotations

import base64
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from kiteconnect import KiteTicker

from kite_simulator.market import MarketModel
from kite_simulator.universe import build_universe
from kite_wire.formats import IST
from kite_wire.market_hours import MarketHours
from kite_wire.ticker_packets import (
    HEARTBEAT,
    MODES,
    Tick,
    decode_message,
    encode_packet,
    frame,
)
from tests.wire.official_shape import as_official

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "kite-reference"
OFFICIAL = KiteTicker("key", "token")


def universe_messages() -> list[bytes]:
    """Messages of every packet kind: each segment's instruments (cash, index, F&O, MCX, CDS) in each mode."""
    day = date(2026, 11, 24)
    market = MarketModel(3, day, MarketHours())
    moment = datetime(2026, 11, 24, 11, 5, 7, tzinfo=IST)
    instruments = list(build_universe(3, day))
    picked: dict[str, list[Any]] = {i.segment: [] for i in instruments}
    for instrument in instruments:
        if len(picked[instrument.segment]) < 6:
            picked[instrument.segment].append(instrument)
    messages = []
    for mode in MODES:
        packets = [
            encode_packet(market.quote(i, moment + timedelta(seconds=n)).snapshot(), mode)
            for n, group in enumerate(picked.values())
            for i in group
        ]
        messages.append(frame(packets))
    return messages


def test_every_packet_kind_decodes_exactly_as_the_official_parser_reads_it() -> None:
    compared = 0
    for message in universe_messages():
        ours, theirs = decode_message(message), OFFICIAL._parse_binary(message)
        assert len(ours) == len(theirs) > 0
        for mine, official in zip(ours, theirs, strict=True):
            assert as_official(mine) == official
            compared += 1
    assert compared >= 3 * 6 * 9


@pytest.mark.parametrize("name", ["ticker_quote.packet", "ticker_full.packet"])
def test_zerodhas_reference_packets_decode_as_the_official_parser_reads_them(name: str) -> None:
    path = REFERENCE / name
    if not path.exists():
        pytest.skip(f"{path} not found: the shared reference material is not beside the project")
    message = frame([base64.b64decode(path.read_text())])
    (mine,) = decode_message(message)
    (official,) = OFFICIAL._parse_binary(message)
    assert as_official(mine) == official


def test_prices_convert_to_exact_decimals() -> None:

    snapshot = Tick.from_prices(instrument_token=(1 << 8) | 3, last_price=Decimal("84.4525"))  # a CDS token
    (tick,) = decode_message(frame([encode_packet(snapshot, "ltp")]))
    assert tick.divisor == 10_000_000 and Decimal(tick.last_price) / tick.divisor == Decimal("84.4525")


def test_heartbeats_and_unknown_packets_decode_to_nothing() -> None:
    assert decode_message(HEARTBEAT) == [] and decode_message(b"") == []
    assert decode_message(frame([b"\x00" * 12])) == []
