"""Ticker decode throughput: the gateway's decoder against the official kiteconnect parser
(KiteTicker._parse_binary) on the same frames in the same run, in the frames Kite sends: 3000
instruments a subscription, 100 packets a frame, and one frame of all 3000. Cases: each mode of
tradable instruments (ltp 8 bytes, quote 44, full 184), indices (quote 28, full 32), and a quote or
full subscription with an index every 20 packets (mixed lengths in a frame). Each case is measured
`--repeats` times, ours then official each time, and the ratio's min/median/max is printed.

    .venv/bin/python bench/decoder_bench.py [--seconds 0.5] [--repeats 3] [--freeze-heap]

The last column is the share of each decoder's CPU time the cyclic garbage collector took: our Ticks
are objects it tracks, the official parser's dicts of numbers are not.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from kiteconnect import KiteTicker

from kite_simulator.market import MarketModel
from kite_simulator.universe import build_universe
from kite_wire.formats import IST
from kite_wire.market_hours import MarketHours
from kite_wire.ticker_packets import MODE_FULL, MODE_LTP, MODE_QUOTE, Tick, decode_message, encode_packet, frame

INSTRUMENTS = 3000
PER_FRAME = 100
INDEX_EVERY = 20


@cache
def snapshots() -> tuple[list[Tick], list[Tick]]:
    """3000 tradable instruments' ticks and 3000 indices' (the universe cycled, moments apart)."""
    day = date(2026, 11, 24)
    market = MarketModel(1, day, MarketHours())
    moment = datetime(2026, 11, 24, 11, 0, tzinfo=IST)
    universe = list(build_universe(1, day))
    tradables = [i for i in universe if i.tradable]
    indices = [i for i in universe if not i.tradable]

    def ticks(instruments: Sequence[Any]) -> list[Tick]:
        return [
            market.quote(instruments[n % len(instruments)], moment + timedelta(seconds=n % 7 + n // 500)).snapshot()
            for n in range(INSTRUMENTS)
        ]

    return ticks(tradables), ticks(indices)


def framed(packets: list[bytes], per_frame: int) -> list[bytes]:
    return [frame(packets[start : start + per_frame]) for start in range(0, len(packets), per_frame)]


def frames(mode: str, per_frame: int = PER_FRAME) -> list[bytes]:
    """The 3000 tradable instruments' packets in a mode, `per_frame` packets a frame."""
    return framed([encode_packet(tick, mode) for tick in snapshots()[0]], per_frame)


def cases() -> list[tuple[str, list[bytes]]]:
    """Each case's name and frames."""
    tradable, index = snapshots()

    def mixed(mode: str) -> list[bytes]:
        return [encode_packet(index[n] if n % INDEX_EVERY == 0 else tradable[n], mode) for n in range(INSTRUMENTS)]

    out = []
    for mode in (MODE_LTP, MODE_QUOTE, MODE_FULL):
        out.append((f"{mode} x{PER_FRAME}", frames(mode)))
    for mode in (MODE_QUOTE, MODE_FULL):
        out.append((f"index {mode} x{PER_FRAME}", framed([encode_packet(t, mode) for t in index], PER_FRAME)))
    for mode in (MODE_QUOTE, MODE_FULL):
        out.append((f"{mode}+index x{PER_FRAME}", framed(mixed(mode), PER_FRAME)))
    for mode in (MODE_LTP, MODE_QUOTE, MODE_FULL):
        out.append((f"{mode} x{INSTRUMENTS}", frames(mode, INSTRUMENTS)))
    return out


class GcClock:
    """The CPU time the cyclic garbage collector takes while it is on (gc.callbacks)."""

    def __init__(self) -> None:
        self.spent = 0.0
        self._started = 0.0

    def __enter__(self) -> GcClock:
        gc.callbacks.append(self._phase)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._phase)

    def _phase(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.spent += time.process_time() - self._started


def rate(decode: Callable[[bytes], list[Any]], messages: list[bytes], seconds: float) -> tuple[float, float]:
    """Ticks decoded per second of this process's CPU time (so that other work on the machine is not
    counted), decoding the messages over and over for about `seconds`; and the share of that time the
    garbage collector took."""
    ticks, started = 0, time.process_time()
    with GcClock() as collector:
        while time.process_time() - started < seconds:
            for message in messages:
                ticks += len(decode(message))
    elapsed = time.process_time() - started
    return ticks / elapsed, collector.spent / elapsed


def harness_overhead(messages: list[bytes], seconds: float) -> float:
    """What the measuring loop itself costs per frame, in seconds (a decoder that returns a ready list)."""
    ready = [0] * PER_FRAME
    frames_per_s = rate(lambda _: ready, messages, seconds)[0] / PER_FRAME
    return 1 / frames_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=0.5, help="per measurement of one decoder")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--freeze-heap",
        action="store_true",
        help="gc.freeze() once the frames are built, as a process that freezes its startup heap",
    )
    args = parser.parse_args()
    official = KiteTicker("key", "token")
    all_cases = cases()
    if args.freeze_heap:
        gc.freeze()
    overhead = harness_overhead(all_cases[0][1], args.seconds)
    print(f"harness: {overhead * 1e9:,.0f} ns per frame (the same loop for both decoders)")
    print(f"heap: {len(gc.get_objects()):,} objects tracked by the garbage collector, frozen: {args.freeze_heap}")
    print(f"{'case':>16}  {'ours ticks/s':>13}  {'official':>11}  {'ratio min / median / max':>24}  gc ours/official")
    for name, messages in all_cases:
        ours, theirs = [], []
        for _ in range(args.repeats):
            ours.append(rate(decode_message, messages, args.seconds))
            theirs.append(rate(official._parse_binary, messages, args.seconds))
        ratios = sorted(a[0] / b[0] for a, b in zip(ours, theirs, strict=True))
        gc_ours, gc_theirs = statistics.median(r[1] for r in ours), statistics.median(r[1] for r in theirs)
        print(
            f"{name:>16}  {statistics.median(r[0] for r in ours):>13,.0f}  "
            f"{statistics.median(r[0] for r in theirs):>11,.0f}  "
            f"{f'{ratios[0]:.2f} / {statistics.median(ratios):.2f} / {ratios[-1]:.2f}':>24}  "
            f"{gc_ours:.0%} / {gc_theirs:.0%}"
        )


if __name__ == "__main__":
    main()
