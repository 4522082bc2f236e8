"""The gateway's cost over calling Kite directly: latency per unary call, and throughput with many
concurrent callers over several accounts, each as a ratio to the official kiteconnect client calling
the same simulator in the same run, repeated `--rounds` times (min / median / max of each ratio).

The simulator and the gateway run as separate processes (`kite-gateway sim --no-rate-limits`, and
`kite-gateway serve` aimed at it with its client-side rate limits lifted); the callers run here.
Calls: GetPositions through the gateway against kite.positions() directly (one Kite call each).

Where a call's time goes, measured in the same round: the gRPC floor (grpc.health.v1 Check through
the same server, interceptors and all, no Kite call), the same check on a bare grpc.aio server in a
process of its own (the floor of gRPC in Python here, on the loop the gateway runs on), and the
Kite leg as the gateway makes it (its HTTP transport, kite/transport.py, sending GET
/portfolio/positions from this process). During the
throughput windows each process's CPU use is read from /proc: the share of a core the callers'
process used says whether the client limits the figure.

    .venv/bin/python bench/gateway_bench.py [--calls 500] [--seconds 5] [--concurrency 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlparse

import grpc
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kite_gateway_api.v1 import account_pb2, account_pb2_grpc, portfolio_pb2, portfolio_pb2_grpc
from kiteconnect import KiteConnect

from kite_gateway.kite.official_codec import KiteRequest
from kite_gateway.kite.transport import HttpTransport
from kite_gateway.storage.sealing import Sealer
from kite_wire.checksums import session_checksum

sys.path.insert(0, os.path.dirname(__file__))
from simulator_bench import free_port, start_simulator, stop

SECRET = "sim_api_secret"


def access_token(ready: dict[str, Any], user_id: str) -> str:
    location = requests.get(f"{ready['login_url']}&user_id={user_id}", allow_redirects=False, timeout=10).headers[
        "Location"
    ]
    token = parse_qs(urlparse(location).query)["request_token"][0]
    form = {
        "api_key": ready["api_key"],
        "request_token": token,
        "checksum": session_checksum(ready["api_key"], token, SECRET),
    }
    reply = requests.post(
        f"{ready['api_endpoint']}/session/token", data=form, headers={"X-Kite-Version": "3"}, timeout=10
    )
    return str(reply.json()["data"]["access_token"])


def start_gateway(
    ready: dict[str, Any], data_dir: str, http_port: int | None = None
) -> tuple[subprocess.Popen[str], str]:
    """The gateway aimed at the simulator; its HTTP listener (/metrics) on `http_port` when given."""
    port = free_port()
    env = {
        **os.environ,
        "KITE_API_ENDPOINT": ready["api_endpoint"],
        "KITE_WEBSOCKET_ENDPOINT": ready["websocket_endpoint"],
        "KITE_GATEWAY_SECRET_KEY": Sealer.generate_key().decode(),
        "KITE_RATE_LIMIT_PER_SECOND": "100000",
        "KITE_BURST_LIMIT": "1000",
        "KITE_LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable,
        "-m",
        "kite_gateway",
        "serve",
        "--listen",
        f"127.0.0.1:{port}",
        "--data-dir",
        data_dir,
        "--http-listen",
        f"127.0.0.1:{http_port or free_port()}",
    ]
    proc = subprocess.Popen(command, env=env, text=True)
    address = f"127.0.0.1:{port}"
    grpc.channel_ready_future(grpc.insecure_channel(address)).result(timeout=20)
    return proc, address


BARE_GRPC = """
import asyncio, sys
import grpc
from grpc_health.v1 import health, health_pb2_grpc
from kite_gateway import event_loop
async def main():
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    server.add_insecure_port("127.0.0.1:" + sys.argv[1])
    await server.start()
    await server.wait_for_termination()
event_loop.run(main())
"""


def start_bare_grpc() -> tuple[subprocess.Popen[str], str]:
    """A grpc.aio server with nothing but the health service (the reference floor of a unary call)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", BARE_GRPC, str(port)], text=True)
    address = f"127.0.0.1:{port}"
    grpc.channel_ready_future(grpc.insecure_channel(address)).result(timeout=20)
    return proc, address


async def bare_latency(address: str, calls: int) -> list[float]:
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        check = health_pb2.HealthCheckRequest()
        return await timed(lambda: health.Check(check), calls)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def timed(call: Any, calls: int) -> list[float]:
    for _ in range(20):
        await call()
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        out.append(time.perf_counter() - started)
    return out


async def gateway_latency(address: str, account: str, calls: int) -> dict[str, list[float]]:
    """GetPositions through the gateway, and the gRPC floor (a health check) on the same channel."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = portfolio_pb2_grpc.PortfolioServiceStub(channel)
        health = health_pb2_grpc.HealthStub(channel)
        request = portfolio_pb2.GetPositionsRequest(account_id=account)
        check = health_pb2.HealthCheckRequest()
        return {
            "gateway": await timed(lambda: stub.GetPositions(request), calls),
            "grpc_floor": await timed(lambda: health.Check(check), calls),
        }


async def transport_latency(ready: dict[str, Any], api_key: str, token: str, calls: int) -> list[float]:
    """The gateway's Kite leg alone: its HTTP transport sending what kite.positions() sends."""
    transport = HttpTransport(limit=4)
    headers = {"X-Kite-Version": "3", "Authorization": f"token {api_key}:{token}"}
    request = KiteRequest("GET", f"{ready['api_endpoint']}/portfolio/positions", headers, timeout=10)
    try:
        return await timed(lambda: transport.send(request), calls)
    finally:
        await transport.close()


def direct_latency(kite: KiteConnect, calls: int) -> list[float]:
    for _ in range(20):
        kite.positions()
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        kite.positions()
        out.append(time.perf_counter() - started)
    return out


async def gateway_throughput(address: str, accounts: list[str], seconds: float, concurrency: int) -> float:
    done = 0
    async with grpc.aio.insecure_channel(address) as channel:
        stub = portfolio_pb2_grpc.PortfolioServiceStub(channel)
        deadline = time.perf_counter() + seconds

        async def caller(n: int) -> None:
            nonlocal done
            request = portfolio_pb2.GetPositionsRequest(account_id=accounts[n % len(accounts)])
            while time.perf_counter() < deadline:
                await stub.GetPositions(request)
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(caller(n) for n in range(concurrency)))
        return done / (time.perf_counter() - started)


def direct_throughput(kites: list[KiteConnect], seconds: float, concurrency: int) -> float:
    deadline = time.perf_counter() + seconds

    def caller(n: int) -> int:
        kite, count = kites[n % len(kites)], 0
        while time.perf_counter() < deadline:
            kite.positions()
            count += 1
        return count

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        total = sum(pool.map(caller, range(concurrency)))
    return total / (time.perf_counter() - started)


def with_cpu(pids: dict[str, int], run: Any) -> tuple[float, dict[str, float]]:
    """`run()`'s result and each process's CPU use meanwhile, in cores (1.0: one core all the time)."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.perf_counter()
    result = run()
    elapsed = time.perf_counter() - started
    return result, {name: (cpu_seconds(pid) - before[name]) / elapsed for name, pid in pids.items()}


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f})"


def one_round(
    address: str, ready: dict[str, Any], kites: list[KiteConnect], users: list[str], pids: dict[str, int],
    args: argparse.Namespace, bare: str,
) -> dict[str, Any]:  # fmt: skip
    measured = asyncio.run(gateway_latency(address, users[0], args.calls))
    measured["bare_grpc"] = asyncio.run(bare_latency(bare, args.calls))
    direct = direct_latency(kites[0], args.calls)
    leg = asyncio.run(transport_latency(ready, kites[0].api_key, kites[0].access_token, args.calls))
    gateway_rps, gateway_cpu = with_cpu(
        pids, lambda: asyncio.run(gateway_throughput(address, users, args.seconds, args.concurrency))
    )
    direct_rps, direct_cpu = with_cpu(pids, lambda: direct_throughput(kites, args.seconds, args.concurrency))
    p50 = {
        name: statistics.median(values) * 1000 for name, values in {**measured, "direct": direct, "leg": leg}.items()
    }
    return {
        "p50_ms": p50,
        "p99_ms": {"gateway": percentile(measured["gateway"], 0.99) * 1000, "direct": percentile(direct, 0.99) * 1000},
        "latency_ratio": p50["gateway"] / p50["direct"],
        "throughput_rps": {"gateway": gateway_rps, "direct": direct_rps},
        "throughput_ratio": gateway_rps / direct_rps,
        "cpu_cores": {"gateway_run": gateway_cpu, "direct_run": direct_cpu},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import tempfile

    sim, ready = start_simulator()
    bare_server, bare = start_bare_grpc()
    gateway: subprocess.Popen[str] | None = None
    rounds = []
    with tempfile.TemporaryDirectory() as data_dir:
        try:
            gateway, address = start_gateway(ready, data_dir)
            users = ["ZS0001", "ZS0002"]
            tokens = {user: access_token(ready, user) for user in users}
            with grpc.insecure_channel(address) as channel:
                stub = account_pb2_grpc.AccountServiceStub(channel)
                for user in users:
                    stub.AddAccount(
                        account_pb2.AddAccountRequest(
                            api_key=ready["api_key"], api_secret=SECRET, access_token=access_token(ready, user)
                        )
                    )
            kites = [
                KiteConnect(
                    ready["api_key"], access_token=tokens[u], root=ready["api_endpoint"], pool={"pool_maxsize": 64}
                )
                for u in users
            ]
            pids = {"callers": os.getpid(), "gateway": gateway.pid, "simulator": sim.pid}
            for n in range(args.rounds):
                rounds.append(one_round(address, ready, kites, users, pids, args, bare))
                print(json.dumps({"round": n + 1, **rounds[-1]}, indent=1, default=lambda v: round(v, 3)))
        finally:
            stop(*(p for p in (gateway, sim) if p is not None))
            bare_server.kill()
            bare_server.wait()
    p50s = {name: [r["p50_ms"][name] for r in rounds] for name in rounds[0]["p50_ms"]}
    print(
        f"GetPositions p50 over {args.rounds} rounds: gateway {spread(p50s['gateway'])} ms vs direct kiteconnect "
        f"{spread(p50s['direct'])} ms; ratio {spread([r['latency_ratio'] for r in rounds])}"
    )
    print(
        f"  where it goes (p50): gRPC floor (health check through the gateway) {spread(p50s['grpc_floor'])} ms "
        f"(a bare grpc.aio server: {spread(p50s['bare_grpc'])} ms), the gateway's Kite leg (its HTTP transport "
        f"from here) {spread(p50s['leg'])} ms"
    )
    print(
        f"Throughput, {args.concurrency} callers over {len(users)} accounts: gateway "
        f"{spread([r['throughput_rps']['gateway'] for r in rounds])} calls/s vs direct "
        f"{spread([r['throughput_rps']['direct'] for r in rounds])} calls/s; ratio "
        f"{spread([r['throughput_ratio'] for r in rounds])}"
    )
    last = rounds[-1]["cpu_cores"]
    print(
        "  CPU in cores during the last round: through the gateway "
        + ", ".join(f"{k} {v:.2f}" for k, v in last["gateway_run"].items())
        + "; direct "
        + ", ".join(f"{k} {v:.2f}" for k, v in last["direct_run"].items())
    )


if __name__ == "__main__":
    main()
