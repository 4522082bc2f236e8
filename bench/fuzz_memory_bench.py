"""The paper gateway's memory under a fuzz run, after it, and around a stream of every instrument.

A paper gateway (`kite-gateway serve --paper`: the gateway and its embedded simulator in one
process) is started; its resident set size (RSS, from /proc) is sampled every 100 ms. Then:

1. fuzz: `--calls` requests spread over every RPC of every service, drawn by tests/fuzzing.py's
   strategies (derandomized: the same requests every run), with strings of up to `--long-most`
   characters (1 MB by default, as in the run of issue 10), from `--concurrency` callers;
2. idle for `--idle` seconds;
3. stream: one StreamTicks holding every instrument of the master (3000 at the start, the rest
   added with UpdateSubscription) for `--stream-seconds`, then closed;
4. idle again.

It prints RSS before, the peak of each phase and after each idle, and fails (exit status 1) when a
peak or an after-idle figure passes `--max-peak-mib` / `--max-idle-mib`, so that a regression
shows here. Linux only (/proc).

    .venv/bin/python bench/fuzz_memory_bench.py [--calls 3000] [--idle 60] [--stream-seconds 20]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, os.path.dirname(__file__))
from kite_gateway_api.v1 import (  # noqa: E402
    account_pb2,
    account_pb2_grpc,
    common_pb2,
    market_data_pb2,
    market_data_pb2_grpc,
    order_pb2,
    order_pb2_grpc,
)
from simulator_bench import free_port  # noqa: E402

from kite_gateway.grpc.registry import API_SERVICES  # noqa: E402
from tests.fuzzing import Known, fuzzed, templates  # noqa: E402

MIB = 1024 * 1024


def rss(pid: int) -> int:
    """Resident set size of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class Sampler:
    """RSS every 100 ms on a thread; the peak since the last `reset`."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            with contextlib.suppress(OSError, RuntimeError):
                self.peak = max(self.peak, rss(self.pid))

    def reset(self) -> int:
        now = rss(self.pid)
        self.peak = now
        return now

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def start_paper_gateway(data_dir: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    env = {**os.environ, "KITE_LOG_LEVEL": "ERROR", "KITE_RATE_LIMIT_PER_SECOND": "100000", "KITE_BURST_LIMIT": "1000"}
    command = [sys.executable, "-m", "kite_gateway", "serve", "--paper", "--listen", f"127.0.0.1:{port}",
               "--paper-listen", f"127.0.0.1:{free_port()}", "--http-listen", f"127.0.0.1:{free_port()}",
               "--data-dir", data_dir]  # fmt: skip
    proc = subprocess.Popen(command, env=env, text=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    address = f"127.0.0.1:{port}"
    channel = grpc.insecure_channel(address)
    grpc.channel_ready_future(channel).result(timeout=60)
    accounts = account_pb2_grpc.AccountServiceStub(channel)
    deadline = time.monotonic() + 60
    while not accounts.ListAccounts(account_pb2.ListAccountsRequest(), timeout=10).accounts:
        if time.monotonic() > deadline:
            raise RuntimeError("the paper accounts never logged in")
        time.sleep(0.2)
    channel.close()
    return proc, address


def _draw(count: int, strategy: Any) -> list[bytes]:
    out: list[bytes] = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(strategy)
    def collect(request: Message) -> None:
        out.append(request.SerializeToString())

    collect()
    return out


def requests_for_every_method(
    calls: int, long_most: int, known: Known, template: dict[str, Message], only: list[str]
) -> list[Any]:
    """(method, request bytes) pairs, `calls` in all, round-robin over the methods (or `only` these)."""
    methods = [m for service in API_SERVICES for m in service.descriptor.methods if not only or m.name in only]
    each = max(1, calls // len(methods))
    drawn: list[Any] = []
    for method in methods:
        drawn.append((method, _draw(each, fuzzed(template.get(method.name), method.input_type, known, long_most))))
    # interleave, so that every moment of the run sees every kind of call
    return [(method, payloads[i]) for i in range(each) for method, payloads in drawn if i < len(payloads)]


def call(channel: grpc.Channel, method: Any, payload: bytes) -> str:
    path = f"/{method.containing_service.full_name}/{method.name}"
    kind = channel.unary_stream if method.server_streaming else channel.unary_unary
    stub = kind(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    try:
        if method.server_streaming:
            stream = stub(payload, timeout=30)
            with contextlib.suppress(StopIteration):
                next(stream)
            stream.cancel()
        else:
            stub(payload, timeout=30)
    except grpc.RpcError as error:
        return str(error.code().name)
    return "OK"


def _every_token(market: Any) -> list[int]:
    """Every instrument token of the master, page by page."""
    request = market_data_pb2.SearchInstrumentsRequest(account_id="ZS0001", page_size=1000)
    tokens: list[int] = []
    while True:
        page = market.SearchInstruments(request)
        tokens += [i.instrument_token for i in page.instruments]
        if not page.next_page_token:
            return tokens
        request.page_token = page.next_page_token


def stream_everything(address: str, seconds: float) -> int:
    """Stream every instrument of the master for `seconds`; returns the ticks received."""
    channel = grpc.insecure_channel(address)
    market = market_data_pb2_grpc.MarketDataServiceStub(channel)
    tokens = _every_token(market)
    total = len(tokens)
    refs = [common_pb2.InstrumentRef(instrument_token=t) for t in tokens]
    request = market_data_pb2.StreamTicksRequest(account_id="ZS0001", instruments=refs[:3000],
                                                 mode=market_data_pb2.TICK_MODE_FULL)  # fmt: skip
    stream = market.StreamTicks(request, timeout=seconds + 60)
    started = next(stream).started
    if refs[3000:]:
        market.UpdateSubscription(market_data_pb2.UpdateSubscriptionRequest(
            account_id="ZS0001", subscription_id=started.subscription_id, add=refs[3000:]))  # fmt: skip
    ticks, deadline = 0, time.monotonic() + seconds
    for event in stream:
        ticks += len(event.ticks.ticks)
        if time.monotonic() > deadline:
            break
    stream.cancel()
    channel.close()
    print(f"  streamed {len(tokens)} of {total} instruments: {ticks} ticks in {seconds:.0f} s")
    return ticks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--long-most", type=int, default=1_000_000, help="longest fuzzed string (characters)")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds idle after each phase")
    parser.add_argument("--stream-seconds", type=float, default=20.0)
    parser.add_argument("--only", action="append", default=[], help="fuzz only this method (repeatable)")
    parser.add_argument("--max-peak-mib", type=float, default=512.0)
    parser.add_argument("--max-idle-mib", type=float, default=384.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        proc, address = start_paper_gateway(data_dir)
        sampler = Sampler(proc.pid)
        try:
            channel = grpc.insecure_channel(address, options=[("grpc.max_send_message_length", 64 * MIB)])
            orders = order_pb2_grpc.OrderServiceStub(channel)
            placed = orders.PlaceOrder(order_pb2.PlaceOrderRequest(
                account_id="ZS0001", client_order_id="bench-1", params=templates("1", 1, "")["PlaceOrder"].params,  # type: ignore[attr-defined]
            ), timeout=30)  # fmt: skip
            gtt = orders.PlaceGtt(templates("1", 1, "")["PlaceGtt"], timeout=30)
            known = Known(order_ids=(placed.order_id,), extra={"api_key": ("sim_api_key",)})
            print(f"drawing {args.calls} requests (strings up to {args.long_most:,} characters) ...")
            work = requests_for_every_method(
                args.calls, args.long_most, known, templates(placed.order_id, gtt.gtt_id, ""), args.only
            )
            # RemoveAccount would end the run's accounts: keep it to requests that name no real account.
            work = [(m, p) for m, p in work if m.name != "RemoveAccount" or b"ZS000" not in p]
            figures: list[tuple[str, float]] = []
            before = sampler.reset()
            figures.append(("RSS before", before / MIB))
            started = time.monotonic()
            with ThreadPoolExecutor(args.concurrency) as pool:
                codes = list(pool.map(lambda item: call(channel, *item), work))
            elapsed = time.monotonic() - started
            counts = {c: codes.count(c) for c in sorted(set(codes))}
            print(f"  {len(work)} fuzzed calls in {elapsed:.1f} s: {counts}")
            figures.append(("peak during the fuzz run", sampler.peak / MIB))
            time.sleep(args.idle)
            figures.append((f"after {args.idle:.0f} s idle", rss(proc.pid) / MIB))
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            sampler.reset()
            stream_everything(address, args.stream_seconds)
            figures.append(("peak during a stream of every instrument", sampler.peak / MIB))
            time.sleep(args.idle)
            figures.append((f"after the stream and {args.idle:.0f} s idle", rss(proc.pid) / MIB))
            channel.close()
        finally:
            sampler.stop()
            proc.terminate()
            proc.wait(timeout=30)
    print("\n| what | RSS |\n|---|---|")
    for name, mib in figures:
        print(f"| {name} | {mib:,.0f} MiB |")
    peaks = [mib for name, mib in figures if name.startswith("peak")]
    idles = [mib for name, mib in figures if name.startswith("after")]
    failed = [f"peak {p:.0f} MiB > {args.max_peak_mib:.0f}" for p in peaks if p > args.max_peak_mib]
    failed += [f"after idle {i:.0f} MiB > {args.max_idle_mib:.0f}" for i in idles if i > args.max_idle_mib]
    if failed:
        print("FAILED: " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
