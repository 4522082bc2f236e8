"""Ticker decode throughput: the gateway's decoder against the official kiteconnect parser on the
same frames in the same run (3000 instruments per mode, as a full subscription delivers them).

    .venv/bin/python bench/decoder_bench.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from kiteconnect import KiteTicker

from kite_simulator.market import MarketModel
from kite_simulator.universe import build_universe
from kite_wire.formats import IST
from kite_wire.market_hours import MarketHours
from kite_wire.ticker_packets import decode_message, encode_packet, frame


def frames(mode: str) -> list[bytes]:
    day = date(2026, 11, 24)
    market = MarketModel(1, day, MarketHours())
    moment = datetime(2026, 11, 24, 11, 0, tzinfo=IST)
    instruments = [i for i in build_universe(1, day) if i.tradable][:3000]
    packets = [
        encode_packet(market.quote(i, moment + timedelta(seconds=n % 7)).snapshot(), mode)
        for n, i in enumerate(instruments)
    ]
    return [frame(packets[start : start + 100]) for start in range(0, len(packets), 100)]


def rate(decode: Callable[[bytes], list[Any]], messages: list[bytes], seconds: float) -> float:
    ticks, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for message in messages:
            ticks += len(decode(message))
    return ticks / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    official = KiteTicker("key", "token")
    for mode in ("ltp", "quote", "full"):
        messages = frames(mode)
        ours = rate(decode_message, messages, args.seconds)
        theirs = rate(official._parse_binary, messages, args.seconds)
        print(
            f"{mode:>5}: gateway decoder {ours:,.0f} ticks/s vs official parser {theirs:,.0f} ticks/s "
            f"(ratio {ours / theirs:.2f})"
        )


if __name__ == "__main__":
    main()
