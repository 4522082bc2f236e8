"""The binary packets of Kite's WebSocket ticker, byte for byte.

A binary message is `[uint16 N]` then N times `[uint16 length][packet]`, big-endian. Packet
length tells the mode: 8 LTP, 28 index quote, 32 index full, 44 quote, 184 full (with five bid
and five offer levels of 12 bytes: int32 quantity, int32 price, int16 orders, 2 bytes padding).
Prices are integers: the price times a divisor that depends on the segment (the low byte of the
instrument token). A 1-byte message is a heartbeat.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
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
_DEPTH_ALL = struct.Struct(">" + "IIH2x" * (2 * DEPTH_LEVELS))
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


@dataclass(slots=True)
class Tick:
    """One instrument's packet, what the encoder writes and the decoder reads. Prices are the integers
    on the wire: divide by `divisor` for the price (exactly: `price()`); times are epoch seconds;
    `depth` is (quantity, price, orders) x 5 bids then x 5 offers (full mode of a tradable instrument);
    `change` is an index packet's last price minus close (0 in a tradable instrument's). `mode` is what
    a decoded packet carried (MODE_FULL for a tick built from prices, which can be encoded in any mode)."""

    instrument_token: int
    last_price: int
    mode: str = MODE_FULL
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
    depth: tuple[int, ...] = ()
    change: int = 0

    @property
    def divisor(self) -> int:
        return price_divisor(self.instrument_token)

    @property
    def tradable(self) -> bool:
        return is_tradable(self.instrument_token)

    def price(self, wire: int) -> Decimal:
        """A wire integer of this tick as the exact price."""
        return Decimal(wire) / self.divisor

    @classmethod
    def from_prices(
        cls,
        instrument_token: int,
        last_price: Decimal,
        last_quantity: int = 0,
        average_price: Decimal = Decimal(0),
        volume: int = 0,
        buy_quantity: int = 0,
        sell_quantity: int = 0,
        open: Decimal = Decimal(0),
        high: Decimal = Decimal(0),
        low: Decimal = Decimal(0),
        close: Decimal = Decimal(0),
        last_trade_time: int = 0,
        oi: int = 0,
        oi_day_high: int = 0,
        oi_day_low: int = 0,
        exchange_timestamp: int = 0,
        bids: tuple[DepthEntry, ...] = (),
        offers: tuple[DepthEntry, ...] = (),
    ) -> Tick:
        """A tick of exact decimal prices (the simulator's quotes), scaled to the wire's integers."""
        divisor = price_divisor(instrument_token)
        depth: list[int] = []
        if is_tradable(instrument_token):
            for side in (bids, offers):
                for entry in side[:DEPTH_LEVELS]:
                    depth += (entry.quantity, _scaled(entry.price, divisor), entry.orders)
                depth += _EMPTY_LEVEL * (DEPTH_LEVELS - min(len(side), DEPTH_LEVELS))
        return cls(
            instrument_token,
            _scaled(last_price, divisor),
            MODE_FULL,
            last_quantity,
            _scaled(average_price, divisor),
            volume,
            buy_quantity,
            sell_quantity,
            _scaled(open, divisor),
            _scaled(high, divisor),
            _scaled(low, divisor),
            _scaled(close, divisor),
            last_trade_time,
            oi,
            oi_day_high,
            oi_day_low,
            exchange_timestamp,
            tuple(depth),
            _scaled(last_price - close, divisor) if close and not is_tradable(instrument_token) else 0,
        )


def _scaled(price: Decimal, divisor: int) -> int:
    return round(price * divisor)  # half to even, as Decimal.to_integral_value


_EMPTY_LEVEL = (0, 0, 0)
_NO_DEPTH = _EMPTY_LEVEL * (2 * DEPTH_LEVELS)


def encode_packet(tick: Tick, mode: str) -> bytes:
    """One packet (without its length prefix) of the tick in a mode: ltp, quote or full."""
    head = _HEAD.pack(tick.instrument_token, tick.last_price)
    if mode == MODE_LTP:
        return head
    if not tick.tradable:
        body = head + _INDEX_REST.pack(tick.high, tick.low, tick.open, tick.close, tick.change)
        return body if mode == MODE_QUOTE else body + _INDEX_TIME.pack(tick.exchange_timestamp)
    body = head + _QUOTE_REST.pack(
        tick.last_quantity,
        tick.average_price,
        tick.volume,
        tick.buy_quantity,
        tick.sell_quantity,
        tick.open,
        tick.high,
        tick.low,
        tick.close,
    )
    if mode == MODE_QUOTE:
        return body
    full = _FULL_REST.pack(tick.last_trade_time, tick.oi, tick.oi_day_high, tick.oi_day_low, tick.exchange_timestamp)
    return body + full + _DEPTH_ALL.pack(*(tick.depth or _NO_DEPTH))


def frame(packets: list[bytes]) -> bytes:
    """A binary message carrying the packets: count, then each with its length."""
    parts = [_COUNT.pack(len(packets))]
    for packet in packets:
        parts.append(_COUNT.pack(len(packet)))
        parts.append(packet)
    return b"".join(parts)


# Decoding ---------------------------------------------------------------------------------------
#
# Each packet kind is read by one struct that starts at its length prefix, so a frame whose packets
# all have one length is read by one `iter_unpack`, and a mixed frame by `unpack_from` at offsets,
# never slicing a packet out. Ticks are built by `object.__new__` and slot stores, in one loop per
# kind over its rows (no call per tick): the dataclass `__init__` filling 16 defaults was most of
# an LTP tick's cost (bench/RESULTS.md, issue 17).

_new = object.__new__


def _ltps(rows: Iterable[tuple[int, ...]]) -> list[Tick]:
    """LTP packets' ticks (8 bytes: token, last price), tradable or index."""
    ticks = []
    for values in rows:
        tick: Tick = _new(Tick)
        _, tick.instrument_token, tick.last_price = values
        tick.mode = MODE_LTP
        tick.last_quantity = tick.average_price = tick.volume = tick.buy_quantity = tick.sell_quantity = 0
        tick.open = tick.high = tick.low = tick.close = 0
        tick.last_trade_time = tick.oi = tick.oi_day_high = tick.oi_day_low = tick.exchange_timestamp = tick.change = 0
        tick.depth = ()
        ticks.append(tick)
    return ticks


def _index_quotes(rows: Iterable[tuple[int, ...]]) -> list[Tick]:
    """An index's quote packets' ticks (28 bytes: token, last, high, low, open, close, change)."""
    ticks = []
    for values in rows:
        tick: Tick = _new(Tick)
        _, tick.instrument_token, tick.last_price, tick.high, tick.low, tick.open, tick.close, tick.change = values
        tick.mode = MODE_QUOTE
        tick.last_quantity = tick.average_price = tick.volume = tick.buy_quantity = tick.sell_quantity = 0
        tick.last_trade_time = tick.oi = tick.oi_day_high = tick.oi_day_low = tick.exchange_timestamp = 0
        tick.depth = ()
        ticks.append(tick)
    return ticks


def _index_fulls(rows: Iterable[tuple[int, ...]]) -> list[Tick]:
    """An index's full packets' ticks (32 bytes: the quote's and the exchange timestamp)."""
    ticks = []
    for values in rows:
        tick: Tick = _new(Tick)
        (_, tick.instrument_token, tick.last_price, tick.high, tick.low, tick.open, tick.close, tick.change,
         tick.exchange_timestamp) = values  # fmt: skip
        tick.mode = MODE_FULL
        tick.last_quantity = tick.average_price = tick.volume = tick.buy_quantity = tick.sell_quantity = 0
        tick.last_trade_time = tick.oi = tick.oi_day_high = tick.oi_day_low = 0
        tick.depth = ()
        ticks.append(tick)
    return ticks


def _quotes(rows: Iterable[tuple[int, ...]]) -> list[Tick]:
    """Quote packets' ticks (44 bytes: token, last, quantities, average, volume, OHLC)."""
    ticks = []
    for values in rows:
        tick: Tick = _new(Tick)
        (_, tick.instrument_token, tick.last_price, tick.last_quantity, tick.average_price, tick.volume,
         tick.buy_quantity, tick.sell_quantity, tick.open, tick.high, tick.low, tick.close) = values  # fmt: skip
        tick.mode = MODE_QUOTE
        tick.last_trade_time = tick.oi = tick.oi_day_high = tick.oi_day_low = tick.exchange_timestamp = tick.change = 0
        tick.depth = ()
        ticks.append(tick)
    return ticks


def _fulls(rows: Iterable[tuple[int, ...]]) -> list[Tick]:
    """Full packets' ticks (184 bytes: the quote's, times, open interest, then five bids and five offers)."""
    ticks = []
    for values in rows:
        tick: Tick = _new(Tick)
        (_, tick.instrument_token, tick.last_price, tick.last_quantity, tick.average_price, tick.volume,
         tick.buy_quantity, tick.sell_quantity, tick.open, tick.high, tick.low, tick.close, tick.last_trade_time,
         tick.oi, tick.oi_day_high, tick.oi_day_low, tick.exchange_timestamp) = values[:17]  # fmt: skip
        tick.mode = MODE_FULL
        tick.depth = values[17:]
        tick.change = 0
        ticks.append(tick)
    return ticks


# What builds the ticks of rows of one kind's unpacked values.
_Build = Callable[[Iterable[tuple[int, ...]]], list[Tick]]

# Packet length -> (the struct of its length prefix and packet, its ticks' builder).
_KINDS: dict[int, tuple[struct.Struct, _Build]] = {
    LTP_LENGTH: (struct.Struct(">HII"), _ltps),
    INDEX_QUOTE_LENGTH: (struct.Struct(">HIIIIIIi"), _index_quotes),
    INDEX_FULL_LENGTH: (struct.Struct(">HIIIIIIiI"), _index_fulls),
    QUOTE_LENGTH: (struct.Struct(">H11I"), _quotes),
    FULL_LENGTH: (struct.Struct(">H16I" + _DEPTH_ALL.format[1:]), _fulls),
}


def split_message(data: bytes) -> list[bytes]:
    """The complete packets of a binary message, in order (empty for a heartbeat); a packet that runs
    past the end of the message, and everything after it, is left out."""
    return [data[start:end] for start, end in _packet_bounds(data, len(data))]


def decode_packet(packet: bytes) -> Tick | None:
    """One packet by its length; None for a length Kite does not send."""
    kind = _KINDS.get(len(packet))
    if kind is None:
        return None
    item, build = kind
    (tick,) = build((item.unpack(_COUNT.pack(len(packet)) + packet),))
    return tick


def decode_message(data: bytes) -> list[Tick]:
    """Every tick of a binary message, in order (nothing for a heartbeat or unknown packet sizes). Never
    raises on a hostile message: a count or length that runs past the end decodes the complete packets
    before it and nothing after."""
    size = len(data)
    if size < 4:
        return []
    count = (data[0] << 8) | data[1]
    if count and (size - 2) % count == 0:
        stride = (size - 2) // count
        kind = _KINDS.get(stride - 2)
        # One length throughout only if every prefix says so: a mixed frame can have a uniform size.
        if kind is not None and data[2::stride] == bytes(count) and data[3::stride] == bytes((stride - 2,)) * count:
            item, build = kind
            return build(item.iter_unpack(memoryview(data)[2:]))
    # Mixed lengths: each run of packets of one kind is built together.
    ticks: list[Tick] = []
    run: list[tuple[int, ...]] = []
    run_build: _Build = _ltps
    for start, end in _packet_bounds(data, size):
        kind = _KINDS.get(end - start)
        if kind is not None:
            item, build = kind
            if build is not run_build:
                ticks += run_build(run)
                run, run_build = [], build
            run.append(item.unpack_from(data, start - 2))
    ticks += run_build(run)
    return ticks


def _packet_bounds(data: bytes, size: int) -> Iterator[tuple[int, int]]:
    """Where each complete packet of a message starts and ends, stopping at the first that overruns."""
    if size < 2:
        return
    offset = 2
    for _ in range((data[0] << 8) | data[1]):
        start = offset + 2
        if start > size:
            return
        offset = start + ((data[offset] << 8) | data[offset + 1])
        if offset > size:
            return
        yield start, offset
