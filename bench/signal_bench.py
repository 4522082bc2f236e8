"""Signal-to-first-order latency through the gateway: SignalService.SubmitSignal against
OrderService.PlaceOrder of the same instrument and quantity, measured interleaved in the same run.

The simulator and the gateway run as separate processes, as in bench/gateway_bench.py (rate limits
off in the simulator, the gateway's client-side limits and Kite's per-user order caps lifted), with
a strategies file of two strategies, both fixed sizing of 1, MARKET, no budget, no approval: `one`
on one demo account, `two` on two. For each strategy, `--calls` signals (a new signal_id each,
alternating BUY and SELL so positions stay small) alternate with as many PlaceOrders (MIS, MARKET,
quantity 1, alternating too) on the first account. Measured for each call:

- the RPC's latency at the caller. SubmitSignal answers once its orders are placed, so for a signal
  this is signal-to-orders-placed (its response carries every order_id);
- signal (or order) to first order visible: from sending the RPC to the first StreamOrderUpdates
  message of one of its orders (matched by client_order_id; a signal's are derived from
  (strategy, signal, account)), on streams opened per account before the run. Kite's order update
  can reach the gateway before Kite's answer to the placement does, so this is the tighter figure.

Then a short counting phase of `--count-calls` of each kind alone, reading the gateway's /metrics
around each, gives what one call costs on the server: its gRPC handling time, and the Kite calls it
made (count and time, by client method), so the time a signal adds over a PlaceOrder can be split
into Kite reads and the rest (the signal store's writes and reads, on SQLite).

    .venv/bin/python bench/signal_bench.py [--calls 300] [--count-calls 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any

import grpc
import requests
from kite_gateway_api.v1 import (
    account_pb2,
    account_pb2_grpc,
    common_pb2,
    order_pb2,
    order_pb2_grpc,
    signal_pb2,
    signal_pb2_grpc,
)
from prometheus_client.parser import text_string_to_metric_families

from kite_gateway.core.signals.service import signal_client_order_id
from kite_gateway.storage import SignalStore, open_database

sys.path.insert(0, os.path.dirname(__file__))
from gateway_bench import SECRET, access_token, percentile, start_gateway
from simulator_bench import free_port, start_simulator, stop

SYMBOL = "NSE:INFY"
USERS = ["ZS0001", "ZS0002"]
STRATEGIES = {"one": USERS[:1], "two": USERS}
WARMUP = 20
# Kite's per-user order caps, which the gateway paces placements to, lifted as in bench/cluster_support.py:
# sequential orders would otherwise wait about 100 ms each for the pacer.
ORDER_CAPS_OFF = {
    "KITE_GATEWAY_ORDERS_PER_SECOND": "1000",
    "KITE_GATEWAY_ORDERS_PER_MINUTE": "60000",
    "KITE_GATEWAY_ORDERS_PER_DAY": "10000000",
    "KITE_GATEWAY_ORDER_CLOCK_SKEW": "0",
}


def strategies_toml(strategies: dict[str, list[str]]) -> str:
    """Every strategy: fixed sizing of 1, MIS, no budget, no approval (market orders: the signal's urgency)."""
    lines = []
    for name, accounts in strategies.items():
        lines += [f"[strategies.{name}]", f"accounts = {json.dumps(accounts)}", 'product = "MIS"', ""]
        lines += [f"[strategies.{name}.sizing]", 'mode = "fixed"', "quantity = 1", ""]
    return "\n".join(lines)


def side(index: int) -> common_pb2.TransactionType.ValueType:
    return common_pb2.TRANSACTION_TYPE_BUY if index % 2 == 0 else common_pb2.TRANSACTION_TYPE_SELL


def signal_request(strategy: str, signal_id: str, index: int) -> signal_pb2.SubmitSignalRequest:
    signal = signal_pb2.Signal(
        strategy_id=strategy,
        signal_id=signal_id,
        instrument=common_pb2.InstrumentRef(symbol=SYMBOL),
        delta=signal_pb2.SignalDelta(side=side(index), quantity=1),
        urgency=signal_pb2.SignalUrgency(market=True),
    )
    return signal_pb2.SubmitSignalRequest(strategy_id=strategy, signal=signal)


def order_request(account: str, client_order_id: str, index: int) -> order_pb2.PlaceOrderRequest:
    params = order_pb2.OrderParams(
        instrument=common_pb2.InstrumentRef(symbol=SYMBOL),
        transaction_type=side(index),
        variety=common_pb2.VARIETY_REGULAR,
        order_type=common_pb2.ORDER_TYPE_MARKET,
        product=common_pb2.PRODUCT_MIS,
        quantity=1,
    )
    return order_pb2.PlaceOrderRequest(account_id=account, client_order_id=client_order_id, params=params)


@dataclass
class Seen:
    """When each client_order_id first appeared on an order-update stream (perf_counter seconds)."""

    first: dict[str, float] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def first_of(self, client_order_ids: list[str]) -> float:
        """The earliest of their first appearances, once one has appeared (the caller bounds the wait)."""
        while not any(c in self.first for c in client_order_ids):
            self.arrived.clear()  # no await since the check: nothing can arrive in between
            await self.arrived.wait()
        return min(self.first[c] for c in client_order_ids if c in self.first)


async def follow(stub: order_pb2_grpc.OrderServiceStub, account: str, seen: Seen, ready: asyncio.Event) -> None:
    """Record the first arrival of every order on the account's live update stream."""
    call = stub.StreamOrderUpdates(order_pb2.StreamOrderUpdatesRequest(account_id=account))
    async for message in call:
        arrived = time.perf_counter()
        kind = message.WhichOneof("event")
        if kind == "replay_complete":
            ready.set()
        elif kind == "update":
            seen.first.setdefault(message.update.order.client_order_id, arrived)
            seen.arrived.set()


@dataclass
class Timings:
    rpc: list[float] = field(default_factory=list)
    first_order: list[float] = field(default_factory=list)


async def submit(stub: signal_pb2_grpc.SignalServiceStub, seen: Seen, strategy: str, signal_id: str,
                 index: int, out: Timings | None) -> None:  # fmt: skip
    accounts = STRATEGIES[strategy]
    ids = [signal_client_order_id(strategy, signal_id, account) for account in accounts]
    started = time.perf_counter()
    reply = await stub.SubmitSignal(signal_request(strategy, signal_id, index), timeout=10)
    answered = time.perf_counter()
    orders = reply.record.orders
    if len(orders) != len(accounts) or not all(o.order_id for o in orders) or reply.record.state != 9:
        raise RuntimeError(f"signal {signal_id} did not route every order: {reply.record}")
    async with asyncio.timeout(10):
        first = await seen.first_of(ids)
    if out is not None:
        out.rpc.append(answered - started)
        out.first_order.append(first - started)


async def place(stub: order_pb2_grpc.OrderServiceStub, seen: Seen, client_order_id: str, index: int,
                out: Timings | None) -> None:  # fmt: skip
    started = time.perf_counter()
    reply = await stub.PlaceOrder(order_request(USERS[0], client_order_id, index), timeout=10)
    answered = time.perf_counter()
    if not reply.order_id:
        raise RuntimeError(f"order {client_order_id} has no order id")
    async with asyncio.timeout(10):
        first = await seen.first_of([client_order_id])
    if out is not None:
        out.rpc.append(answered - started)
        out.first_order.append(first - started)


def metrics(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The gateway's /metrics samples, by (sample name, sorted labels)."""
    text = requests.get(url, timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def server_cost(before: dict[Any, float], after: dict[Any, float], calls: int, method: str) -> dict[str, Any]:
    """Per call, between two scrapes: the RPC's server handling time and each Kite client method's
    calls and time."""

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    service = "kite_gateway.v1.SignalService" if method == "SubmitSignal" else "kite_gateway.v1.OrderService"
    rpc = {"grpc_type": "unary", "grpc_service": service, "grpc_method": method}
    kite: dict[str, dict[str, float]] = {}
    for name, labels in after:
        if name != "kite_request_duration_seconds_count":
            continue
        label = dict(labels)
        n = delta(name, **label)
        if n > 0:
            kite[label["method"]] = {
                "calls": n / calls,
                "ms": delta("kite_request_duration_seconds_sum", **label) / calls * 1000,
            }
    return {
        "server_ms": delta("grpc_server_handling_seconds_sum", **rpc) / calls * 1000,
        "kite": kite,
        "kite_ms": sum(k["ms"] for k in kite.values()),
        "kite_calls": sum(k["calls"] for k in kite.values()),
    }


async def store_replay(data_dir: Path, signals: int, legs: int) -> list[float]:
    """The signal store's statements of one routed signal with `legs` orders, in the order
    Signals.submit makes them on its happy path (kite_gateway/core/signals/service.py), timed per
    signal on a fresh SQLite database of the gateway's (WAL, the default synchronous=FULL): what
    the store costs a signal without the gRPC and Kite hops. 3 + 2 x legs commits, 12 reads."""
    database = open_database(None, data_dir)
    await database.open()
    store, now, out = SignalStore(database), datetime.now(UTC), []
    accounts = [f"ZS{n:04d}" for n in range(1, legs + 1)]
    try:
        for n in range(WARMUP + signals):
            started, sid = time.perf_counter(), f"replay-{n}"
            await store.claim("bench", sid, "fingerprint", "{}", "bench", "RECEIVED", now)  # + its get
            await store.halted("bench", "2026-12-03")
            await store.get("bench", sid)  # _carry_on
            await store.orders_of("bench", sid)
            await store.usage_since("bench", now)  # the budget's usage
            for account in accounts:
                await store.add_order("bench", sid, account, f"c-{sid}-{account}", now, "{}", "1500")
            await store.move("bench", sid, "RECEIVED", "ROUTING", "placing", now)  # + its get
            await store.get("bench", sid)  # _send
            await store.orders_of("bench", sid)
            for account in accounts:
                await store.set_order("bench", sid, account, f"o-{n}-{account}", "placed", now)
            await store.orders_of("bench", sid)
            await store.move("bench", sid, "ROUTING", "ROUTED", "placed", now)  # + its get
            await store.get("bench", sid)  # the answer's record
            await store.orders_of("bench", sid)
            if n >= WARMUP:
                out.append(time.perf_counter() - started)
    finally:
        await database.close()
    return out


def summary(values: list[float]) -> dict[str, float]:
    """Percentiles in ms, and the p50 of the first and last third (whether the run drifted as the
    day's order book grew)."""
    third = max(1, len(values) // 3)
    return {
        "p50": statistics.median(values) * 1000,
        "p90": percentile(values, 0.90) * 1000,
        "p99": percentile(values, 0.99) * 1000,
        "max": max(values) * 1000,
        "p50_first_third": statistics.median(values[:third]) * 1000,
        "p50_last_third": statistics.median(values[-third:]) * 1000,
    }


async def run(address: str, metrics_url: str, calls: int, count_calls: int) -> dict[str, Any]:
    ids = count()
    async with grpc.aio.insecure_channel(address) as channel:
        signals = signal_pb2_grpc.SignalServiceStub(channel)
        orders = order_pb2_grpc.OrderServiceStub(channel)
        seen = Seen()
        readies = [asyncio.Event() for _ in USERS]
        followers = [asyncio.create_task(follow(orders, u, seen, r)) for u, r in zip(USERS, readies, strict=True)]
        async with asyncio.timeout(20):
            await asyncio.gather(*(r.wait() for r in readies))

        def signal_call(strategy: str, out: Timings | None) -> Callable[[], Awaitable[None]]:
            n = next(ids)
            return lambda: submit(signals, seen, strategy, f"bench-{n}", n, out)

        def order_call(out: Timings | None) -> Callable[[], Awaitable[None]]:
            n = next(ids)
            return lambda: place(orders, seen, f"bench-order-{n}", n, out)

        for strategy in STRATEGIES:
            for _ in range(WARMUP):
                await signal_call(strategy, None)()
                await order_call(None)()
        result: dict[str, Any] = {}
        for strategy, accounts in STRATEGIES.items():
            sig, ref = Timings(), Timings()
            for _ in range(calls):
                await signal_call(strategy, sig)()
                await order_call(ref)()
            result[f"{len(accounts)}_account"] = {
                "SubmitSignal": {"rpc": summary(sig.rpc), "first_order": summary(sig.first_order)},
                "PlaceOrder": {"rpc": summary(ref.rpc), "first_order": summary(ref.first_order)},
            }
        costs: dict[str, Any] = {}
        phases: list[tuple[str, str, Callable[[], Callable[[], Awaitable[None]]]]] = [
            ("PlaceOrder", "PlaceOrder", lambda: order_call(None)),
            *((f"SubmitSignal_{len(a)}_account", "SubmitSignal", (lambda s=s: signal_call(s, None)))
              for s, a in STRATEGIES.items()),
        ]  # fmt: skip
        for name, method, make in phases:
            before = metrics(metrics_url)
            for _ in range(count_calls):
                await make()()
            costs[name] = server_cost(before, metrics(metrics_url), count_calls, method)
        result["server_cost_per_call"] = costs
        for task in followers:
            task.cancel()
        return result


def report(result: dict[str, Any], calls: int) -> None:
    print(json.dumps(result, indent=2))
    for variant in ("1_account", "2_account"):
        sig, ref = result[variant]["SubmitSignal"], result[variant]["PlaceOrder"]

        def line(what: str, s: dict[str, float], r: dict[str, float]) -> str:
            return (
                f"  {what}: signal p50 {s['p50']:.2f} / p90 {s['p90']:.2f} / p99 {s['p99']:.2f} / max "
                f"{s['max']:.2f} ms vs PlaceOrder {r['p50']:.2f} / {r['p90']:.2f} / {r['p99']:.2f} / "
                f"{r['max']:.2f} ms (ratio p50 {s['p50'] / r['p50']:.2f}, p99 {s['p99'] / r['p99']:.2f})"
            )

        print(f"Strategy on {variant.replace('_', ' ')}(s), {calls} signals interleaved with {calls} PlaceOrders:")
        print(line("RPC latency (signal to orders placed)", sig["rpc"], ref["rpc"]))
        print(line("to first order on StreamOrderUpdates", sig["first_order"], ref["first_order"]))
    for name, cost in result["server_cost_per_call"].items():
        kite = ", ".join(f"{m} {k['calls']:.2f}x {k['ms']:.2f} ms" for m, k in sorted(cost["kite"].items()))
        print(
            f"Server cost per {name}: handling {cost['server_ms']:.2f} ms, of which Kite calls "
            f"{cost['kite_ms']:.2f} ms ({cost['kite_calls']:.2f} calls: {kite})"
        )
    for variant, replay in result["store_replay"].items():
        print(
            f"Signal store statements of one signal on {variant.replace('_', ' ')}(s), replayed alone on "
            f"SQLite: p50 {replay['p50']:.2f} / p99 {replay['p99']:.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300, help="signals (and as many PlaceOrders) per strategy")
    parser.add_argument("--count-calls", type=int, default=50, help="calls of each kind in the counting phase")
    args = parser.parse_args()
    sim, ready = start_simulator()
    gateway = None
    with tempfile.TemporaryDirectory() as data_dir:
        strategies = Path(data_dir) / "strategies.toml"
        strategies.write_text(strategies_toml(STRATEGIES))
        os.environ.update({**ORDER_CAPS_OFF, "KITE_GATEWAY_STRATEGIES_FILE": str(strategies)})
        try:
            http = f"127.0.0.1:{free_port()}"
            gateway, address = start_gateway(ready, data_dir, http_port=int(http.rsplit(":", 1)[1]))
            with grpc.insecure_channel(address) as channel:
                stub = account_pb2_grpc.AccountServiceStub(channel)
                for user in USERS:
                    stub.AddAccount(
                        account_pb2.AddAccountRequest(
                            api_key=ready["api_key"], api_secret=SECRET, access_token=access_token(ready, user)
                        )
                    )
            result = asyncio.run(run(address, f"http://{http}/metrics", args.calls, args.count_calls))
        finally:
            stop(*(p for p in (gateway, sim) if p is not None))
        result["store_replay"] = {}
        for legs in (1, 2):
            replay_dir = Path(data_dir) / f"replay-{legs}"
            replay_dir.mkdir()
            timings = asyncio.run(store_replay(replay_dir, args.count_calls * 2, legs))
            result["store_replay"][f"{legs}_account"] = summary(timings)
    report(result, args.calls)


if __name__ == "__main__":
    main()
