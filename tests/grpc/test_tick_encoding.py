"""grpc/tick_encoding.py: the text a tick's price carries is the very text the rest of the API
sends for the same number (grpc/decimal_text.py), straight from the ticker's integers; and a tick's
bytes, written directly, are byte for byte what protobuf writes for the message built field by field."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from kite_gateway_api.v1 import market_data_pb2

from kite_gateway.grpc.decimal_text import format_decimal
from kite_gateway.grpc.tick_encoding import LEVELS, ProtoTickEncoding, price_text
from kite_wire.ticker_packets import Tick


@given(st.integers(-(10**12), 10**12), st.sampled_from([100, 10_000, 10_000_000]))
def test_a_tick_price_is_the_same_text_as_any_other_decimal_of_the_api(value: int, divisor: int) -> None:
    assert price_text(value, divisor) == format_decimal(Decimal(value) / divisor)


def test_tick_prices_read_as_people_write_them() -> None:
    assert [price_text(v, 100) for v in (156255, 156250, 156200, 5, 0, -1060)] == [
        "1562.55",
        "1562.5",
        "1562",
        "0.05",
        "0",
        "-10.6",
    ]
    assert price_text(83_512_500, 10_000_000) == "8.35125"


def reference_tick(raw: Tick, level: int, symbol: str, received_ns: int) -> market_data_pb2.Tick:
    """The tick at `level` built with protobuf field by field: what ProtoTickEncoding's bytes must equal."""
    d = raw.divisor
    tick = market_data_pb2.Tick(
        instrument_token=raw.instrument_token, symbol=symbol, mode=LEVELS[level], tradable=raw.tradable
    )
    tick.last_price.value = price_text(raw.last_price, d)
    tick.receive_time.seconds, tick.receive_time.nanos = divmod(received_ns, 1_000_000_000)
    if level == 0:
        return tick
    if raw.close or raw.open:
        for name in ("open", "high", "low", "close"):
            getattr(tick.ohlc, name).value = price_text(getattr(raw, name), d)
    if raw.close:
        change = raw.last_price - raw.close
        tick.change.value = price_text(change, d)
        magnitude = (abs(change) * 100 * 10_000 * 2 + raw.close) // (2 * raw.close)  # to 0.0001 %, half up
        tick.change_percent.value = price_text(-magnitude if change < 0 else magnitude, 10_000)
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
            for side, start in ((tick.depth.buy, 0), (tick.depth.sell, 15)):
                for i in range(start, start + 15, 3):
                    entry = side.add(quantity=raw.depth[i], orders=raw.depth[i + 2])
                    entry.price.value = price_text(raw.depth[i + 1], d)
    return tick


UINT32 = st.integers(0, 2**32 - 1)
TOKENS = st.sampled_from(
    [408065, 256265, 136330244, 3 | 1000 << 8, 6 | 1000 << 8, 12 | 1000 << 8]
)  # NSE, index, BSE, CDS, BCD, NCO


@st.composite
def ticks(draw: st.DrawFn) -> tuple[Tick, int]:
    mode = draw(st.sampled_from(["ltp", "quote", "full"]))
    fields = {
        name: draw(UINT32 if draw(st.booleans()) else st.integers(0, 200))
        for name in ("last_quantity", "average_price", "volume", "buy_quantity", "sell_quantity", "open", "high",
                     "low", "close", "last_trade_time", "oi", "oi_day_high", "oi_day_low", "exchange_timestamp")
    }  # fmt: skip
    price = draw(UINT32)
    level = st.tuples(UINT32, UINT32, st.integers(0, 2**16 - 1))  # quantity, price, orders (16 bits on the wire)
    depth = sum(draw(st.lists(level, min_size=10, max_size=10)), ()) if mode == "full" else ()
    raw = Tick(draw(TOKENS), price, mode, depth=depth, **fields)
    return raw, draw(st.integers(0, ("ltp", "quote", "full").index(mode)))


@given(ticks(), st.sampled_from(["", "NSE:INFY", "MCX:CRUDEOIL26DECFUT"]), st.integers(0, 2**62))
def test_a_ticks_bytes_are_what_protobuf_writes_for_it_field_by_field(
    tick_and_level: tuple[Tick, int], symbol: str, received_ns: int
) -> None:
    raw, level = tick_and_level
    encoding = ProtoTickEncoding()
    reference = market_data_pb2.TickBatch(ticks=[reference_tick(raw, level, symbol, received_ns)])
    for _ in range(2):  # the second time from what the encoding kept of the instrument
        entry = encoding.tick(raw, level, symbol, received_ns)
        assert market_data_pb2.TickBatch.FromString(entry) == reference
        assert entry == reference.SerializeToString()


def test_an_instruments_kept_encodings_follow_its_prices_and_its_close() -> None:
    encoding = ProtoTickEncoding()
    first = Tick(408065, 150025, "quote", close=149000, open=149500, high=151000, low=148000)
    later = Tick(408065, 150025, "quote", close=150000, open=150100, high=150200, low=149900)
    for raw in (first, later, first):
        entry = market_data_pb2.TickBatch.FromString(encoding.tick(raw, 1, "NSE:INFY", 5)).ticks[0]
        assert entry == reference_tick(raw, 1, "NSE:INFY", 5)
