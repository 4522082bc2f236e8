"""Failover time of the clustered mode: kill -9 of the replica owning an account, then the time
until a PlaceOrder for that account is accepted again, through a round-robin channel over the
three replicas, retried.

Per lease time-to-live (6 s, the production default, and 2 s, the tests' setting): a fresh
database, three `kite-gateway serve` replicas over real PostgreSQL and NATS (tests/support) in
front of one simulator process with three users, each with its own Kite app (each account its own
lease). Then `--trials` times: wait until the three leases are spread one per replica, place an
order for the trial's account on every replica (warm channels), SIGKILL its owner, and at once:

- poll the leases table every 20 ms: when a live lease of the account names another replica
  ("moved in the database"); the dead owner's lease expiry, read just before the kill, gives the
  part of that spent waiting for the lease to run out;
- retry PlaceOrder (a fresh client_order_id, the same one on every attempt) every 50 ms on the
  round-robin channel until it is accepted ("order accepted"); each attempt has a 3 s deadline;
- beside it, one more PlaceOrder under the Python client's default retry policy
  (kite_gateway_client.retry.DEFAULT_RETRY: 4 attempts, at least the gateway's RetryInfo apart):
  whether it succeeds, and when.

Then the killed replica is started again (same port) and the next trial waits for the leases to
rebalance. Trials rotate over the three accounts. Figures: p50 and max over the trials.

    .venv/bin/python bench/failover.py [--trials 10] [--ttls 6 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import grpc
from kite_gateway_api.v1 import order_pb2, order_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster_support import (
    SimProcess,
    backing_services,
    leases,
    log_in,
    market_buy,
    new_cluster,
    percentile,
    round_robin,
    start_simulator,
    wait_for_balance,
)
from kite_gateway_client.errors import GatewayCallError
from kite_gateway_client.retry import DEFAULT_RETRY

from tests.support.cluster import Cluster

RETRY_EVERY = 0.05  # seconds between two attempts of the measuring caller
POLL_EVERY = 0.02  # seconds between two looks at the leases table
ATTEMPT_DEADLINE = 3.0
GIVE_UP = 60.0


async def place_once(orders: order_pb2_grpc.OrderServiceStub, account: str, client_order_id: str) -> str:
    request = order_pb2.PlaceOrderRequest(account_id=account, client_order_id=client_order_id, params=market_buy())
    call = orders.PlaceOrder(request, timeout=ATTEMPT_DEADLINE)
    await call
    served = dict(await call.initial_metadata() or ())
    return str(served.get("x-kg-served-by", "?"))


async def place_until_accepted(
    orders: order_pb2_grpc.OrderServiceStub, account: str, client_order_id: str, since: float
) -> dict[str, Any]:
    """Retry every RETRY_EVERY until accepted; the time (since `since`), attempts and codes seen."""
    codes: Counter[str] = Counter()
    attempts = 0
    while True:
        attempts += 1
        try:
            served_by = await place_once(orders, account, client_order_id)
            return {"accepted_s": time.monotonic() - since, "attempts": attempts, "codes": dict(codes),
                    "served_by": served_by}  # fmt: skip
        except grpc.aio.AioRpcError as exc:
            codes[exc.code().name] += 1
            if time.monotonic() - since > GIVE_UP:
                raise RuntimeError(f"{client_order_id} not accepted within {GIVE_UP}s: {exc.details()}") from None
        await asyncio.sleep(RETRY_EVERY)


async def place_with_client_policy(
    orders: order_pb2_grpc.OrderServiceStub, account: str, client_order_id: str, since: float
) -> dict[str, Any]:
    """One PlaceOrder under the Python client's default retry policy."""
    try:
        await DEFAULT_RETRY.run(lambda: place_once(orders, account, client_order_id))
        return {"ok": True, "at_s": time.monotonic() - since}
    except GatewayCallError as exc:
        return {"ok": False, "at_s": time.monotonic() - since, "code": exc.code.name}


async def wait_moved(database_url: str, key: str, victim: str, since: float) -> float:
    connection = await asyncpg.connect(database_url)
    try:
        while True:
            owner = await connection.fetchval(
                "SELECT owner FROM leases WHERE lease_key = $1 "
                "AND expires_ms > CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
                key,
            )
            if owner is not None and owner != victim:
                return time.monotonic() - since
            if time.monotonic() - since > GIVE_UP:
                raise RuntimeError(f"the lease of {key} did not move within {GIVE_UP}s")
            await asyncio.sleep(POLL_EVERY)
    finally:
        await connection.close()


async def trial(cluster: Cluster, sim: SimProcess, database_url: str, number: int) -> dict[str, Any]:
    user = sim.users[number % len(sim.users)]
    await wait_for_balance(database_url, len(sim.users), len(cluster.replicas))
    async with round_robin(cluster.target) as channel:
        orders = order_pb2_grpc.OrderServiceStub(channel)
        for replica in cluster.replicas:  # every route works before the kill
            async with grpc.aio.insecure_channel(replica.address) as direct:
                await place_until_accepted(
                    order_pb2_grpc.OrderServiceStub(direct), user.user_id, f"warm-{number}-{replica.name}",
                    time.monotonic(),
                )  # fmt: skip
        for _ in range(len(cluster.replicas)):
            await place_once(orders, user.user_id, f"warm-rr-{number}-{_}")
        owner, expires_at = (await leases(database_url))[user.api_key]
        victim = next(r for r in cluster.replicas if r.name == owner)
        await asyncio.to_thread(victim.kill)
        killed = time.monotonic()
        lease_left = expires_at - time.time()
        moved, accepted, client = await asyncio.gather(
            wait_moved(database_url, user.api_key, victim.name, killed),
            place_until_accepted(orders, user.user_id, f"after-kill-{number}", killed),
            place_with_client_policy(orders, user.user_id, f"client-policy-{number}", killed),
        )
    new_owner = (await leases(database_url))[user.api_key][0]
    await asyncio.to_thread(victim.start)
    await asyncio.to_thread(victim.wait_listening, 60.0)
    return {
        "trial": number,
        "account": user.user_id,
        "killed": victim.name,
        "new_owner": new_owner,
        "lease_left_at_kill_s": lease_left,
        "moved_in_db_s": moved,
        **accepted,
        "client_policy": client,
    }


async def run_ttl(ttl: float, trials: int, postgres: Any, nats_url: str) -> list[dict[str, Any]]:
    sim = start_simulator(3)
    database_url = postgres.new_database()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix=f"kg-bench-failover-{ttl:g}-") as directory:
        cluster = new_cluster(Path(directory), sim, database_url, nats_url, 3, ttl)
        try:
            await asyncio.to_thread(cluster.start)
            await log_in(sim, cluster.replicas[0].address, sim.users)
            for number in range(trials):
                result = await trial(cluster, sim, database_url, number)
                results.append(result)
                print(
                    f"ttl {ttl:g} s, trial {number + 1}: killed {result['killed']} (owner of {result['account']}, "
                    f"lease left {result['lease_left_at_kill_s']:.2f} s); moved in db after "
                    f"{result['moved_in_db_s']:.2f} s to {result['new_owner']}; order accepted after "
                    f"{result['accepted_s']:.2f} s on {result['served_by']} ({result['attempts']} attempts, "
                    f"{result['codes']}); client default policy: {result['client_policy']}",
                    flush=True,
                )
        except BaseException:
            print(cluster.logs(), file=sys.stderr)
            raise
        finally:
            await asyncio.to_thread(cluster.stop)
            sim.stop()
            postgres.drop_database(database_url)
    return results


def report(ttl: float, results: list[dict[str, Any]]) -> dict[str, Any]:
    def p50_max(name: str) -> tuple[float, float]:
        values = [r[name] for r in results]
        return statistics.median(values), max(values)

    accepted, moved = p50_max("accepted_s"), p50_max("moved_in_db_s")
    after_move = [r["accepted_s"] - r["moved_in_db_s"] for r in results]
    left = [r["lease_left_at_kill_s"] for r in results]
    client_ok = sum(r["client_policy"]["ok"] for r in results)
    summary = {
        "ttl_s": ttl,
        "trials": len(results),
        "accepted_p50_s": accepted[0],
        "accepted_max_s": accepted[1],
        "moved_in_db_p50_s": moved[0],
        "moved_in_db_max_s": moved[1],
        "moved_to_accepted_p50_s": statistics.median(after_move),
        "moved_to_accepted_max_s": max(after_move),
        "lease_left_at_kill_p50_s": statistics.median(left),
        "bound_s": ttl + ttl / 3,
        "client_policy_ok": client_ok,
    }
    print(
        f"ttl {ttl:g} s, {len(results)} trials: kill -9 to first order accepted p50 {accepted[0]:.2f} s, "
        f"max {accepted[1]:.2f} s (expected at most ttl + a round = {ttl + ttl / 3:.2f} s plus start-up); "
        f"lease moved in the database p50 {moved[0]:.2f} s, max {moved[1]:.2f} s "
        f"(of which the dead owner's lease had p50 {statistics.median(left):.2f} s left); "
        f"moved to accepted p50 {statistics.median(after_move):.2f} s, max {max(after_move):.2f} s; "
        f"p95 accepted {percentile([r['accepted_s'] for r in results], 0.95):.2f} s; "
        f"an order under the client's default retry policy succeeded in {client_ok} of {len(results)}"
    )
    return summary


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    everything: dict[str, Any] = {"trials": {}, "summary": []}
    with backing_services() as (postgres, nats):
        for ttl in args.ttls:
            results = await run_ttl(ttl, args.trials, postgres, nats.url)
            everything["trials"][str(ttl)] = results
    for ttl in args.ttls:
        everything["summary"].append(report(ttl, everything["trials"][str(ttl)]))
    return everything


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--ttls", type=float, nargs="+", default=[6.0, 2.0], help="lease times-to-live, seconds")
    parser.add_argument("--json", help="also write every trial's figures to this file")
    args = parser.parse_args()
    everything = asyncio.run(main_async(args))
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=2))


if __name__ == "__main__":
    main()
