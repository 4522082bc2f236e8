"""The automatic exits as kite_gateway.v1 messages (GetExitStatus), and the last price of a tick
as the tick hub shares it (the exits' price feed reads the same bytes as StreamTicks)."""

from __future__ import annotations

from decimal import Decimal

from kite_gateway_api.v1 import market_data_pb2


def tick_price(entry: bytes) -> tuple[int, Decimal] | None:
    """(instrument token, last price) of a TickBatch entry made by ProtoTickEncoding.tick (field 1:
    tag, varint length, Tick bytes); None for anything else."""
    if not entry or entry[0] != 0x0A:
        return None
    length, shift, at = 0, 0, 1
    while at < len(entry):
        byte = entry[at]
        length |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            break
        shift += 7
    tick = market_data_pb2.Tick.FromString(entry[at : at + length])
    if not tick.last_price.value:
        return None
    return tick.instrument_token, Decimal(tick.last_price.value)
