"""Tick encoding throughput: decoded ticks to the serialized kite_gateway.v1 Tick entries a
StreamTicks frame carries (grpc/tick_encoding.py's ProtoTickEncoding, once per instrument and level;
the encoding keeps what an instrument's ticks repeat, so every round after the first is the steady
state of a live feed), against the
official kiteconnect parser decoding the same frames in the same run (3000 instruments per mode).

    .venv/bin/python bench/tick_encoding_bench.py [--seconds 3]

The ratio is encoded ticks/s over the official parser's parsed ticks/s: above 1, encoding a tick
for subscribers costs less than the official client spends only reading it. Each rate is the best
of ten windows of process CPU time, so that other work on the machine does not decide the figure.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from decoder_bench import frames  # bench/ is the script directory
from kiteconnect import KiteTicker

from kite_gateway.grpc.tick_encoding import ProtoTickEncoding
from kite_wire.ticker_packets import decode_message

LEVEL = {"ltp": 0, "quote": 1, "full": 2}


def rate(work: Callable[[], int], seconds: float, windows: int = 10) -> float:
    """The best rate over several short windows of CPU time: on a machine other processes are
    using, the best window is the one least disturbed by them."""
    best = 0.0
    for _ in range(windows):
        done, started = 0, time.process_time()
        while time.process_time() - started < seconds / windows:
            done += work()
        best = max(best, done / (time.process_time() - started))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    official = KiteTicker("key", "token")
    for mode in ("ltp", "quote", "full"):
        messages = frames(mode)
        ticks: list[Any] = [tick for message in messages for tick in decode_message(message)]
        level = LEVEL[mode]

        encoding = ProtoTickEncoding()

        def encode(ticks: list[Any] = ticks, level: int = level, encoding: ProtoTickEncoding = encoding) -> int:
            for tick in ticks:
                encoding.tick(tick, level, "NSE:X", 1_700_000_000_000_000_000)
            return len(ticks)

        def parse(messages: list[bytes] = messages) -> int:
            return sum(len(official._parse_binary(message)) for message in messages)

        ours, theirs = rate(encode, args.seconds), rate(parse, args.seconds)
        print(
            f"{mode:>5}: gateway encoding {ours:,.0f} ticks/s vs official parser {theirs:,.0f} ticks/s "
            f"(ratio {ours / theirs:.2f})"
        )


if __name__ == "__main__":
    main()
