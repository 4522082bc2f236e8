"""Decoded ticker packets as kite_gateway.v1 Tick messages, serialized once per instrument and level
by the tick hub (exact decimals straight from the wire integers), and StreamTicks frames built from
those bytes without parsing them again."""

from __future__ import annotations

from kite_gateway_api.v1 import common_pb2, market_data_pb2

from kite_gateway.streaming import UpstreamState
from kite_wire import Tick

LEVELS = (market_data_pb2.TICK_MODE_LTP, market_data_pb2.TICK_MODE_QUOTE, market_data_pb2.TICK_MODE_FULL)
NANO = 1_000_000_000
PERCENT_PLACES = 4  # change_percent to 0.0001 %, rounded half up
PERCENT_SCALE = 10**PERCENT_PLACES
MOVES_KEPT = 8  # an instrument's last prices whose encodings are kept (a third of ticks repeat one)
MAX_INSTRUMENTS = 200_000  # instruments whose fixed fields are kept (more than Kite's master lists)


def _fractions(divisor: int) -> list[str]:
    """ "" or "." and the digits without trailing zeros, for every remainder of `divisor`."""
    places = len(str(divisor)) - 1
    return [""] + [f".{part:0{places}d}".rstrip("0") for part in range(1, divisor)]


# The fractional parts of every price of the two common divisors (100: equities, F&O, MCX;
# 10,000: BSE currency and NSE commodity), so a price is a divmod, a str and a join.
_FRACTIONS = {100: _fractions(100), 10_000: _fractions(10_000)}


def price_text(value: int, divisor: int) -> str:
    """value / divisor in the shortest plain notation ("1562.55", "-0.5", "0"), from the integers."""
    if value < 0:
        return "-" + price_text(-value, divisor)
    whole, part = divmod(value, divisor)
    fractions = _FRACTIONS.get(divisor)
    if fractions is not None:
        return f"{whole}{fractions[part]}"
    if not part:
        return str(whole)
    return f"{whole}.{part:0{len(str(divisor)) - 1}d}".rstrip("0")


def varint(value: int) -> bytes:
    """Protobuf's base-128 varint (a negative int64 as its 64-bit two's complement, as protobuf writes it)."""
    if 0 <= value < _TABLED:
        return _VARINTS[value]
    if 0 < value < 1 << 28:
        return _LOW[value & 0x3FFF] + _VARINTS[value >> 14]
    value &= 0xFFFF_FFFF_FFFF_FFFF
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_TABLED = 1 << 14  # varints of up to two bytes come from a table, longer ones from two
_VARINTS = [bytes((i,)) for i in range(0x80)] + [bytes((i & 0x7F | 0x80, i >> 7)) for i in range(0x80, _TABLED)]
_LOW = [bytes((i & 0x7F | 0x80, i >> 7 | 0x80)) for i in range(_TABLED)]  # the low 14 bits of a longer one
_FRACTION_BYTES = {divisor: [part.encode() for part in parts] for divisor, parts in _FRACTIONS.items()}
_MODE = [b"\x18" + varint(mode) for mode in LEVELS]  # field 3, per level


def _price(value: int, divisor: int, fractions: list[bytes] | None) -> bytes:
    """The body of a google.type.Decimal holding value / divisor (its `value`, field 1): price_text
    as bytes, the common divisors by table. A price's text is far shorter than 126 bytes."""
    if fractions is not None and value >= 0:
        whole, part = divmod(value, divisor)
        text = b"%d%s" % (whole, fractions[part])
    else:
        text = price_text(value, divisor).encode()
    return b"\x0a%c%s" % (len(text), text)


def _field(tag: bytes, value: int) -> bytes:
    """A varint field (left out at 0, as protobuf leaves out a default)."""
    if not value:
        return b""
    return tag + varint(value)


def _message(tag: bytes, body: bytes) -> bytes:
    return tag + (_VARINTS[len(body)] if len(body) < _TABLED else varint(len(body))) + body


def _seconds(tag: bytes, seconds: int) -> bytes:
    """A google.protobuf.Timestamp field holding whole seconds."""
    return _message(tag, b"\x08" + varint(seconds))


class _Instrument:
    """What every tick of an instrument repeats (fields 1, 2, 4 and per level 3), its divisor and price
    table, and the encodings of what it had lately: its OHLC (which rarely moves) and, by last price,
    fields 5, 12 and 13 for its last MOVES_KEPT prices (its previous close is the day's: the same
    price, the same change). A few kB an instrument at most, whatever the day's prices."""

    __slots__ = ("close", "divisor", "fractions", "heads", "moves", "ohlc", "symbol", "tradable")

    def __init__(self, raw: Tick, symbol: str) -> None:
        self.symbol = symbol
        token, self.tradable = raw.instrument_token, raw.tradable
        fixed = (_field(b"\x08", token), _message(b"\x12", symbol.encode()) if symbol else b"")
        self.heads = [b"".join((*fixed, mode, b"\x20\x01" if self.tradable else b"")) for mode in _MODE]
        self.divisor = raw.divisor
        self.fractions = _FRACTION_BYTES.get(self.divisor)
        self.close = 0
        self.moves: dict[int, tuple[bytes, bytes]] = {}  # last price -> (field 5, fields 12 and 13)
        self.ohlc: tuple[tuple[int, int, int, int], bytes] = ((0, 0, 0, 0), b"")

    def move(self, last_price: int, close: int) -> tuple[bytes, bytes]:
        """Field 5 (last_price), and fields 12 and 13 (change, change_percent) when there is a close."""
        if close != self.close:
            self.close, self.moves = close, {}
        move = self.moves.get(last_price)
        if move is None:
            if len(self.moves) >= MOVES_KEPT:
                self.moves.clear()
            move = self.moves[last_price] = self._move(last_price, close)
        return move

    def _move(self, last_price: int, close: int) -> tuple[bytes, bytes]:
        d, fractions = self.divisor, self.fractions
        last = _price(last_price, d, fractions)
        if not close:
            return b"\x2a%c%s" % (len(last), last), b""
        change = last_price - close
        magnitude = (abs(change) * 200 * PERCENT_SCALE + close) // (2 * close)  # rounded half up
        moved = _price(change, d, fractions)
        percent = _price(-magnitude if change < 0 else magnitude, PERCENT_SCALE, _PERCENT_FRACTIONS)
        return b"\x2a%c%s" % (len(last), last), b"\x62%c%s\x6a%c%s" % (len(moved), moved, len(percent), percent)

    def ohlc_field(self, raw: Tick) -> bytes:
        """Field 11 (ohlc)."""
        key = (raw.open, raw.high, raw.low, raw.close)
        if key != self.ohlc[0]:
            d, fractions = self.divisor, self.fractions
            o, h, low, c = (_price(v, d, fractions) for v in key)
            ohlc = b"\x0a%c%s\x12%c%s\x1a%c%s\x22%c%s" % (len(o), o, len(h), h, len(low), low, len(c), c)
            self.ohlc = key, b"\x5a%c%s" % (len(ohlc), ohlc)  # four prices: under 128 bytes
        return self.ohlc[1]


def tick_bytes(raw: Tick, level: int, instrument: _Instrument, received: bytes) -> bytes:
    """The serialized kite_gateway.v1.Tick at `level` (never richer than what arrived), byte for byte
    what protobuf writes for the message built field by field: fields in number order, defaults left
    out, prices as exact decimal text. `received` is field 20 already encoded (one per frame)."""
    close = raw.close
    last, change = instrument.move(raw.last_price, close)
    if level == 0:
        return instrument.heads[0] + last + received
    tradable = instrument.tradable
    parts = [instrument.heads[level], last]
    if tradable:
        average = _price(raw.average_price, instrument.divisor, instrument.fractions)
        quantity, volume, bought, sold = raw.last_quantity, raw.volume, raw.buy_quantity, raw.sell_quantity
        parts += (
            b"\x30" + varint(quantity) if quantity else b"",
            b"\x3a%c%s" % (len(average), average),
            b"\x40" + varint(volume) if volume else b"",
            b"\x48" + varint(bought) if bought else b"",
            b"\x50" + varint(sold) if sold else b"",
        )
    if close or raw.open:
        parts.append(instrument.ohlc_field(raw))
    parts.append(change)
    if level == 2:
        if tradable:
            parts += (
                _seconds(b"\x72", raw.last_trade_time) if raw.last_trade_time else b"",
                _field(b"\x78", raw.oi),
                _field(b"\x80\x01", raw.oi_day_high),
                _field(b"\x88\x01", raw.oi_day_low),
            )
        if raw.exchange_timestamp:
            parts.append(_seconds(b"\x92\x01", raw.exchange_timestamp))
        if tradable:
            parts.append(_depth(raw.depth, instrument.divisor, instrument.fractions))
    parts.append(received)
    return b"".join(parts)


_PERCENT_FRACTIONS = _FRACTION_BYTES[PERCENT_SCALE]


def _depth(depth: tuple[int, ...], divisor: int, fractions: list[bytes] | None) -> bytes:
    """Field 19: five bids (MarketDepth.buy) then five offers (sell), each a DepthLevel."""
    levels = []
    for i in range(0, 30, 3):
        quantity, orders = depth[i], depth[i + 2]
        price = _price(depth[i + 1], divisor, fractions)
        body = b"\x0a%c%s%s%s" % (
            len(price),
            price,
            b"\x10" + varint(quantity) if quantity else b"",
            b"\x18" + varint(orders) if orders else b"",
        )
        levels.append(b"%c%c%s" % (0x0A if i < 15 else 0x12, len(body), body))  # a level: under 128 bytes
    return _message(b"\x9a\x01", b"".join(levels))


def receive_time_field(received_ns: int) -> bytes:
    """Field 20 (receive_time) of every tick of a frame received at `received_ns`."""
    seconds, nanos = divmod(received_ns, NANO)
    return _message(b"\xa2\x01", _field(b"\x08", seconds) + _field(b"\x10", nanos))


def ticks_frame(entries: list[bytes], conflated: int) -> bytes:
    """A StreamTicksResponse carrying a TickBatch (field 2) of pre-serialized ticks."""
    batch = b"".join(entries) + (b"\x10" + varint(conflated) if conflated else b"")
    return b"\x12" + varint(len(batch)) + batch


class ProtoTickEncoding:
    """The hub's TickEncoding for StreamTicks: ticks as TickBatch entries, notes as whole responses.
    What each instrument's ticks repeat is made once (for at most MAX_INSTRUMENTS instruments)."""

    def __init__(self) -> None:
        self._instruments: dict[int, _Instrument] = {}
        self._received = (-1, b"")  # the last frame's receive_time, encoded

    def tick(self, raw: Tick, level: int, symbol: str, received_ns: int) -> bytes:
        instrument = self._instruments.get(raw.instrument_token)
        if instrument is None or instrument.symbol != symbol:
            if len(self._instruments) >= MAX_INSTRUMENTS:
                self._instruments.clear()
            instrument = self._instruments[raw.instrument_token] = _Instrument(raw, symbol)
        if self._received[0] != received_ns:
            self._received = (received_ns, receive_time_field(received_ns))
        body = tick_bytes(raw, level, instrument, self._received[1])
        return b"\x0a" + varint(len(body)) + body  # an entry of TickBatch.ticks (field 1)

    def upstream_status(self, state: UpstreamState, message: str, at_ns: int) -> bytes:
        status = common_pb2.UpstreamStatus(state=int(state), message=message)  # type: ignore[arg-type]
        status.time.FromNanoseconds(at_ns)
        return market_data_pb2.StreamTicksResponse(upstream_status=status).SerializeToString()
