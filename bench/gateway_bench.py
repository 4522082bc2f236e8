"""The gateway's cost over calling Kite directly: added latency per unary call, and throughput with
many concurrent callers over several accounts, each as a ratio to the official kiteconnect client
calling the same simulator in the same run.

The simulator and the gateway run as separate processes (`kite-gateway sim --no-rate-limits`, and
`kite-gateway serve` aimed at it with its client-side rate limits lifted); the callers run here.
Calls: GetPositions through the gateway against kite.positions() directly (one Kite call each).

    .venv/bin/python bench/gateway_bench.py [--calls 300] [--seconds 5] [--concurrency 32]
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
from kite_gateway_api.v1 import account_pb2, account_pb2_grpc, portfolio_pb2, portfolio_pb2_grpc
from kiteconnect import KiteConnect

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


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def gateway_latency(address: str, account: str, calls: int) -> list[float]:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = portfolio_pb2_grpc.PortfolioServiceStub(channel)
        request = portfolio_pb2.GetPositionsRequest(account_id=account)
        for _ in range(20):
            await stub.GetPositions(request)
        out = []
        for _ in range(calls):
            started = time.perf_counter()
            await stub.GetPositions(request)
            out.append(time.perf_counter() - started)
        return out


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    import tempfile

    sim, ready = start_simulator()
    gateway: subprocess.Popen[str] | None = None
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
            through_gateway = asyncio.run(gateway_latency(address, users[0], args.calls))
            direct = direct_latency(kites[0], args.calls)
            gateway_rps = asyncio.run(gateway_throughput(address, users, args.seconds, args.concurrency))
            direct_rps = direct_throughput(kites, args.seconds, args.concurrency)
        finally:
            stop(*(p for p in (gateway, sim) if p is not None))
    result = {
        "latency_ms": {
            "gateway_p50": statistics.median(through_gateway) * 1000,
            "gateway_p99": percentile(through_gateway, 0.99) * 1000,
            "direct_p50": statistics.median(direct) * 1000,
            "direct_p99": percentile(direct, 0.99) * 1000,
        },
        "throughput_rps": {"gateway": gateway_rps, "direct": direct_rps, "ratio": gateway_rps / direct_rps},
    }
    latency = result["latency_ms"]
    latency["added_p50"] = latency["gateway_p50"] - latency["direct_p50"]
    latency["ratio_p50"] = latency["gateway_p50"] / latency["direct_p50"]
    print(json.dumps(result, indent=2))
    print(
        f"GetPositions latency p50: gateway {latency['gateway_p50']:.2f} ms vs direct kiteconnect "
        f"{latency['direct_p50']:.2f} ms (added {latency['added_p50']:.2f} ms, ratio {latency['ratio_p50']:.2f}); "
        f"p99 {latency['gateway_p99']:.2f} vs {latency['direct_p99']:.2f} ms"
    )
    print(
        f"Throughput, {args.concurrency} callers over {len(users)} accounts: gateway {gateway_rps:.0f} calls/s vs "
        f"direct {direct_rps:.0f} calls/s (ratio {gateway_rps / direct_rps:.2f})"
    )


if __name__ == "__main__":
    main()
