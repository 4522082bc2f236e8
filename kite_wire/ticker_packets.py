"""The binary packets of Kite's WebSocket ticker, byte for byte.

A binary message is `[uint16 N]` then N times `[uint16 length][packet]`, big-endian. Packet
length tells the mode: 8 LTP, 28 index quote, 32 index full, 44 quote, 184 full (with five bid
and five offer levels of 12 bytes: int32 quantity, int32 price, int16 orders, 2 bytes padding).
Prices are integers: the price times a divisor that depends on the segment (the low byte of the
instrument token). A 1-byte message is a heartbeat.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from decimal import Decimal

# Segment ids: the low byte of an instrument token.
SEGMENT_NSE = 1
SEGMENT_NFO = 2
SEGMENT_CDS = 3
SEGMENT_BSE = 4
SEGMENT_BFO = 5
SEGMENT_BCD = 6
SEGMENT_MCX = 7
SEGMENT_MCXSX = 8
SEGMENT_INDICES = 9
SEGMENT_NCO = 12

MODE_LTP = "ltp"
MODE_QUOTE = "quote"
MODE_FULL = "full"
MODES = (MODE_LTP, MODE_QUOTE, MODE_FULL)

LTP_LENGTH = 8
INDEX_QUOTE_LENGTH = 28
INDEX_FULL_LENGTH = 32
QUOTE_LENGTH = 44
FULL_LENGTH = 184
DEPTH_LEVELS = 5

HEARTBEAT = b"\x00"

_HEAD = struct.Struct(">II")  # token, last price
_QUOTE_REST = struct.Struct(">9I")  # ltq, atp, volume, buy qty, sell qty, open, high, low, close
_FULL_REST = struct.Struct(">5I")  # last trade time, oi, oi high, oi low, exchange timestamp
_DEPTH = struct.Struct(">IIH2x")
_INDEX_REST = struct.Struct(">IIIIi")  # high, low, open, close, change
_INDEX_TIME = struct.Struct(">I")
_COUNT = struct.Struct(">H")


def segment_of(instrument_token: int) -> int:
    return instrument_token & 0xFF


def price_divisor(instrument_token: int) -> int:
    """What a packet's integer prices are divided by for this instrument's segment."""
    segment = segment_of(instrument_token)
    if segment == SEGMENT_CDS:
        return 10_000_000
    if segment in (SEGMENT_BCD, SEGMENT_NCO):
        return 10_000
    return 100


def is_tradable(instrument_token: int) -> bool:
    return segment_of(instrument_token) != SEGMENT_INDICES


@dataclass(frozen=True, slots=True)
class DepthEntry:
    """One level of depth, price as an exact decimal."""

    quantity: int
    price: Decimal
    orders: int


@dataclass(frozen=True, slots=True)
class TickSnapshot:
    """Everything a packet can carry for one instrument; prices as exact decimals, times as epoch seconds."""

    instrument_token: int
    last_price: Decimal
    last_quantity: int = 0
    average_price: Decimal = Decimal(0)
    volume: int = 0
    buy_quantity: int = 0
    sell_quantity: int = 0
    open: Decimal = Decimal(0)
    high: Decimal = Decimal(0)
    low: Decimal = Decimal(0)
    close: Decimal = Decimal(0)
    last_trade_time: int = 0
    oi: int = 0
    oi_day_high: int = 0
    oi_day_low: int = 0
    exchange_timestamp: int = 0
    bids: tuple[DepthEntry, ...] = field(default=())
    offers: tuple[DepthEntry, ...] = field(default=())


def _scaled(price: Decimal, divisor: int) -> int:
    return int((price * divisor).to_integral_value())


def encode_packet(tick: TickSnapshot, mode: str) -> bytes:
    """One packet (without its length prefix) for a mode: ltp, quote or full."""
    divisor = price_divisor(tick.instrument_token)
    head = _HEAD.pack(tick.instrument_token, _scaled(tick.last_price, divisor))
    if mode == MODE_LTP:
        return head
    if not is_tradable(tick.instrument_token):
        change = _scaled(tick.last_price - tick.close, divisor) if tick.close else 0
        body = head + _INDEX_REST.pack(
            _scaled(tick.high, divisor),
            _scaled(tick.low, divisor),
            _scaled(tick.open, divisor),
            _scaled(tick.close, divisor),
            change,
        )
        return body if mode == MODE_QUOTE else body + _INDEX_TIME.pack(tick.exchange_timestamp)
    body = head + _QUOTE_REST.pack(
        tick.last_quantity,
        _scaled(tick.average_price, divisor),
        tick.volume,
        tick.buy_quantity,
        tick.sell_quantity,
        _scaled(tick.open, divisor),
        _scaled(tick.high, divisor),
        _scaled(tick.low, divisor),
        _scaled(tick.close, divisor),
    )
    if mode == MODE_QUOTE:
        return body
    parts = [
        body,
        _FULL_REST.pack(tick.last_trade_time, tick.oi, tick.oi_day_high, tick.oi_day_low, tick.exchange_timestamp),
    ]
    empty = DepthEntry(0, Decimal(0), 0)
    for side in (tick.bids, tick.offers):
        levels = (*side[:DEPTH_LEVELS], *([empty] * (DEPTH_LEVELS - len(side))))
        parts.extend(_DEPTH.pack(e.quantity, _scaled(e.price, divisor), e.orders) for e in levels)
    return b"".join(parts)


def frame(packets: list[bytes]) -> bytes:
    """A binary message carrying the packets: count, then each with its length."""
    parts = [_COUNT.pack(len(packets))]
    for packet in packets:
        parts.append(_COUNT.pack(len(packet)))
        parts.append(packet)
    return b"".join(parts)


# Decoding ---------------------------------------------------------------------------------------

_LTP_PACKET = struct.Struct(">II")
_INDEX_QUOTE_PACKET = struct.Struct(">IIIIIIi")
_INDEX_FULL_PACKET = struct.Struct(">IIIIIIiI")
_QUOTE_PACKET = struct.Struct(">11I")
_FULL_HEAD = struct.Struct(">16I")
_DEPTH_ALL = struct.Struct(">" + "IIH2x" * (2 * DEPTH_LEVELS))


@dataclass(slots=True)
class RawTick:
    """A decoded packet. Prices stay the integers on the wire; divide by `divisor` for the price
    (exactly: units = value // divisor, remainder / divisor)."""

    instrument_token: int
    mode: str
    tradable: bool
    divisor: int
    last_price: int
    last_quantity: int = 0
    average_price: int = 0
    volume: int = 0
    buy_quantity: int = 0
    sell_quantity: int = 0
    open: int = 0
    high: int = 0
    low: int = 0
    close: int = 0
    last_trade_time: int = 0
    oi: int = 0
    oi_day_high: int = 0
    oi_day_low: int = 0
    exchange_timestamp: int = 0
    depth: tuple[int, ...] = ()  # (quantity, price, orders) x 5 bids, then x 5 offers


def split_message(data: bytes) -> list[bytes]:
    """The packets of a binary message (empty for a heartbeat)."""
    if len(data) < 2:
        return []
    count = int.from_bytes(data[:2], "big")
    packets, offset = [], 2
    for _ in range(count):
        length = int.from_bytes(data[offset : offset + 2], "big")
        packets.append(data[offset + 2 : offset + 2 + length])
        offset += 2 + length
    return packets


def decode_packet(packet: bytes) -> RawTick | None:
    """One packet by its length; None for a length Kite does not send."""
    size = len(packet)
    token = int.from_bytes(packet[:4], "big")
    divisor = price_divisor(token)
    if size == LTP_LENGTH:
        return RawTick(token, MODE_LTP, is_tradable(token), divisor, _LTP_PACKET.unpack(packet)[1])
    if size in (INDEX_QUOTE_LENGTH, INDEX_FULL_LENGTH):
        if size == INDEX_QUOTE_LENGTH:
            _, last, high, low, open_, close, _change = _INDEX_QUOTE_PACKET.unpack(packet)
            stamp, mode = 0, MODE_QUOTE
        else:
            _, last, high, low, open_, close, _change, stamp = _INDEX_FULL_PACKET.unpack(packet)
            mode = MODE_FULL
        return RawTick(
            token, mode, False, divisor, last, open=open_, high=high, low=low, close=close, exchange_timestamp=stamp
        )
    if size == QUOTE_LENGTH:
        _, last, ltq, atp, vol, buy, sell, open_, high, low, close = _QUOTE_PACKET.unpack(packet)
        return RawTick(token, MODE_QUOTE, True, divisor, last, ltq, atp, vol, buy, sell, open_, high, low, close)
    if size == FULL_LENGTH:
        (_, last, ltq, atp, vol, buy, sell, open_, high, low, close, ltt, oi, oi_high, oi_low, stamp) = (
            _FULL_HEAD.unpack_from(packet)
        )
        return RawTick(
            token,
            MODE_FULL,
            True,
            divisor,
            last,
            ltq,
            atp,
            vol,
            buy,
            sell,
            open_,
            high,
            low,
            close,
            ltt,
            oi,
            oi_high,
            oi_low,
            stamp,
            _DEPTH_ALL.unpack_from(packet, 64),
        )
    return None


def decode_message(data: bytes) -> list[RawTick]:
    """Every tick of a binary message, in order (nothing for a heartbeat or unknown packet sizes)."""
    return [tick for packet in split_message(data) if (tick := decode_packet(packet)) is not None]
