"""Tick fan-out: a full 3000-instrument subscription delivered to 1, 10 and 100 subscribers.

For each count: ticks/s delivered to all subscribers together; end-to-end latency from the gateway
receiving the upstream frame (Tick.receive_time) to the subscriber reading it, p50 and p99; the
gateway's memory per subscriber (RSS growth over the idle gateway); and, as the same-run reference,
each subscriber's share of the upstream's ticks it received rather than had conflated
(delivered / (delivered + conflated), from ListSubscriptions).

The simulator moves every price every 100 ms (`kite-gateway sim --tick-interval 0.1 --step-seconds
0.1`); simulator, gateway and subscribers share the machine.

    .venv/bin/python bench/streaming_bench.py [--seconds 5] [--counts 1 10 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import grpc
import requests

from kite_gateway.v1 import account_pb2, account_pb2_grpc, common_pb2, market_data_pb2, market_data_pb2_grpc

sys.path.insert(0, os.path.dirname(__file__))
from gateway_bench import SECRET, access_token, start_gateway
from simulator_bench import start_simulator, stop


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


async def run(address: str, symbols: list[str], count: int, seconds: float, gateway_pid: int) -> dict[str, Any]:
    refs = [common_pb2.InstrumentRef(symbol=s) for s in symbols]
    latencies: list[float] = []
    delivered = 0
    async with grpc.aio.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)]) as channel:
        stub = market_data_pb2_grpc.MarketDataServiceStub(channel)
        before = rss_kib(gateway_pid)
        calls = [
            stub.StreamTicks(
                market_data_pb2.StreamTicksRequest(
                    account_id="ZS0001", instruments=refs, mode=market_data_pb2.TICK_MODE_QUOTE
                )
            )
            for _ in range(count)
        ]
        for call in calls:
            await call.read()  # SubscriptionStarted
        await asyncio.sleep(2.0)  # warm up: first snapshots, upstream settles
        during = rss_kib(gateway_pid)
        deadline = time.time() + seconds

        async def consume(call: Any, sample: bool) -> None:
            nonlocal delivered
            while time.time() < deadline:
                message = await call.read()
                if message.WhichOneof("event") != "ticks":
                    continue
                now = time.time()
                delivered += len(message.ticks.ticks)
                if sample:
                    latencies.extend(now - t.receive_time.ToNanoseconds() / 1e9 for t in message.ticks.ticks[::50])

        started = time.time()
        await asyncio.gather(*(consume(call, n < 3) for n, call in enumerate(calls)))
        elapsed = time.time() - started
        listed = await stub.ListSubscriptions(market_data_pb2.ListSubscriptionsRequest(account_id="ZS0001"))
        shares = [s.delivered_ticks / max(1, s.delivered_ticks + s.conflated_ticks) for s in listed.subscriptions]
        for call in calls:
            call.cancel()
    latencies.sort()
    return {
        "subscribers": count,
        "ticks_per_second": delivered / elapsed,
        "latency_p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "latency_p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1000 if latencies else float("nan"),
        "memory_per_subscriber_kib": (during - before) / count,
        "delivered_share": statistics.mean(shares) if shares else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 10, 100])
    args = parser.parse_args()
    sim, ready = start_simulator("--tick-interval", "0.1", "--step-seconds", "0.1")
    gateway = None
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            gateway, address = start_gateway(ready, data_dir)
            with grpc.insecure_channel(address) as channel:
                account_pb2_grpc.AccountServiceStub(channel).AddAccount(
                    account_pb2.AddAccountRequest(
                        api_key=ready["api_key"], api_secret=SECRET, access_token=access_token(ready, "ZS0001")
                    )
                )
            dump = requests.get(f"{ready['api_endpoint']}/instruments", headers={"X-Kite-Version": "3"}, timeout=30)
            rows = [line.split(",") for line in dump.text.splitlines()[1:]]
            symbols = [f"{row[-1]}:{row[2]}" for row in rows if row[-2] != "INDICES"][:3000]
            print(f"subscription: {len(symbols)} instruments")
            for count in args.counts:
                result = asyncio.run(run(address, symbols, count, args.seconds, gateway.pid))
                print(
                    f"{count:>3} subscriber(s): {result['ticks_per_second']:,.0f} ticks/s delivered, latency p50 "
                    f"{result['latency_p50_ms']:.1f} ms p99 {result['latency_p99_ms']:.1f} ms, "
                    f"{result['memory_per_subscriber_kib']:.0f} KiB per subscriber, "
                    f"{result['delivered_share']:.2f} of upstream ticks delivered (rest conflated)"
                )
    finally:
        stop(*(p for p in (gateway, sim) if p is not None))


if __name__ == "__main__":
    main()
