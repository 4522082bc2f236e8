"""Simulator throughput: REST requests/s and ticker ticks/s, each beside a reference measured in
the same run on the same machine.

- REST: requests/s the simulator answers for a mix of Kite calls, against a bare aiohttp server
  answering a constant Kite envelope (the HTTP stack's own ceiling here): the ratio is the share
  of that ceiling the simulator keeps.
- Ticker: ticks/s delivered to 1 and 3 connections (Kite's maximum per api_key) subscribed to
  3000 instruments, against the ticks/s the official kiteconnect parser decodes on one core: a
  ratio above 1 means the simulator can feed a Python client faster than it can parse.

Both servers run as separate processes; the load comes from this process.

    .venv/bin/python bench/simulator_bench.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from typing import Any

import aiohttp
from kiteconnect import KiteTicker

HEADERS = {"X-Kite-Version": "3"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


BARE_SERVER = """
import sys
from aiohttp import web
async def answer(request):
    body = {"status": "success", "data": {"NSE:INFY": {"instrument_token": 408065, "last_price": 1.0}}}
    return web.json_response(body)
app = web.Application()
app.router.add_route("*", "/{tail:.*}", answer)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def start_simulator(*extra: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    port = free_port()
    command = [sys.executable, "-m", "kite_gateway", "sim", "--listen", f"127.0.0.1:{port}", "--no-rate-limits", *extra]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env={**os.environ, "GRPC_VERBOSITY": "ERROR"})
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())


async def login(session: aiohttp.ClientSession, ready: dict[str, Any]) -> dict[str, str]:
    import hashlib
    from urllib.parse import parse_qs, urlparse

    async with session.get(f"{ready['login_url']}&user_id=ZS0001", allow_redirects=False) as reply:
        token = parse_qs(urlparse(reply.headers["Location"]).query)["request_token"][0]
    checksum = hashlib.sha256(f"{ready['api_key']}{token}sim_api_secret".encode()).hexdigest()
    form = {"api_key": ready["api_key"], "request_token": token, "checksum": checksum}
    async with session.post(f"{ready['api_endpoint']}/session/token", data=form, headers=HEADERS) as reply:
        access_token = (await reply.json())["data"]["access_token"]
    return {"api_key": ready["api_key"], "access_token": access_token}


async def hammer(base: str, headers: dict[str, str], paths: list[str], seconds: float, concurrency: int) -> float:
    """Requests per second answered with 200, over `seconds`, with `concurrency` callers."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def caller(session: aiohttp.ClientSession, offset: int) -> None:
        nonlocal done
        i = offset
        while time.perf_counter() < deadline:
            async with session.get(base + paths[i % len(paths)], headers=headers) as reply:
                await reply.read()
                assert reply.status == 200, await reply.text()
            done += 1
            i += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(caller(session, n) for n in range(concurrency)))
        return done / (time.perf_counter() - started)


def stop(*processes: subprocess.Popen[str]) -> None:
    for proc in processes:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)


async def measure_rest(ready: dict[str, Any], bare_url: str, seconds: float) -> dict[str, float]:
    await asyncio.sleep(1.0)  # the bare server's start-up
    async with aiohttp.ClientSession() as session:
        credentials = await login(session, ready)
    auth = {**HEADERS, "Authorization": f"token {credentials['api_key']}:{credentials['access_token']}"}
    paths = ["/quote/ltp?i=NSE:INFY", "/user/profile", "/quote?i=NSE:INFY&i=NSE:TCS", "/orders",
             "/portfolio/positions", "/user/margins"]  # fmt: skip
    simulator_rps = await hammer(ready["api_endpoint"], auth, paths, seconds, 32)
    bare_rps = await hammer(bare_url, auth, paths, seconds, 32)
    return {"simulator_rps": simulator_rps, "bare_aiohttp_rps": bare_rps, "ratio": simulator_rps / bare_rps}


def rest(seconds: float) -> dict[str, float]:
    sim, ready = start_simulator()
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port)], text=True)
    try:
        return asyncio.run(measure_rest(ready, f"http://127.0.0.1:{port}", seconds))
    finally:
        stop(sim, bare)


async def measure_ticker(ready: dict[str, Any], seconds: float, connections: int, frames: list[bytes]) -> float:
    """Ticks/s delivered to `connections` connections of 3000 instruments each."""
    async with aiohttp.ClientSession() as session:
        credentials = await login(session, ready)
        async with session.get(f"{ready['api_endpoint']}/instruments", headers=HEADERS) as reply:
            lines = (await reply.text()).splitlines()[1:]
        tokens = [int(line.split(",")[0]) for line in lines][:3000]
        query = f"api_key={credentials['api_key']}&access_token={credentials['access_token']}"
        url = f"{ready['websocket_endpoint']}?{query}"
        sockets = [await session.ws_connect(url, headers=HEADERS, max_msg_size=0) for _ in range(connections)]
        for ws in sockets:  # as Kite wants it: subscribe, then the mode
            await ws.send_str(json.dumps({"a": "subscribe", "v": tokens}))
            await ws.send_str(json.dumps({"a": "mode", "v": ["quote", tokens]}))
        await asyncio.sleep(1.0)  # let the subscriptions settle
        ticks = 0

        async def drain(ws: aiohttp.ClientWebSocketResponse, deadline: float) -> None:
            nonlocal ticks
            while time.perf_counter() < deadline:
                message = await ws.receive(timeout=max(0.01, deadline - time.perf_counter()))
                if message.type == aiohttp.WSMsgType.BINARY and len(message.data) > 2:
                    ticks += struct.unpack_from(">H", message.data)[0]
                    if len(frames) < 50:
                        frames.append(message.data)

        started = time.perf_counter()
        await asyncio.gather(*(drain(ws, started + seconds) for ws in sockets), return_exceptions=True)
        elapsed = time.perf_counter() - started
        for ws in sockets:
            await ws.close()
    return ticks / elapsed


def ticker(seconds: float, connections: int) -> dict[str, float]:
    sim, ready = start_simulator("--tick-interval", "0.01", "--step-seconds", "0.01")
    frames: list[bytes] = []
    try:
        delivered = asyncio.run(measure_ticker(ready, seconds, connections, frames))
    finally:
        stop(sim)
    parser = KiteTicker("key", "token")
    parsed = 0
    started = time.perf_counter()
    while time.perf_counter() - started < 2.0:
        for frame in frames:
            parsed += len(parser._parse_binary(frame))
    parse_rate = parsed / (time.perf_counter() - started)
    return {"connections": connections, "ticks_per_second": delivered, "official_parser_ticks_per_second": parse_rate,
            "ratio": delivered / parse_rate}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    results = {"rest": rest(args.seconds)}
    for count in (1, 3):
        results[f"ticker_{count}"] = ticker(args.seconds, count)
    print(json.dumps(results, indent=2))
    r = results["rest"]
    print(f"REST: simulator {r['simulator_rps']:.0f} req/s vs bare aiohttp {r['bare_aiohttp_rps']:.0f} req/s "
          f"(ratio {r['ratio']:.2f})")  # fmt: skip
    for count in (1, 3):
        t = results[f"ticker_{count}"]
        delivered, parsed = t["ticks_per_second"], t["official_parser_ticks_per_second"]
        print(f"Ticker, {count} connection(s) x 3000 instruments: {delivered:.0f} ticks/s delivered vs official "
              f"parser {parsed:.0f} ticks/s (ratio {t['ratio']:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
