"""What an account costs a replica at Kite's real cadence, with 1, 2 and 3 replicas, and the embedded
gateway as the reference in the same run.

`--accounts` simulator users, each with its own Kite app (so each is its own lease, ticker
connection and order-update watch), logged in to a fresh gateway: first the embedded one (SQLite,
in-process fan-out), then a cluster of 1, 2 and 3 replicas (real PostgreSQL and NATS, lease ttl
6 s). The simulator sends a tick frame and moves every price once a second, as Kite does.

For each gateway, two windows of `--seconds`:
- idle: the accounts are held (leases renewed, ticker connections open), nobody subscribes;
- streaming: each account has one subscriber of `--instruments` instruments in QUOTE mode, opened
  on the replica owning the account (so that each tick's latency runs from its owner's receipt,
  Tick.receive_time, to the subscriber reading it, and a replica's CPU is what owning costs).

Per gateway process: CPU seconds per second (user + system, /proc), divided by the accounts it
owns: the CPU one account costs. Tick latency p50 and p99 over every tick of the window, against
a stated bound (`--bound-ms`, 100 ms: a tenth of Kite's one-second cadence). The projection
"accounts one core holds" is 1 / (CPU per account): what carries to a machine where each replica
has a core of its own. On this machine every process shares the same two cores (and the
simulator, the database, NATS and the subscribers run beside them), so adding replicas cannot add
capacity here; what the 1 / 2 / 3 comparison shows is whether an account costs the same however
many replicas share the accounts, i.e. whether the cluster's own cost (leases, NATS) grows with it.

    .venv/bin/python bench/accounts_per_replica.py [--accounts 60] [--instruments 50] [--seconds 20]
        [--replicas 1 2 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from kite_gateway_api.v1 import common_pb2, market_data_pb2, market_data_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster_support import (
    Embedded,
    SimProcess,
    backing_services,
    cpu_seconds,
    instrument_symbols,
    log_in,
    new_cluster,
    percentile,
    start_simulator,
    wait_for_balance,
)

LEASE_TTL = 6.0
SETTLE = 8.0  # seconds after the last login (idle) or subscription (streaming) before measuring


async def stream(
    address: str, account: str, symbols: list[str], measure_from: float, until: float, out: list[float]
) -> int:
    """One subscriber: the latency of every tick it reads in [measure_from, until) goes to `out`."""
    refs = [common_pb2.InstrumentRef(symbol=s) for s in symbols]
    mode = market_data_pb2.TICK_MODE_QUOTE
    request = market_data_pb2.StreamTicksRequest(account_id=account, instruments=refs, mode=mode)
    count = 0
    async with grpc.aio.insecure_channel(address) as channel:
        call = market_data_pb2_grpc.MarketDataServiceStub(channel).StreamTicks(request)
        while time.time() < until:
            try:
                async with asyncio.timeout(max(0.05, until - time.time())):
                    message = await call.read()
            except TimeoutError:
                break
            now = time.time()
            if message.WhichOneof("event") == "ticks" and now >= measure_from:
                for tick in message.ticks.ticks:
                    out.append(now - tick.receive_time.ToNanoseconds() / 1e9)
                count += len(message.ticks.ticks)
        call.cancel()
    return count


def cpu_rates(pids: dict[str, int], seconds: float) -> dict[str, float]:
    """CPU seconds per second of each process over the next `seconds` (blocking)."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(seconds)
    return {name: (cpu_seconds(pid) - before[name]) / seconds for name, pid in pids.items()}


async def measure(
    label: str, pids: dict[str, int], owner_of: dict[str, str], addresses: dict[str, str], symbols: list[str],
    seconds: float, others: dict[str, int],
) -> dict[str, Any]:  # fmt: skip
    """Idle then streaming windows for one gateway (its processes `pids`, by replica name)."""
    accounts = len(owner_of)
    owned = {name: sum(1 for o in owner_of.values() if o == name) for name in pids}
    await asyncio.sleep(SETTLE)
    idle = await asyncio.to_thread(cpu_rates, {**pids, **others}, seconds)
    latencies: list[float] = []
    measure_from = time.time() + SETTLE
    until = measure_from + seconds
    streams = [
        asyncio.create_task(stream(addresses[owner], account, symbols, measure_from, until, latencies))
        for account, owner in owner_of.items()
    ]
    await asyncio.sleep(max(0.0, measure_from - time.time()))
    busy = await asyncio.to_thread(cpu_rates, {**pids, **others}, seconds)
    delivered = sum(await asyncio.gather(*streams))
    result = {
        "gateway": label,
        "accounts": accounts,
        "owned": owned,
        "idle_cpu": idle,
        "streaming_cpu": busy,
        "idle_cpu_per_account": {n: idle[n] / owned[n] for n in pids if owned[n]},
        "streaming_cpu_per_account": {n: busy[n] / owned[n] for n in pids if owned[n]},
        "ticks_per_s": delivered / seconds,
        "latency_p50_ms": percentile(latencies, 0.5) * 1000,
        "latency_p99_ms": percentile(latencies, 0.99) * 1000,
        "latency_max_ms": max(latencies, default=float("nan")) * 1000,
    }
    gateway_idle = sum(idle[n] for n in pids) / accounts
    gateway_busy = sum(busy[n] for n in pids) / accounts
    result["gateway_idle_cpu_per_account"] = gateway_idle
    result["gateway_streaming_cpu_per_account"] = gateway_busy
    print(
        f"{label}: {accounts} accounts {owned}; idle: CPU {_rates(idle)}, {gateway_idle * 1000:.2f} ms/s per account; "
        f"streaming {len(symbols)} instruments each: {result['ticks_per_s']:.0f} ticks/s delivered, latency p50 "
        f"{result['latency_p50_ms']:.1f} ms p99 {result['latency_p99_ms']:.1f} ms "
        f"max {result['latency_max_ms']:.1f} ms, "
        f"CPU {_rates(busy)}, {gateway_busy * 1000:.2f} ms/s per account",
        flush=True,
    )
    return result


def _ratio(value: float, reference: float) -> float:
    return value / reference if reference else float("nan")


def _rates(rates: dict[str, float]) -> str:
    return ", ".join(f"{name} {rate * 100:.1f}%" for name, rate in rates.items())


async def embedded_run(sim: SimProcess, symbols: list[str], seconds: float) -> dict[str, Any]:
    embedded = await asyncio.to_thread(Embedded.start, sim)
    try:
        await log_in(sim, embedded.address, sim.users)
        owner_of = {u.user_id: "embedded" for u in sim.users}
        return await measure(
            "embedded", {"embedded": embedded.proc.pid}, owner_of, {"embedded": embedded.address}, symbols,
            seconds, {"simulator": sim.proc.pid},
        )  # fmt: skip
    finally:
        await asyncio.to_thread(embedded.stop)


async def cluster_run(
    sim: SimProcess, symbols: list[str], seconds: float, size: int, postgres: Any, nats: Any
) -> dict[str, Any]:
    database_url = postgres.new_database()
    with tempfile.TemporaryDirectory(prefix=f"kg-bench-accounts-{size}-") as directory:
        cluster = new_cluster(Path(directory), sim, database_url, nats.url, size, LEASE_TTL)
        try:
            await asyncio.to_thread(cluster.start)
            await log_in(sim, cluster.replicas[0].address, sim.users)
            by_key = await wait_for_balance(database_url, len(sim.users), size)
            owner_of = {u.user_id: by_key[u.api_key] for u in sim.users}
            pids = {r.name: r.proc.pid for r in cluster.replicas if r.proc is not None}
            addresses = {r.name: r.address for r in cluster.replicas}
            others = {"simulator": sim.proc.pid}
            if nats.process is not None:
                others["nats"] = nats.process.pid
            return await measure(f"cluster of {size}", pids, owner_of, addresses, symbols, seconds, others)
        except BaseException:
            print(cluster.logs(), file=sys.stderr)
            raise
        finally:
            await asyncio.to_thread(cluster.stop)
            postgres.drop_database(database_url)


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    with backing_services() as (postgres, nats):
        for size in [0, *args.replicas]:  # 0: the embedded gateway
            sim = start_simulator(args.accounts)  # a fresh simulator: no session of the previous gateway
            try:
                symbols = await instrument_symbols(sim, args.instruments)
                if size == 0:
                    results.append(await embedded_run(sim, symbols, args.seconds))
                else:
                    results.append(await cluster_run(sim, symbols, args.seconds, size, postgres, nats))
            finally:
                sim.stop()
    reference = results[0]
    print(f"---- CPU per account (ms of CPU per second), bound on tick latency p99: {args.bound_ms:.0f} ms")
    for result in results:
        per = result["gateway_streaming_cpu_per_account"]
        per_idle = result["gateway_idle_cpu_per_account"]
        busy_ratio = _ratio(per, reference["gateway_streaming_cpu_per_account"])
        idle_ratio = _ratio(per_idle, reference["gateway_idle_cpu_per_account"])
        print(
            f"{result['gateway']}: streaming {per * 1000:.2f} (x{busy_ratio:.2f} "
            f"of embedded), idle {per_idle * 1000:.2f} (x{idle_ratio:.2f}); "
            f"one core would hold about {_ratio(1, per):.0f} streaming accounts; p99 {result['latency_p99_ms']:.1f} ms "
            f"({'within' if result['latency_p99_ms'] < args.bound_ms else 'OVER'} the bound) at {result['accounts']} "
            f"accounts; replicas' shares of the CPU: "
            + ", ".join(f"{n} {v * 1000:.2f} ms/s per account" for n, v in result["streaming_cpu_per_account"].items())
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=60)
    parser.add_argument("--instruments", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--bound-ms", type=float, default=100.0)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
