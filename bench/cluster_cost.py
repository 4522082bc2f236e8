"""The cost of the clustered mode over the embedded one, for a unary call and for a tick, measured
in the same run against the same simulator.

Setup: one simulator process (Kite's real cadence: a tick frame and a price move every second;
rate limits off) with two users, each with its own Kite app; one embedded gateway (`kite-gateway
serve`, SQLite, in-process fan-out) holding the first; a cluster of three replicas (real
PostgreSQL and NATS, lease ttl 6 s, the production default) holding the second, whose lease one
replica owns (the owner) and the other two do not. The gateways' client-side rate limits are
lifted, as in bench/gateway_bench.py, and so are Kite's per-user order caps that the gateway paces
placements to (bench/cluster_support.py ORDER_CAPS_OFF), so that both measure work, not throttling.

Each round measures, embedded first and then clustered, one after the other (never at once):

- unary: `--calls` sequential PortfolioService.GetPositions (after 20 unmeasured), on the embedded
  gateway; on the owner; on a non-owner (forwarded to the owner: checked by the answer's
  x-kg-forwarded-by metadata). p50 and p99.
- orders: `--orders` sequential OrderService.PlaceOrder (market buys, a fresh client_order_id each),
  on the same three. p50 and p99.
- ticks: one subscriber of `--instruments` instruments in QUOTE mode for `--seconds`, on the
  embedded gateway; then one subscriber on the owner and one on a non-owner at once (the
  non-owner's ticks come over NATS: the owner relays Kite's frames). Latency runs from the owner's
  receipt of the upstream frame (Tick.receive_time on the gateway that holds the Kite connection)
  to the subscriber reading the tick. For the non-owner, whose receive_time is its own receipt
  from NATS, each tick is matched by content to the same tick on the owner's stream and measured
  from the owner's receive_time; the relay hop alone (non-owner receive_time minus owner's) is
  shown beside it.

Ratios are clustered / embedded, per round; the figures are medians over `--rounds` rounds with
their range.

    .venv/bin/python bench/cluster_cost.py [--rounds 3] [--calls 300] [--orders 100] [--instruments 500]
        [--seconds 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from kite_gateway_api.v1 import (
    common_pb2,
    market_data_pb2,
    market_data_pb2_grpc,
    order_pb2,
    order_pb2_grpc,
    portfolio_pb2,
    portfolio_pb2_grpc,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster_support import (
    ORDER_CAPS_OFF,
    Embedded,
    backing_services,
    instrument_symbols,
    log_in,
    market_buy,
    new_cluster,
    percentile,
    start_simulator,
    wait_for_balance,
)

LEASE_TTL = 6.0
WARM_UP = 20
TICK_WARM_UP = 4.0  # seconds after subscribing before ticks count (first frames, snapshots)
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 64 << 20)]


def stats_ms(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 0.5) * 1000, "p99": percentile(values, 0.99) * 1000, "n": len(values)}


async def timed(calls: int, call: Callable[[int], Any]) -> list[float]:
    for index in range(WARM_UP):
        await call(-1 - index)
    out = []
    for index in range(calls):
        started = time.perf_counter()
        await call(index)
        out.append(time.perf_counter() - started)
    return out


async def forwarded_by(address: str, account: str) -> str:
    async with grpc.aio.insecure_channel(address) as channel:
        call = portfolio_pb2_grpc.PortfolioServiceStub(channel).GetPositions(
            portfolio_pb2.GetPositionsRequest(account_id=account), timeout=10
        )
        await call
        return str(dict(await call.initial_metadata() or ()).get("x-kg-forwarded-by", ""))


async def unary(address: str, account: str, calls: int) -> list[float]:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = portfolio_pb2_grpc.PortfolioServiceStub(channel)
        request = portfolio_pb2.GetPositionsRequest(account_id=account)
        return await timed(calls, lambda _: stub.GetPositions(request, timeout=10))


async def orders(address: str, account: str, count: int, tag: str) -> list[float]:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = order_pb2_grpc.OrderServiceStub(channel)

        def place(index: int) -> Any:
            request = order_pb2.PlaceOrderRequest(
                account_id=account, client_order_id=f"{tag}-{index}", params=market_buy()
            )
            return stub.PlaceOrder(request, timeout=10)

        return await timed(count, place)


def content(tick: market_data_pb2.Tick) -> bytes:
    """A tick without its receive_time: the same on every replica for the same upstream tick."""
    copy = market_data_pb2.Tick()
    copy.CopyFrom(tick)
    copy.ClearField("receive_time")
    return copy.SerializeToString(deterministic=True)


async def subscribe(
    address: str, account: str, symbols: list[str], measure_from: float, until: float
) -> list[tuple[float, market_data_pb2.Tick]]:
    """Every tick read between `measure_from` and `until` (wall clock), with the time it was read."""
    refs = [common_pb2.InstrumentRef(symbol=s) for s in symbols]
    mode = market_data_pb2.TICK_MODE_QUOTE
    request = market_data_pb2.StreamTicksRequest(account_id=account, instruments=refs, mode=mode)
    seen: list[tuple[float, market_data_pb2.Tick]] = []
    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        call = market_data_pb2_grpc.MarketDataServiceStub(channel).StreamTicks(request)
        first = await call.read()
        assert first.WhichOneof("event") == "started", first
        while time.time() < until:
            try:
                async with asyncio.timeout(max(0.05, until - time.time())):
                    message = await call.read()
            except TimeoutError:
                break
            now = time.time()
            if message.WhichOneof("event") == "ticks" and now >= measure_from:
                seen.extend((now, tick) for tick in message.ticks.ticks)
        call.cancel()
    return seen


def receive_s(tick: market_data_pb2.Tick) -> float:
    return float(tick.receive_time.ToNanoseconds()) / 1e9


async def ticks_embedded(address: str, account: str, symbols: list[str], seconds: float) -> dict[str, Any]:
    measure_from = time.time() + TICK_WARM_UP
    seen = await subscribe(address, account, symbols, measure_from, measure_from + seconds)
    latencies = [read - receive_s(tick) for read, tick in seen]
    return {"latency": stats_ms(latencies), "ticks_per_s": len(seen) / seconds}


async def ticks_cluster(owner: str, other: str, account: str, symbols: list[str], seconds: float) -> dict[str, Any]:
    measure_from = time.time() + TICK_WARM_UP
    until = measure_from + seconds
    on_owner, on_other = await asyncio.gather(
        subscribe(owner, account, symbols, measure_from - 2.0, until + 2.0),
        subscribe(other, account, symbols, measure_from - 2.0, until + 2.0),
    )
    owner_latency = [read - receive_s(t) for read, t in on_owner if measure_from <= receive_s(t) < until]
    at_owner: dict[bytes, float] = {}
    repeated: set[bytes] = set()
    for _, tick in on_owner:
        key = content(tick)
        if key in at_owner:
            repeated.add(key)
        at_owner[key] = receive_s(tick)
    other_latency, hop, unmatched = [], [], 0
    for read, tick in on_other:
        key = content(tick)
        received = at_owner.get(key)
        if received is None or key in repeated:
            unmatched += 1
            continue
        if measure_from <= received < until:
            other_latency.append(read - received)
            hop.append(receive_s(tick) - received)
    counted = sum(1 for _, t in on_other if measure_from <= receive_s(t) < until)
    return {
        "owner": {"latency": stats_ms(owner_latency), "ticks_per_s": len(owner_latency) / seconds},
        "other": {
            "latency": stats_ms(other_latency),
            "ticks_per_s": len(other_latency) / seconds,
            "relay_hop": stats_ms(hop),
            "unmatched": unmatched,
            "counted_per_s": counted / seconds,
        },
    }


async def one_round(
    number: int, embedded: str, owner: str, other: str, accounts: tuple[str, str], symbols: list[str],
    args: argparse.Namespace,
) -> dict[str, Any]:  # fmt: skip
    alone, clustered = accounts
    result: dict[str, Any] = {}
    result["unary"] = {
        "embedded": stats_ms(await unary(embedded, alone, args.calls)),
        "owner": stats_ms(await unary(owner, clustered, args.calls)),
        "forwarded": stats_ms(await unary(other, clustered, args.calls)),
    }
    result["orders"] = {
        "embedded": stats_ms(await orders(embedded, alone, args.orders, f"e{number}")),
        "owner": stats_ms(await orders(owner, clustered, args.orders, f"o{number}")),
        "forwarded": stats_ms(await orders(other, clustered, args.orders, f"f{number}")),
    }
    result["ticks"] = {
        "embedded": await ticks_embedded(embedded, alone, symbols, args.seconds),
        **await ticks_cluster(owner, other, clustered, symbols, args.seconds),
    }
    return result


def ratio(result: dict[str, Any], kind: str, path: str, stat: str) -> float:
    if kind == "ticks":
        return float(result[kind][path]["latency"][stat] / result[kind]["embedded"]["latency"][stat])
    return float(result[kind][path][stat] / result[kind]["embedded"][stat])


def print_round(number: int, r: dict[str, Any]) -> None:
    u, o, t = r["unary"], r["orders"], r["ticks"]

    def pair(d: dict[str, float]) -> str:
        return f"{d['p50']:.2f}/{d['p99']:.2f}"

    print(
        f"round {number}: GetPositions p50/p99 ms: embedded {pair(u['embedded'])}, owner {pair(u['owner'])} "
        f"(x{ratio(r, 'unary', 'owner', 'p50'):.2f}), forwarded {pair(u['forwarded'])} "
        f"(x{ratio(r, 'unary', 'forwarded', 'p50'):.2f}); PlaceOrder: embedded {pair(o['embedded'])}, "
        f"owner {pair(o['owner'])} (x{ratio(r, 'orders', 'owner', 'p50'):.2f}), forwarded {pair(o['forwarded'])} "
        f"(x{ratio(r, 'orders', 'forwarded', 'p50'):.2f}); ticks p50/p99 ms: embedded "
        f"{pair(t['embedded']['latency'])} ({t['embedded']['ticks_per_s']:.0f}/s), owner {pair(t['owner']['latency'])} "
        f"({t['owner']['ticks_per_s']:.0f}/s), other replica {pair(t['other']['latency'])} "
        f"({t['other']['ticks_per_s']:.0f}/s matched of {t['other']['counted_per_s']:.0f}, relay hop "
        f"{pair(t['other']['relay_hop'])})",
        flush=True,
    )


def summarize(rounds: list[dict[str, Any]]) -> None:
    def line(label: str, kind: str, path: str) -> None:
        def values(stat: str) -> list[float]:
            if kind == "ticks":
                return [float(r[kind][path]["latency"][stat]) for r in rounds]
            return [float(r[kind][path][stat]) for r in rounds]

        def med(xs: list[float]) -> str:
            return f"{statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})"

        text = f"{label}: p50 {med(values('p50'))} ms, p99 {med(values('p99'))} ms"
        if path != "embedded":
            r50 = [ratio(r, kind, path, "p50") for r in rounds]
            r99 = [ratio(r, kind, path, "p99") for r in rounds]
            text += f"; clustered/embedded p50 {med(r50)}, p99 {med(r99)}"
        print(text)

    print(f"---- medians over {len(rounds)} rounds (range)")
    line("GetPositions, embedded", "unary", "embedded")
    line("GetPositions, cluster owner", "unary", "owner")
    line("GetPositions, cluster non-owner (forwarded)", "unary", "forwarded")
    line("PlaceOrder, embedded", "orders", "embedded")
    line("PlaceOrder, cluster owner", "orders", "owner")
    line("PlaceOrder, cluster non-owner (forwarded)", "orders", "forwarded")
    line("tick, embedded subscriber", "ticks", "embedded")
    line("tick, subscriber on the owner", "ticks", "owner")
    line("tick, subscriber on another replica (NATS)", "ticks", "other")
    hops = [r["ticks"]["other"]["relay_hop"] for r in rounds]
    print(
        "relay hop alone (owner's receipt to the other replica's receipt): p50 "
        f"{statistics.median(h['p50'] for h in hops):.2f} ms, p99 {statistics.median(h['p99'] for h in hops):.2f} ms"
    )


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    sim = start_simulator(2)
    alone, clustered = sim.users
    rounds: list[dict[str, Any]] = []
    embedded: Embedded | None = None
    with backing_services() as (postgres, nats), tempfile.TemporaryDirectory(prefix="kg-bench-cost-") as directory:
        database_url = postgres.new_database()
        cluster = new_cluster(Path(directory), sim, database_url, nats.url, 3, LEASE_TTL, ORDER_CAPS_OFF)
        try:
            embedded = await asyncio.to_thread(Embedded.start, sim, ORDER_CAPS_OFF)
            await asyncio.to_thread(cluster.start)
            await log_in(sim, embedded.address, [alone])
            await log_in(sim, cluster.replicas[0].address, [clustered])
            owner_name = (await wait_for_balance(database_url, 1, 3))[clustered.api_key]
            owner = next(r for r in cluster.replicas if r.name == owner_name).address
            other = next(r for r in cluster.replicas if r.name != owner_name)
            deadline = time.monotonic() + 60
            while (by := await forwarded_by(other.address, clustered.user_id)) != other.name:
                assert time.monotonic() < deadline, f"calls on {other.name} are not forwarded ({by!r})"
                await asyncio.sleep(0.2)
            symbols = await instrument_symbols(sim, args.instruments)
            print(
                f"embedded gateway holds {alone.user_id}; the cluster's {clustered.user_id} is owned by {owner_name}, "
                f"the non-owner measured is {other.name}; {len(symbols)} instruments per tick subscription",
                flush=True,
            )
            for number in range(1, args.rounds + 1):
                result = await one_round(
                    number, embedded.address, owner, other.address, (alone.user_id, clustered.user_id), symbols, args
                )
                rounds.append(result)
                print_round(number, result)
        except BaseException:
            print(cluster.logs(), file=sys.stderr)
            raise
        finally:
            await asyncio.to_thread(cluster.stop)
            if embedded is not None:
                embedded.stop()
            sim.stop()
            postgres.drop_database(database_url)
    summarize(rounds)
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--instruments", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", help="also write every round's figures to this file")
    args = parser.parse_args()
    rounds = asyncio.run(main_async(args))
    if args.json:
        Path(args.json).write_text(json.dumps(rounds, indent=2))


if __name__ == "__main__":
    main()
