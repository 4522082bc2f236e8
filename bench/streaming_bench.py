"""Tick fan-out at Kite's cadence: a 3000-instrument quote subscription delivered to 1 and 10
subscribers, each in its own client process, p50/p99 latency from the gateway receiving the upstream
frame (Tick.receive_time) to the subscriber's read of the message carrying the tick.

Scenarios (each its own simulator and gateway):

- `kite-1fps`: Kite's cadence, every instrument ticks about once a second and a connection's
  whole subscription goes out in one frame a second (3000 packets: the worst case for latency);
  `kite-gateway sim --frames-per-second 1`.
- `kite-10fps`: the same ticks spread over ten frames a second (about 300 packets each);
  `kite-gateway sim --frames-per-second 10`.
- `saturation`: every price moves every 100 ms and every changed instrument goes out every 100 ms
  (`--tick-interval 0.1 --step-seconds 0.1`: up to 30,000 ticks/s a subscriber, 10x Kite's
  cadence, as far as the simulator keeps up), for `--saturation-counts` subscribers; ticks/s
  delivered to all subscribers together is the figure, and the gateway's CPU per delivered tick
  says how far from its own limit it ran.

Kite does not document how it groups ticks into frames (its docs describe the packet format, not
how many packets a frame carries or how often frames come), hence the two frame models above.

Each count runs `--repeats` times (min/median/max printed). The reference of the same run is the
upstream cadence itself: delivered ticks/s against what the simulator sent per subscriber, and the
share each subscriber got rather than had conflated (ListSubscriptions). Each client process
reads raw bytes (no deserialization before the clock is read), parses with upb, and reports its
own CPU share (getrusage) over the measured window: when that share is well below one core, the
client is not what limits the figure. Gateway and simulator CPU shares come from /proc.

Gateway RSS: sampled during each run, minus the gateway's RSS before its subscribers opened
(per subscriber: that growth over the count). With `--soak SECONDS` the bench instead runs 10
subscribers on the 10-frames model for that long, sampling the gateway's RSS every 10 s, and
says whether it stayed flat (last minute against first minute); at the end a second account
(ZS0002, its own 3000 instruments and one subscriber) is added to state the RSS of an account.
With `--py-spy DIR` each scenario's largest count is profiled once (py-spy --gil, raw format,
summarized by the functions on CPU). With `--reference TREE` a second gateway running TREE's code
(e.g. the main branch before this change) serves the same simulator, and each repeat measures it
right after this tree's: the ratios of the medians are the same-run comparison.

    .venv/bin/python bench/streaming_bench.py [--seconds 10] [--repeats 3] [--counts 1 10]
        [--scenarios kite-1fps kite-10fps saturation] [--py-spy DIR] [--reference TREE] [--soak SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import requests
from kite_gateway_api.v1 import account_pb2, account_pb2_grpc, common_pb2, market_data_pb2, market_data_pb2_grpc

sys.path.insert(0, os.path.dirname(__file__))
from gateway_bench import SECRET, access_token, start_gateway
from simulator_bench import start_simulator, stop

SCENARIOS = {
    "kite-1fps": ("--frames-per-second", "1"),
    "kite-10fps": ("--frames-per-second", "10"),
    "saturation": ("--tick-interval", "0.1", "--step-seconds", "0.1"),
}
BUCKET = 0.0001  # latency histogram: 0.1 ms buckets
STREAM = "/kite_gateway.v1.MarketDataService/StreamTicks"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process (from /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Outcome:
    """One subscriber process over the measured window."""

    delivered: int
    histogram: dict[int, int]  # latency bucket -> ticks
    cpu_share: float  # of one core
    subscription_id: str


def subscriber(address: str, account: str, symbols: list[str], window: Any, queue: Any) -> None:
    """A client process: one StreamTicks subscriber counting ticks and their latency while the
    parent's window (shared [start, end] Unix times, 0 until set) is open; it puts ("ready",
    subscription id) on `queue` at its first ticks, then ("done", Outcome)."""
    queue.put(("done", asyncio.run(_subscribe(address, account, symbols, window, queue))))


async def _subscribe(address: str, account: str, symbols: list[str], window: Any, queue: Any) -> Outcome:
    request = market_data_pb2.StreamTicksRequest(
        account_id=account,
        instruments=[common_pb2.InstrumentRef(symbol=s) for s in symbols],
        mode=market_data_pb2.TICK_MODE_QUOTE,
    )
    histogram: collections.Counter[int] = collections.Counter()
    delivered, cpu_at_start, started_at, ticked = 0, 0.0, 0.0, False
    parse = market_data_pb2.StreamTicksResponse.FromString
    options = [("grpc.max_receive_message_length", 64 << 20)]
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        stream = channel.unary_stream(STREAM, request_serializer=lambda r: r.SerializeToString())
        call = stream(request)
        subscription_id = parse(await call.read()).started.subscription_id
        while True:
            raw = await call.read()
            now = time.time()
            start, end = window[0], window[1]
            if end and now >= end:
                break
            if not isinstance(raw, bytes) or raw[:1] != b"\x12":  # not a TickBatch (field 2): a note, a heartbeat
                continue
            if not ticked:
                ticked = True
                queue.put(("ready", subscription_id))
            if not start or now < start:
                continue
            if not started_at:
                usage = resource.getrusage(resource.RUSAGE_SELF)
                cpu_at_start, started_at = usage.ru_utime + usage.ru_stime, now
            ticks = parse(raw).ticks.ticks
            delivered += len(ticks)
            for tick in ticks:
                received = tick.receive_time
                histogram[int((now - received.seconds - received.nanos / 1e9) / BUCKET)] += 1
        usage = resource.getrusage(resource.RUSAGE_SELF)
        call.cancel()
    share = (usage.ru_utime + usage.ru_stime - cpu_at_start) / max(1e-9, time.time() - started_at)
    return Outcome(delivered, dict(histogram), share, subscription_id)


def percentile(histogram: dict[int, int], share: float) -> float:
    """The latency (ms) below which `share` of the ticks fell (bucket upper bound)."""
    total = sum(histogram.values())
    if not total:
        return float("nan")
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= share * total:
            return (bucket + 1) * BUCKET * 1000
    return float("nan")


@dataclass
class Gateway:
    sim: subprocess.Popen[str]
    gateway: subprocess.Popen[str]
    address: str
    ready: dict[str, Any]
    symbols: list[str]


def open_gateway(scenario: str, data_dir: str) -> Gateway:
    sim, ready = start_simulator(*SCENARIOS[scenario])
    gateway, address = start_gateway(ready, data_dir)
    add_account(address, ready, "ZS0001")
    dump = requests.get(f"{ready['api_endpoint']}/instruments", headers={"X-Kite-Version": "3"}, timeout=30)
    rows = [line.split(",") for line in dump.text.splitlines()[1:]]
    symbols = [f"{row[-1]}:{row[2]}" for row in rows if row[-2] != "INDICES"][:3000]
    return Gateway(sim, gateway, address, ready, symbols)


def add_account(address: str, ready: dict[str, Any], user_id: str) -> None:
    with grpc.insecure_channel(address) as channel:
        account_pb2_grpc.AccountServiceStub(channel).AddAccount(
            account_pb2.AddAccountRequest(
                api_key=ready["api_key"], api_secret=SECRET, access_token=access_token(ready, user_id)
            )
        )


def conflation_shares(address: str, account: str, ids: Sequence[str]) -> list[float]:
    with grpc.insecure_channel(address) as channel:
        listed = market_data_pb2_grpc.MarketDataServiceStub(channel).ListSubscriptions(
            market_data_pb2.ListSubscriptionsRequest(account_id=account)
        )
    return [
        s.delivered_ticks / max(1, s.delivered_ticks + s.conflated_ticks)
        for s in listed.subscriptions
        if s.subscription_id in ids
    ]


class Subscribers:
    """`count` subscriber processes on `account`, opened and ready (each has had a tick)."""

    def __init__(self, env: Gateway, count: int, account: str = "ZS0001") -> None:
        context = multiprocessing.get_context("spawn")
        self.window = context.Array("d", [0.0, 0.0], lock=False)
        self.queue = context.Queue()
        args = (env.address, account, env.symbols, self.window, self.queue)
        self.processes = [context.Process(target=subscriber, args=args, daemon=True) for _ in range(count)]
        for process in self.processes:
            process.start()
        self.ids = [self._next("ready") for _ in range(count)]

    def _next(self, kind: str) -> Any:
        got, value = self.queue.get(timeout=120)
        assert got == kind, f"a subscriber process said {got} before {kind}"
        return value

    def measure(self, seconds: float, settle: float = 2.0) -> None:
        """Open the measured window `settle` seconds from now, for `seconds`."""
        self.window[0] = time.time() + settle
        self.window[1] = self.window[0] + seconds

    def outcomes(self) -> list[Outcome]:
        outcomes = [self._next("done") for _ in self.processes]
        for process in self.processes:
            process.join(timeout=30)
        return outcomes


def run(env: Gateway, count: int, seconds: float, profile: Path | None = None) -> dict[str, float]:
    """One measured run of `count` subscribers: latency, ticks/s, CPU shares, gateway RSS."""
    gateway_pid, sim_pid = env.gateway.pid, env.sim.pid
    before = rss_kib(gateway_pid)
    subscribers = Subscribers(env, count)
    subscribers.measure(seconds)
    time.sleep(max(0.0, subscribers.window[0] - time.time()))
    cpu_gateway, cpu_sim, started = cpu_seconds(gateway_pid), cpu_seconds(sim_pid), time.time()
    spy = None
    if profile is not None:
        spy = subprocess.Popen(
            ["/work/main/.venv/bin/py-spy", "record", "--pid", str(gateway_pid), "--duration", str(int(seconds)),
             "--gil", "--format", "raw", "--rate", "200", "--output", str(profile), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    time.sleep(seconds / 2)
    during = rss_kib(gateway_pid)
    time.sleep(max(0.0, subscribers.window[1] - 0.3 - time.time()))
    shares = conflation_shares(env.address, "ZS0001", subscribers.ids)  # while they are still open
    time.sleep(max(0.0, subscribers.window[1] - time.time()))
    elapsed = time.time() - started
    gateway_share = (cpu_seconds(gateway_pid) - cpu_gateway) / elapsed
    sim_share = (cpu_seconds(sim_pid) - cpu_sim) / elapsed
    outcomes = subscribers.outcomes()
    if spy is not None:
        spy.wait(timeout=60)
    histogram: collections.Counter[int] = collections.Counter()
    for outcome in outcomes:
        histogram.update(outcome.histogram)
    return {
        "ticks_per_second": sum(o.delivered for o in outcomes) / seconds,
        "gateway_us_per_tick": gateway_share * seconds / max(1, sum(o.delivered for o in outcomes)) * 1e6,
        "p50_ms": percentile(histogram, 0.50),
        "p99_ms": percentile(histogram, 0.99),
        "max_ms": percentile(histogram, 1.0),
        "client_cpu_max": max(o.cpu_share for o in outcomes),
        "gateway_cpu": gateway_share,
        "sim_cpu": sim_share,
        "rss_per_subscriber_kib": (during - before) / count,
        "rss_kib": during,
        "delivered_share": min(shares) if shares else float("nan"),
        "load": os.getloadavg()[0],  # the machine's 1-minute load average (2 cores, shared)
    }


def spread(values: list[float], form: str) -> str:
    return "/".join(format(v, form) for v in (min(values), statistics.median(values), max(values)))


def summarize_profile(path: Path, top: int = 12) -> None:
    """The functions on CPU in a py-spy raw profile, by their own samples and with their callees."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [frame.split(" (")[0] for frame in stack.split(";")]
        total += int(count)
        own[frames[-1]] += int(count)
        for name in set(frames):
            inclusive[name] += int(count)
    print(f"    profile {path} ({total} samples holding the GIL):")
    for name, samples in own.most_common(top):
        print(f"      {100 * samples / total:5.1f}% own {100 * inclusive[name] / total:5.1f}% incl  {name}")
    interesting = ("_on_ticks", "_publish", "decode_message", "tick_bytes", "StreamTicks", "ticks_frame", "recv")
    for name in interesting:
        matched = [n for n in inclusive if n.startswith(name)]
        for n in matched:
            print(f"      {100 * inclusive[n] / total:5.1f}% incl  {n}")


def reference_gateway(env: Gateway, tree: str, data_dir: str) -> Gateway:
    """A second gateway on the same simulator, running another tree's code (e.g. main before this change)."""
    path = os.pathsep.join(f"{tree}/{part}" for part in ("api/python", "clients/python", ""))
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = path
    try:
        gateway, address = start_gateway(env.ready, data_dir)
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = saved
    add_account(address, env.ready, "ZS0001")
    return Gateway(env.sim, gateway, address, env.ready, env.symbols)


def report(label: str, count: int, results: list[dict[str, float]]) -> None:
    def of(key: str) -> list[float]:
        return [r[key] for r in results]

    print(
        f"  {label}: {count:>2} subscriber(s), min/median/max of {len(results)}: "
        f"p50 {spread(of('p50_ms'), '.1f')} ms, p99 {spread(of('p99_ms'), '.1f')} ms "
        f"(max {spread(of('max_ms'), '.0f')}), {spread(of('ticks_per_second'), ',.0f')} ticks/s delivered, "
        f"{spread(of('delivered_share'), '.3f')} of upstream ticks delivered (rest conflated); "
        f"CPU of a core: gateway {spread(of('gateway_cpu'), '.2f')}, "
        f"simulator {spread(of('sim_cpu'), '.2f')}, busiest client {spread(of('client_cpu_max'), '.2f')}; "
        f"machine load {spread(of('load'), '.1f')}; "
        f"gateway CPU {spread(of('gateway_us_per_tick'), '.2f')} us per delivered tick; "
        f"gateway RSS {spread([r / 1024 for r in of('rss_kib')], '.0f')} MiB, "
        f"{spread(of('rss_per_subscriber_kib'), '.0f')} KiB per subscriber",
        flush=True,
    )


def scenario(name: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as data_dir, tempfile.TemporaryDirectory() as reference_dir:
        env = open_gateway(name, data_dir)
        reference = reference_gateway(env, args.reference, reference_dir) if args.reference else None
        try:
            print(f"{name} ({' '.join(SCENARIOS[name])}): {len(env.symbols)} instruments, quote mode", flush=True)
            counts = args.saturation_counts if name == "saturation" else args.counts
            for count in counts:
                results: list[dict[str, float]] = []
                before: list[dict[str, float]] = []
                for repeat in range(args.repeats):
                    profile = None
                    if args.py_spy and repeat == 0 and count == max(counts):
                        profile = Path(args.py_spy) / f"{name}-{count}.txt"
                    results.append(run(env, count, args.seconds, profile))
                    if profile is not None and profile.exists():
                        summarize_profile(profile)
                    if reference is not None:
                        before.append(run(reference, count, args.seconds))
                report("this tree", count, results)
                if reference is not None:
                    report(f"reference {args.reference}", count, before)
                    p50, p99 = (statistics.median(r[key] for r in results) for key in ("p50_ms", "p99_ms"))
                    ref50, ref99 = (statistics.median(r[key] for r in before) for key in ("p50_ms", "p99_ms"))
                    rate = statistics.median(r["ticks_per_second"] for r in results)
                    ref_rate = statistics.median(r["ticks_per_second"] for r in before)
                    print(
                        f"  this tree / reference (medians): p50 {p50 / ref50:.2f}, p99 {p99 / ref99:.2f}, "
                        f"ticks/s {rate / ref_rate:.2f}",
                        flush=True,
                    )
        finally:
            stop(*(g.gateway for g in (env, reference) if g is not None), env.sim)


def soak(seconds: float, count: int) -> None:
    """First the RSS of an account: a second account (ZS0002, its own upstream connection and 3000
    instruments) with one subscriber, over the idle gateway; then `count` subscribers on ZS0001 on
    the 10-frames model for `seconds` (ZS0002's subscriber still streaming), the gateway's RSS
    every 10 s, first minute against last."""
    with tempfile.TemporaryDirectory() as data_dir:
        env = open_gateway("kite-10fps", data_dir)
        try:
            pid = env.gateway.pid
            idle = rss_kib(pid)
            add_account(env.address, env.ready, "ZS0002")
            other = Subscribers(env, 1, account="ZS0002")
            other.measure(seconds + 15.0, settle=0.0)
            time.sleep(10.0)
            account = rss_kib(pid) - idle
            print(
                f"an account (ZS0002: its own upstream connection, 3000 instruments, 1 subscriber): "
                f"{account / 1024:.1f} MiB of gateway RSS over the idle gateway's {idle / 1024:.1f} MiB",
                flush=True,
            )
            subscribers = Subscribers(env, count)
            subscribers.measure(seconds, settle=0.0)
            samples: list[tuple[float, int]] = []
            started = time.time()
            while time.time() - started < seconds:
                samples.append((time.time() - started, rss_kib(pid)))
                print(f"  soak t={samples[-1][0]:5.0f}s gateway RSS {samples[-1][1] / 1024:.1f} MiB", flush=True)
                time.sleep(10.0)
            outcomes = subscribers.outcomes() + other.outcomes()
            first = [rss for at, rss in samples if at < 60]
            last = [rss for at, rss in samples if at >= samples[-1][0] - 60]
            growth = statistics.mean(last) / statistics.mean(first) - 1
            histogram: collections.Counter[int] = collections.Counter()
            for outcome in outcomes:
                histogram.update(outcome.histogram)
            print(
                f"soak {seconds:.0f}s, {count} subscribers on ZS0001 and 1 on ZS0002 (kite-10fps): first minute "
                f"{statistics.mean(first) / 1024:.1f} MiB, last minute {statistics.mean(last) / 1024:.1f} MiB "
                f"({100 * growth:+.1f}%: {'flat' if abs(growth) < 0.05 else 'NOT flat'}); p50 "
                f"{percentile(histogram, 0.5):.1f} ms p99 {percentile(histogram, 0.99):.1f} ms over the soak; "
                f"busiest client {max(o.cpu_share for o in outcomes):.2f} of a core",
                flush=True,
            )
        finally:
            stop(env.gateway, env.sim)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds of each run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--saturation-counts", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--scenarios", nargs="+", choices=sorted(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--py-spy", help="profile each scenario's largest count once into this directory")
    parser.add_argument("--reference", help="a tree (e.g. /work/main) whose gateway runs beside, repeat by repeat")
    parser.add_argument("--soak", type=float, default=0.0, help="instead: a soak of this many seconds")
    parser.add_argument("--soak-subscribers", type=int, default=10)
    args = parser.parse_args()
    if args.soak:
        soak(args.soak, args.soak_subscribers)
        return
    if args.py_spy:
        Path(args.py_spy).mkdir(parents=True, exist_ok=True)
    for name in args.scenarios:
        scenario(name, args)


if __name__ == "__main__":
    main()
