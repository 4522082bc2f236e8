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


def tick_message(raw: Tick, level: int, symbol: str, received_ns: int) -> market_data_pb2.Tick:
    """The tick at `level` (the hub never asks for more than what arrived)."""
    d = raw.divisor
    tick = market_data_pb2.Tick(
        instrument_token=raw.instrument_token, symbol=symbol, mode=LEVELS[level], tradable=raw.tradable
    )
    tick.last_price.value = price_text(raw.last_price, d)
    received = tick.receive_time
    received.seconds, received.nanos = divmod(received_ns, NANO)
    if level == 0:
        return tick
    if raw.close or raw.open:
        ohlc = tick.ohlc
        ohlc.open.value = price_text(raw.open, d)
        ohlc.high.value = price_text(raw.high, d)
        ohlc.low.value = price_text(raw.low, d)
        ohlc.close.value = price_text(raw.close, d)
    if raw.close:
        change = raw.last_price - raw.close
        tick.change.value = price_text(change, d)
        scale = 10**PERCENT_PLACES
        magnitude = (abs(change) * 100 * scale * 2 + raw.close) // (2 * raw.close)  # rounded half up
        tick.change_percent.value = price_text(-magnitude if change < 0 else magnitude, scale)
    if raw.tradable:
        tick.last_quantity, tick.volume = raw.last_quantity, raw.volume
        tick.buy_quantity, tick.sell_quantity = raw.buy_quantity, raw.sell_quantity
        tick.average_price.value = price_text(raw.average_price, d)
    if level == 2:
        if raw.exchange_timestamp:
            tick.exchange_time.seconds = raw.exchange_timestamp
        if raw.tradable:
            if raw.last_trade_time:
                tick.last_trade_time.seconds = raw.last_trade_time
            tick.oi, tick.oi_day_high, tick.oi_day_low = raw.oi, raw.oi_day_high, raw.oi_day_low
            depth, fractions = raw.depth, _FRACTIONS.get(d)
            for side, start in ((tick.depth.buy, 0), (tick.depth.sell, 15)):
                for i in range(start, start + 15, 3):
                    price = depth[i + 1]
                    if fractions is not None:  # price_text inlined: ten of these per tick
                        whole, part = divmod(price, d)
                        text = f"{whole}{fractions[part]}"
                    else:
                        text = price_text(price, d)
                    side.add(quantity=depth[i], orders=depth[i + 2]).price.value = text
    return tick


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tick_entry(tick: market_data_pb2.Tick) -> bytes:
    """The tick as one element of TickBatch.ticks (field 1): tag, length, bytes."""
    body = tick.SerializeToString()
    return b"\x0a" + varint(len(body)) + body


def ticks_frame(entries: list[bytes], conflated: int) -> bytes:
    """A StreamTicksResponse carrying a TickBatch (field 2) of pre-serialized ticks."""
    batch = b"".join(entries) + (b"\x10" + varint(conflated) if conflated else b"")
    return b"\x12" + varint(len(batch)) + batch


class ProtoTickEncoding:
    """The hub's TickEncoding for StreamTicks: ticks as TickBatch entries, notes as whole responses."""

    def tick(self, raw: Tick, level: int, symbol: str, received_ns: int) -> bytes:
        return tick_entry(tick_message(raw, level, symbol, received_ns))

    def upstream_status(self, state: UpstreamState, message: str, at_ns: int) -> bytes:
        status = common_pb2.UpstreamStatus(state=int(state), message=message)  # type: ignore[arg-type]
        status.time.FromNanoseconds(at_ns)
        return market_data_pb2.StreamTicksResponse(upstream_status=status).SerializeToString()
