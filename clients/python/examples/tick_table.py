"""A live table of ticks: last price, change, volume and best bid/offer per instrument.

    .venv/bin/python clients/python/examples/tick_table.py --target 127.0.0.1:50051 [--token-file F]
        [--account ZS0001] [--seconds 0] NSE:INFY NSE:TCS NSE:RELIANCE

Redraws in place on a terminal (plain lines otherwise); --seconds stops it after that long.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path

from kite_gateway_api.v1 import market_data_pb2
from kite_gateway_client import AsyncGatewayClient, to_decimal


def render(latest: dict[str, market_data_pb2.Tick]) -> str:
    lines = [f"{'instrument':<22}{'last':>12}{'change %':>10}{'volume':>14}{'bid':>12}{'offer':>12}"]
    for symbol in sorted(latest):
        tick = latest[symbol]
        bid = to_decimal(tick.depth.buy[0].price) if tick.depth.buy else ""
        offer = to_decimal(tick.depth.sell[0].price) if tick.depth.sell else ""
        lines.append(
            f"{symbol:<22}{to_decimal(tick.last_price):>12}{to_decimal(tick.change_percent):>10.2f}"
            f"{tick.volume:>14}{bid!s:>12}{offer!s:>12}"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> None:
    token = args.token_file.read_text().strip() if args.token_file else None
    latest: dict[str, market_data_pb2.Tick] = {}
    started, drawn = time.monotonic(), 0.0
    async with AsyncGatewayClient(args.target, token) as client:
        async for tick in client.ticks(args.account, args.symbols, market_data_pb2.TICK_MODE_FULL):
            latest[tick.symbol] = tick
            now = time.monotonic()
            if now - drawn >= 0.5:
                drawn = now
                table = render(latest)
                print(("\x1b[H\x1b[2J" if sys.stdout.isatty() else "") + table, flush=True)
            if args.seconds and now - started >= args.seconds:
                return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="127.0.0.1:50051")
    parser.add_argument("--token-file", type=Path, help="file holding the bearer token")
    parser.add_argument("--account", default="ZS0001")
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this long (0: run until Ctrl-C)")
    parser.add_argument("symbols", nargs="+")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
