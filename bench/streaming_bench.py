"""Tick fan-out: a full 3000-instrument subscription delivered to 1, 10 and 100 subscribers.

For each count: ticks/s delivered to all subscribers together; end-to-end latency from the gateway
receiving the upstream frame (Tick.receive_time) to the subscriber reading it, p50 and p99; the
gateway's memory per subscriber (RSS growth over the idle gateway); and, as the same-run reference,
each subscriber's share of the upstream's ticks it received rather than had conflated
(delivered / (delivered + conflated), from ListSubscriptions).

The simulator moves every price every 100 ms (`kite-gateway sim --tick-interval 0.1 --step-seconds
0.1`); simulator, gateway and subscribers share the machine.

With `--processes N` the subscribers are spread over N client processes (one client process is
the limit at 100 subscribers); with `--slow` each run adds one subscriber that reads a message
every 200 ms, and reports its delivered share beside the others' (whose latency it must not hurt).

    .venv/bin/python bench/streaming_bench.py [--seconds 5] [--counts 1 10 100] [--processes 1] [--slow]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import grpc
import requests
from kite_gateway_api.v1 import account_pb2, account_pb2_grpc, common_pb2, market_data_pb2, market_data_pb2_grpc

sys.path.insert(0, os.path.dirname(__file__))
from gateway_bench import SECRET, access_token, start_gateway
from simulator_bench import start_simulator, stop

Outcome = tuple[int, list[float], list[float], list[float]]  # delivered, latencies, shares, slow share


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


async def consume_group(
    address: str, symbols: list[str], count: int, measure_from: float, until: float, slow: bool
) -> Outcome:
    """`count` subscribers in this process: open them, wait for `measure_from`, count ticks until
    `until`; latency sampled on the first three. With `slow`, the first one is a deliberately slow
    reader (a message every 200 ms) and is neither counted nor sampled."""
    refs = [common_pb2.InstrumentRef(symbol=s) for s in symbols]
    latencies: list[float] = []
    delivered = 0
    async with grpc.aio.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)]) as channel:
        stub = market_data_pb2_grpc.MarketDataServiceStub(channel)
        request = market_data_pb2.StreamTicksRequest(
            account_id="ZS0001", instruments=refs, mode=market_data_pb2.TICK_MODE_QUOTE
        )
        calls = [stub.StreamTicks(request) for _ in range(count)]
        ids = [(await call.read()).started.subscription_id for call in calls]

        async def consume(call: Any, n: int) -> None:
            nonlocal delivered
            while time.time() < until:
                message = await call.read()
                if slow and n == 0:
                    await asyncio.sleep(0.2)
                    continue
                if message.WhichOneof("event") != "ticks" or time.time() < measure_from:
                    continue
                now = time.time()
                delivered += len(message.ticks.ticks)
                if n < 3 + slow:
                    latencies.extend(now - t.receive_time.ToNanoseconds() / 1e9 for t in message.ticks.ticks[::50])

        await asyncio.gather(*(consume(call, n) for n, call in enumerate(calls)))
        listed = await stub.ListSubscriptions(market_data_pb2.ListSubscriptionsRequest(account_id="ZS0001"))
        for call in calls:
            call.cancel()
    shares = {
        s.subscription_id: s.delivered_ticks / max(1, s.delivered_ticks + s.conflated_ticks)
        for s in listed.subscriptions
    }
    slow_share = [shares.pop(ids[0])] if slow else []
    return delivered, latencies, list(shares.values()), slow_share


def group_in_process(args: tuple[str, list[str], int, float, float, bool]) -> Outcome:
    return asyncio.run(consume_group(*args))


def run(
    address: str, symbols: list[str], count: int, seconds: float, gateway_pid: int, processes: int, slow: bool
) -> dict[str, Any]:
    """`count` subscribers spread over `processes` client processes (plus one slow one if asked)."""
    before = rss_kib(gateway_pid)
    warm_up = 3.0 + count / 20  # open the streams, first snapshots, upstream settles
    measure_from = time.time() + warm_up
    until = measure_from + seconds
    shares = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
    jobs = [
        (address, symbols, share + (slow and i == 0), measure_from, until, slow and i == 0)
        for i, share in enumerate(shares)
        if share
    ]
    with ProcessPoolExecutor(len(jobs), mp_context=multiprocessing.get_context("spawn")) as pool:
        results = pool.map(group_in_process, jobs)
        time.sleep(max(0.0, until - 1.0 - time.time()))
        during = rss_kib(gateway_pid)
        outcomes = list(results)
    delivered = sum(o[0] for o in outcomes)
    latencies = sorted(x for o in outcomes for x in o[1])
    fractions = [x for o in outcomes for x in o[2]]
    slowest = next((x for o in outcomes for x in o[3]), float("nan"))
    return {
        "subscribers": count,
        "ticks_per_second": delivered / seconds,
        "latency_p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "latency_p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1000 if latencies else float("nan"),
        "memory_per_subscriber_kib": (during - before) / (count + slow),
        "delivered_share": statistics.mean(fractions) if fractions else float("nan"),
        "slow_share": slowest,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--processes", type=int, default=1, help="client processes the subscribers are spread over")
    parser.add_argument("--slow", action="store_true", help="add one deliberately slow subscriber to each run")
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
                processes = min(args.processes, count)
                result = run(address, symbols, count, args.seconds, gateway.pid, processes, args.slow)
                print(
                    f"{count:>3} subscriber(s) in {processes} process(es): {result['ticks_per_second']:,.0f} ticks/s "
                    f"delivered, latency p50 {result['latency_p50_ms']:.1f} ms p99 {result['latency_p99_ms']:.1f} ms, "
                    f"{result['memory_per_subscriber_kib']:.0f} KiB per subscriber, "
                    f"{result['delivered_share']:.2f} of upstream ticks delivered (rest conflated)"
                    + (f"; the slow subscriber got {result['slow_share']:.3f}" if args.slow else "")
                )
    finally:
        stop(*(p for p in (gateway, sim) if p is not None))


if __name__ == "__main__":
    main()
