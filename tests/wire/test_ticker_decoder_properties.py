"""Property tests of the ticker decoder: random frames of random packet kinds decode field by field as
the official parser reads them (and to the Tick the packet's integers make), and truncated, overrunning
or garbage messages never raise and decode exactly their complete packets."""

from __future__ import annotations

import struct
from dataclasses import fields

from hypothesis import given
from hypothesis import strategies as st
from kiteconnect import KiteTicker

from kite_wire.ticker_packets import (
    FULL_LENGTH,
    INDEX_FULL_LENGTH,
    INDEX_QUOTE_LENGTH,
    LTP_LENGTH,
    MODE_FULL,
    MODE_LTP,
    MODE_QUOTE,
    QUOTE_LENGTH,
    SEGMENT_INDICES,
    Tick,
    decode_message,
    decode_packet,
    frame,
    split_message,
)
from tests.wire.official_shape import as_official

OFFICIAL = KiteTicker("key", "token")
KNOWN_LENGTHS = (LTP_LENGTH, INDEX_QUOTE_LENGTH, INDEX_FULL_LENGTH, QUOTE_LENGTH, FULL_LENGTH)

uint32 = st.integers(0, 2**32 - 1)
int32 = st.integers(-(2**31), 2**31 - 1)
uint16 = st.integers(0, 2**16 - 1)
tradable_token = st.builds(
    lambda n, s: n << 8 | s, st.integers(0, 2**24 - 1), st.integers(0, 255).filter(lambda s: s != 9)
)
index_token = st.builds(lambda n: n << 8 | SEGMENT_INDICES, st.integers(0, 2**24 - 1))


@st.composite
def ltp(draw: st.DrawFn) -> tuple[bytes, Tick]:
    token, last = draw(st.one_of(tradable_token, index_token)), draw(uint32)
    return struct.pack(">II", token, last), Tick(token, last, MODE_LTP)


@st.composite
def index_packet(draw: st.DrawFn) -> tuple[bytes, Tick]:
    token, (last, high, low, open_, close, stamp), change = (
        draw(index_token),
        draw(st.tuples(*[uint32] * 6)),
        draw(int32),
    )
    quote = struct.pack(">IIIIIIi", token, last, high, low, open_, close, change)
    if draw(st.booleans()):
        return quote, Tick(token, last, MODE_QUOTE, open=open_, high=high, low=low, close=close, change=change)
    full = Tick(token, last, MODE_FULL, open=open_, high=high, low=low, close=close, exchange_timestamp=stamp,
                change=change)  # fmt: skip
    return quote + struct.pack(">I", stamp), full


@st.composite
def tradable_packet(draw: st.DrawFn) -> tuple[bytes, Tick]:
    token = draw(tradable_token)
    last, ltq, atp, volume, buy, sell, open_, high, low, close = draw(st.tuples(*[uint32] * 10))
    quote = struct.pack(">11I", token, last, ltq, atp, volume, buy, sell, open_, high, low, close)
    if draw(st.booleans()):
        return quote, Tick(token, last, MODE_QUOTE, ltq, atp, volume, buy, sell, open_, high, low, close)
    traded, oi, oi_high, oi_low, stamp = draw(st.tuples(*[uint32] * 5))
    levels = draw(st.lists(st.tuples(uint32, uint32, uint16), min_size=10, max_size=10))
    depth = tuple(value for level in levels for value in level)
    packet = quote + struct.pack(">5I", traded, oi, oi_high, oi_low, stamp) + struct.pack(">" + "IIH2x" * 10, *depth)
    full = Tick(token, last, MODE_FULL, ltq, atp, volume, buy, sell, open_, high, low, close, traded, oi, oi_high,
                oi_low, stamp, depth)  # fmt: skip
    return packet, full


@st.composite
def unknown_packet(draw: st.DrawFn) -> tuple[bytes, None]:
    """A length Kite does not send, starting with a token as the official parser expects."""
    size = draw(st.integers(4, 200).filter(lambda n: n not in KNOWN_LENGTHS))
    return draw(st.binary(min_size=size, max_size=size)), None


packet = st.one_of(ltp(), index_packet(), tradable_packet(), unknown_packet())
# A frame of one kind throughout (as a single-mode subscription sends) or of mixed kinds.
packets = st.one_of(
    st.sampled_from([ltp(), index_packet(), tradable_packet()]).flatmap(lambda kind: st.lists(kind, max_size=30)),
    st.lists(packet, max_size=30),
)


def _expected(pairs: list[tuple[bytes, Tick | None]]) -> list[Tick]:
    return [tick for _, tick in pairs if tick is not None]


@given(packets)
def test_random_frames_of_random_packet_kinds_decode_as_the_official_parser_reads_them(
    pairs: list[tuple[bytes, Tick | None]],
) -> None:
    message = frame([data for data, _ in pairs])
    ours = decode_message(message)
    assert [as_official(tick) for tick in ours] == OFFICIAL._parse_binary(message)
    assert ours == _expected(pairs)
    assert [tick for data in split_message(message) if (tick := decode_packet(data))] == ours


@given(packets)
def test_every_field_of_a_decoded_tick_is_set(pairs: list[tuple[bytes, Tick | None]]) -> None:
    for tick in decode_message(frame([data for data, _ in pairs])):
        assert all(hasattr(tick, field.name) for field in fields(Tick))


@given(packets, st.data())
def test_a_truncated_frame_decodes_its_complete_packets_and_never_raises(
    pairs: list[tuple[bytes, Tick | None]], data: st.DataObject
) -> None:
    message = frame([packet for packet, _ in pairs])
    cut = data.draw(st.integers(0, len(message)))
    complete, end = [], 2
    for packet, tick in pairs:
        end += 2 + len(packet)
        if end > cut:
            break
        complete.append((packet, tick))
    assert decode_message(message[:cut]) == _expected(complete)
    assert split_message(message[:cut]) == [packet for packet, _ in complete]


@given(packets, st.integers(1, 2**16 - 1))
def test_a_count_beyond_the_packets_present_decodes_the_packets_present(
    pairs: list[tuple[bytes, Tick | None]], extra: int
) -> None:
    message = frame([packet for packet, _ in pairs])
    count = min(len(pairs) + extra, 2**16 - 1)
    assert decode_message(count.to_bytes(2, "big") + message[2:]) == _expected(pairs)


@given(st.lists(packet, min_size=1, max_size=10), st.integers(1, 2**16 - 1 - FULL_LENGTH))
def test_a_packet_length_past_the_end_decodes_the_packets_before_it(
    pairs: list[tuple[bytes, Tick | None]], overrun: int
) -> None:
    *before, (last, _) = pairs
    message = frame([packet for packet, _ in before]) + min(len(last) + overrun, 2**16 - 1).to_bytes(2, "big") + last
    message = len(pairs).to_bytes(2, "big") + message[2:]
    assert decode_message(message) == _expected(before)


@given(st.binary(max_size=3000))
def test_garbage_never_raises(garbage: bytes) -> None:
    assert all(isinstance(tick, Tick) for tick in decode_message(garbage))
    assert all(isinstance(packet, bytes) for packet in split_message(garbage))


@given(uint16, st.lists(st.tuples(uint16, st.binary(max_size=300)), max_size=20))
def test_garbage_lengths_never_raise(count: int, parts: list[tuple[int, bytes]]) -> None:
    message = count.to_bytes(2, "big") + b"".join(length.to_bytes(2, "big") + body for length, body in parts)
    assert all(isinstance(tick, Tick) for tick in decode_message(message))


def test_a_mixed_frame_whose_size_looks_uniform_decodes_each_packet_by_its_own_length() -> None:
    """8 + 44 + 44 bytes (with prefixes 3 x 34) is the size of three 32-byte index packets."""
    token = 408065 << 8 | 1
    quote = struct.pack(">11I", token, *range(1, 11))
    message = frame([struct.pack(">II", token, 5), quote, quote])
    assert len(message) == 2 + 3 * (2 + INDEX_FULL_LENGTH)
    ours = decode_message(message)
    assert [tick.mode for tick in ours] == [MODE_LTP, MODE_QUOTE, MODE_QUOTE]
    assert [as_official(tick) for tick in ours] == OFFICIAL._parse_binary(message)
