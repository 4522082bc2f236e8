"""The gateway's own cost per PlaceOrder: the latency of a placement through the gateway (the
idempotency record, the order queue, the pre-trade risk checks, the audit entry, the Kite call)
minus the latency of kiteconnect's place_order sent directly to the same simulator in the same run.

The simulator runs as `kite-gateway sim --no-rate-limits` (24x7 market), the gateway as `kite-gateway
serve` aimed at it with its client-side rate limits lifted (gateway_bench.start_gateway) and, for
the bench only, these settings so that pacing never holds a sequential caller back:

    KITE_GATEWAY_ORDERS_PER_SECOND=1000      (the SEBI/Kite per-account pacing: one order every 1 ms)
    KITE_GATEWAY_ORDER_CLOCK_SKEW=0          (no widening of that spacing)
    KITE_GATEWAY_ORDERS_PER_MINUTE=60000, KITE_GATEWAY_ORDERS_PER_DAY=10000000
    KITE_GATEWAY_RISK_FILE=<a file with every limit that needs no Kite call: allowed exchanges,
        products and instrument types, max_order_quantity, max_orders_per_minute = 60000>

so every order goes through the queue and the risk checks as in production, only never waits. The
limits that need the order's price or the account's positions (max_order_value, max_position_*)
cost a Kite call each (a quote, the positions) and are left out of the default figure;
`--price-limits` adds max_order_value to show what that call costs.

Orders: MARKET CNC buys of one share, the representative order of an algo: each fills at once in the
simulator, so the gateway also does its fill work (the order update from the ticker, the fill log)
while the next orders are placed, as it would in a session. The direct calls are made for another
user (ZS0002, not added to the gateway) so their fills cost the gateway nothing. Each gateway call
carries a fresh client_order_id, as the API requires of a new order. Calls are sequential (one
caller), alternating rounds of gateway and direct calls, repeated (--repeats) for the spread.

    .venv/bin/python bench/order_bench.py [--calls 300] [--repeats 3] [--price-limits]
        [--profile raw.txt [--wall]] [--stages]

--stages times each stage inside the gateway (bench/stages/sitecustomize.py: the idempotency
record's statements, the queue, the risk check, the Kite call, the audit entry, and every statement
on SQLite's thread), warm-up included; the wrappers cost a little, so its headline figures are not
the ones to quote.

--profile attaches py-spy (--gil, raw; with --wall: --idle --threads) to the gateway for the
measured rounds and writes its samples to the file (bench/profile_summary.py sums them by component).

Besides the percentiles, the gateway's own histograms (/metrics: the PlaceOrder handling time and
its Kite place_order call) split the mean of a placement into the gRPC layer and client, the
gateway's own work, and its Kite call (the transport) against the direct call.

The client is not what limits the figure: the gateway caller is one grpc.aio stub awaiting each call
(its own cost is measured by the `client_floor` round: the same stub calling a trivial gateway RPC,
GetKillSwitch, which reads nothing from Kite), and the direct caller is the official client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import grpc
import requests
from kite_gateway_api.v1 import account_pb2, account_pb2_grpc, common_pb2, order_pb2, order_pb2_grpc
from kiteconnect import KiteConnect

sys.path.insert(0, os.path.dirname(__file__))
from gateway_bench import SECRET, access_token, percentile, start_gateway
from simulator_bench import free_port, start_simulator, stop

GATEWAY_USER, DIRECT_USER = "ZS0001", "ZS0002"
BENCH_SETTINGS = {
    "KITE_GATEWAY_ORDERS_PER_SECOND": "1000",
    "KITE_GATEWAY_ORDER_CLOCK_SKEW": "0",
    "KITE_GATEWAY_ORDERS_PER_MINUTE": "60000",
    "KITE_GATEWAY_ORDERS_PER_DAY": "10000000",
}
RISK_LIMITS = """[default]
allowed_exchanges = ["NSE", "BSE"]
allowed_products = ["CNC", "MIS"]
allowed_instrument_types = ["EQ"]
max_order_quantity = 100
max_orders_per_minute = 60000
"""
PRICE_LIMIT = 'max_order_value = "100000000"\n'


def market_buy() -> order_pb2.OrderParams:
    return order_pb2.OrderParams(
        instrument=common_pb2.InstrumentRef(symbol="NSE:INFY"),
        transaction_type=common_pb2.TRANSACTION_TYPE_BUY,
        variety=common_pb2.VARIETY_REGULAR,
        order_type=common_pb2.ORDER_TYPE_MARKET,
        product=common_pb2.PRODUCT_CNC,
        quantity=1,
    )


class GatewayCaller:
    """PlaceOrder through the gateway, one call at a time, each with a new client_order_id."""

    def __init__(self, address: str) -> None:
        self.channel = grpc.aio.insecure_channel(address)
        self.stub = order_pb2_grpc.OrderServiceStub(self.channel)
        self.params = market_buy()
        self.count = 0

    async def place(self, calls: int) -> list[float]:
        out = []
        for _ in range(calls):
            self.count += 1
            request = order_pb2.PlaceOrderRequest(
                account_id=GATEWAY_USER, client_order_id=f"bench-{self.count}", params=self.params
            )
            started = time.perf_counter()
            reply = await self.stub.PlaceOrder(request)
            out.append(time.perf_counter() - started)
            assert reply.order_id and not reply.replayed
        return out

    async def floor(self, calls: int) -> list[float]:
        """The same stub's cost for a call the gateway answers from memory."""
        request = order_pb2.GetKillSwitchRequest(account_id=GATEWAY_USER)
        out = []
        for _ in range(calls):
            started = time.perf_counter()
            await self.stub.GetKillSwitch(request)
            out.append(time.perf_counter() - started)
        return out


def direct_place(kite: KiteConnect, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        kite.place_order(
            variety="regular", exchange="NSE", tradingsymbol="INFY", transaction_type="BUY", quantity=1,
            product="CNC", order_type="MARKET", market_protection=-1,
        )  # fmt: skip
        out.append(time.perf_counter() - started)
    return out


# The gateway's own histograms whose sums split a placement's time (Prometheus text, by line prefix).
SERVER_SECONDS = 'grpc_server_handling_seconds_{}{{grpc_method="PlaceOrder",'
KITE_SECONDS = 'kite_request_duration_seconds_{}{{endpoint_class="orders",method="place_order"}}'


def scrape(metrics_url: str) -> dict[str, float]:
    """Sum and count of the PlaceOrder handling time and of the Kite place_order call, from /metrics."""
    out = {}
    for line in requests.get(metrics_url, timeout=10).text.splitlines():
        for name, prefix in (("server", SERVER_SECONDS), ("kite", KITE_SECONDS)):
            for part in ("sum", "count"):
                if line.startswith(prefix.format(part)):
                    out[f"{name}_{part}"] = float(line.rsplit(" ", 1)[1])
    return out


def split(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Mean ms per placement in the gateway between two scrapes: handling it, and its Kite call."""
    count = after["server_count"] - before["server_count"]
    return {
        "server_mean": 1000 * (after["server_sum"] - before["server_sum"]) / count,
        "kite_call_mean": 1000 * (after["kite_sum"] - before["kite_sum"]) / count,
    }


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(values) * 1000, "p99": percentile(values, 0.99) * 1000}


def spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def start_profiler(pid: int, out: str, wall: bool) -> subprocess.Popen[bytes]:
    """py-spy on the gateway: CPU only (--gil), or every thread's wall time (--idle --threads)."""
    py_spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
    mode = ["--idle", "--threads"] if wall else ["--gil"]
    command = [py_spy, "record", "--pid", str(pid), *mode, "--format", "raw", "--rate", "250",
               "--output", out, "--nonblocking"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy's attach
    return proc


async def run(
    args: argparse.Namespace, address: str, metrics_url: str, kite: KiteConnect, gateway_pid: int
) -> dict[str, Any]:
    caller = GatewayCaller(address)
    await caller.place(30)  # warm-up: connections, instruments, the first day count
    direct_place(kite, 30)
    await caller.floor(30)
    rounds: list[dict[str, Any]] = []
    profiler = start_profiler(gateway_pid, args.profile, args.wall) if args.profile else None
    try:
        for _ in range(args.repeats):
            before = scrape(metrics_url)
            through = await caller.place(args.calls)
            inside = split(before, scrape(metrics_url))
            direct = await asyncio.to_thread(direct_place, kite, args.calls)
            floor = await caller.floor(args.calls)
            g, d = summary(through), summary(direct)
            rounds.append({
                "gateway": g, "direct": d, "client_floor": summary(floor),
                "overhead_p50": g["p50"] - d["p50"], "ratio_p50": g["p50"] / d["p50"],
                "gateway_mean": 1000 * statistics.fmean(through), "direct_mean": 1000 * statistics.fmean(direct),
                **inside,
            })  # fmt: skip
    finally:
        if profiler is not None:
            profiler.send_signal(2)
            profiler.wait(timeout=30)
        await caller.channel.close()
    return {
        "rounds": rounds,
        "overhead_p50_ms": spread([r["overhead_p50"] for r in rounds]),
        "ratio_p50": spread([r["ratio_p50"] for r in rounds]),
        "gateway_p50_ms": spread([r["gateway"]["p50"] for r in rounds]),
        "direct_p50_ms": spread([r["direct"]["p50"] for r in rounds]),
        "gateway_p99_ms": spread([r["gateway"]["p99"] for r in rounds]),
        "direct_p99_ms": spread([r["direct"]["p99"] for r in rounds]),
        "client_floor_p50_ms": spread([r["client_floor"]["p50"] for r in rounds]),
        # Means (ms) that split a placement: outside the handler (gRPC both ways, the client), the
        # gateway's own work in it, its Kite call (the transport: thread pool, kiteconnect, HTTP)
        # and that call against the direct one.
        "split_mean_ms": {
            "grpc_and_client": spread([r["gateway_mean"] - r["server_mean"] for r in rounds]),
            "gateway_own_work": spread([r["server_mean"] - r["kite_call_mean"] for r in rounds]),
            "kite_call_in_gateway": spread([r["kite_call_mean"] for r in rounds]),
            "kite_call_direct": spread([r["direct_mean"] for r in rounds]),
            "transport_extra": spread([r["kite_call_mean"] - r["direct_mean"] for r in rounds]),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300, help="placements per round and path")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--price-limits", action="store_true", help="add max_order_value (a quote per order)")
    parser.add_argument("--profile", help="py-spy raw samples of the gateway, to this file")
    parser.add_argument("--wall", action="store_true", help="profile wall time of every thread, not CPU (--gil)")
    parser.add_argument("--stages", action="store_true", help="time each stage in the gateway (bench/stages)")
    args = parser.parse_args()
    sim, ready = start_simulator()
    gateway: subprocess.Popen[str] | None = None
    with tempfile.TemporaryDirectory() as data_dir:
        risk_file = os.path.join(data_dir, "risk.toml")
        with open(risk_file, "w") as out:
            out.write(RISK_LIMITS + (PRICE_LIMIT if args.price_limits else ""))
        os.environ.update({**BENCH_SETTINGS, "KITE_GATEWAY_RISK_FILE": risk_file})
        stages = os.path.join(data_dir, "stages")
        if args.stages:  # the gateway (and simulator) load bench/stages/sitecustomize.py
            here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stages")
            os.environ.update(ORDER_STAGES=stages, PYTHONPATH=os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))
        try:
            http_port = free_port()
            gateway, address = start_gateway(ready, os.path.join(data_dir, "gateway"), http_port)
            with grpc.insecure_channel(address) as channel:
                account_pb2_grpc.AccountServiceStub(channel).AddAccount(
                    account_pb2.AddAccountRequest(
                        api_key=ready["api_key"], api_secret=SECRET, access_token=access_token(ready, GATEWAY_USER)
                    )
                )
            kite = KiteConnect(
                ready["api_key"], access_token=access_token(ready, DIRECT_USER), root=ready["api_endpoint"]
            )
            metrics_url = f"http://127.0.0.1:{http_port}/metrics"
            result = asyncio.run(run(args, address, metrics_url, kite, gateway.pid))
            if args.stages:
                time.sleep(1.5)  # the gateway writes them every second
                with open(f"{stages}.{gateway.pid}") as timed:
                    result["stages"] = json.load(timed)
        finally:
            stop(*(p for p in (gateway, sim) if p is not None))
    print(json.dumps(result, indent=2))
    o, r = result["overhead_p50_ms"], result["ratio_p50"]
    g, d = result["gateway_p50_ms"], result["direct_p50_ms"]
    print(
        f"PlaceOrder p50 over {args.repeats} rounds of {args.calls}: gateway {g['median']:.2f} ms vs direct "
        f"kiteconnect {d['median']:.2f} ms; overhead {o['median']:.2f} ms (min {o['min']:.2f}, max {o['max']:.2f}), "
        f"ratio {r['median']:.2f}; p99 {result['gateway_p99_ms']['median']:.2f} vs "
        f"{result['direct_p99_ms']['median']:.2f} ms; client floor {result['client_floor_p50_ms']['median']:.2f} ms"
    )
    for label, stage in result.get("stages", {}).items():
        print(
            f"  {label:60s} {stage['count']:6d} calls  mean {stage['mean_ms']:7.3f} ms  p50 {stage['p50_ms']:7.3f} ms"
        )
    print("Mean split (median of rounds): " + ", ".join(
        f"{name} {value['median']:.2f} ms" for name, value in result["split_mean_ms"].items()
    ))  # fmt: skip


if __name__ == "__main__":
    main()
