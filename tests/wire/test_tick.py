"""One Tick for encode and decode: a tick built from exact prices survives the wire in full mode, and
the poorer modes carry exactly their fields."""

from __future__ import annotations

from decimal import Decimal

from kite_wire.ticker_packets import (
    FULL_LENGTH,
    INDEX_FULL_LENGTH,
    INDEX_QUOTE_LENGTH,
    LTP_LENGTH,
    MODE_FULL,
    MODE_LTP,
    MODE_QUOTE,
    QUOTE_LENGTH,
    DepthEntry,
    Tick,
    decode_packet,
    encode_packet,
)

NSE_TOKEN = (408065 << 8) | 1
INDEX_TOKEN = (256265 << 8) | 9


def _nse_tick() -> Tick:
    return Tick.from_prices(
        NSE_TOKEN, Decimal("1573.15"), last_quantity=5, average_price=Decimal("1570.5"), volume=1000,
        buy_quantity=300, sell_quantity=400, open=Decimal("1560"), high=Decimal("1580.05"), low=Decimal("1555.1"),
        close=Decimal("1565"), last_trade_time=1_700_000_000, oi=7, oi_day_high=9, oi_day_low=3,
        exchange_timestamp=1_700_000_001, bids=(DepthEntry(10, Decimal("1573.1"), 2),),
        offers=(DepthEntry(20, Decimal("1573.2"), 3), DepthEntry(5, Decimal("1573.25"), 1)),
    )  # fmt: skip


def test_a_full_tick_decodes_to_the_tick_that_was_encoded() -> None:
    tick = _nse_tick()
    packet = encode_packet(tick, MODE_FULL)
    assert len(packet) == FULL_LENGTH and decode_packet(packet) == tick


def test_prices_travel_as_integers_scaled_by_the_segments_divisor_and_read_back_exactly() -> None:
    tick = _nse_tick()
    assert tick.divisor == 100 and tick.last_price == 157315 and tick.price(tick.last_price) == Decimal("1573.15")
    cds = Tick.from_prices((1 << 8) | 3, Decimal("84.4525"))
    assert cds.divisor == 10_000_000 and cds.price(cds.last_price) == Decimal("84.4525")


def test_missing_depth_levels_are_sent_as_empty_levels() -> None:
    depth = _nse_tick().depth
    assert len(depth) == 30 and depth[3:15] == (0,) * 12 and depth[15:21] == (20, 157320, 3, 5, 157325, 1)


def test_a_quote_packet_carries_no_full_only_fields() -> None:
    decoded = decode_packet(encode_packet(_nse_tick(), MODE_QUOTE))
    assert decoded is not None and len(encode_packet(_nse_tick(), MODE_QUOTE)) == QUOTE_LENGTH
    assert decoded.mode == MODE_QUOTE and decoded.volume == 1000 and decoded.close == 156500
    assert decoded.depth == () and decoded.oi == 0 and decoded.exchange_timestamp == 0


def test_an_ltp_packet_carries_the_token_and_last_price_only() -> None:
    packet = encode_packet(_nse_tick(), MODE_LTP)
    assert len(packet) == LTP_LENGTH and decode_packet(packet) == Tick(NSE_TOKEN, 157315, MODE_LTP)


def test_an_index_tick_carries_ohlc_and_its_change_and_no_depth() -> None:
    tick = Tick.from_prices(
        INDEX_TOKEN,
        Decimal("24350.45"),
        open=Decimal("24300"),
        high=Decimal("24400"),
        low=Decimal("24250"),
        close=Decimal("24310.20"),
        exchange_timestamp=1_700_000_002,
    )
    assert not tick.tradable and tick.depth == () and tick.change == 4025
    quote, full = encode_packet(tick, MODE_QUOTE), encode_packet(tick, MODE_FULL)
    assert (len(quote), len(full)) == (INDEX_QUOTE_LENGTH, INDEX_FULL_LENGTH)
    assert decode_packet(full) == tick


def test_an_index_falling_below_its_close_has_a_negative_change() -> None:
    tick = Tick.from_prices(INDEX_TOKEN, Decimal("100"), close=Decimal("101.5"))
    decoded = decode_packet(encode_packet(tick, MODE_QUOTE))
    assert decoded is not None and decoded.change == -150


def test_an_index_without_a_close_has_no_change() -> None:
    assert Tick.from_prices(INDEX_TOKEN, Decimal("100")).change == 0
