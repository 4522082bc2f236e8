"""Sums a py-spy raw profile (`py-spy record --format raw`) of the gateway by component and by function.

Each sample's stack is read from its innermost frame outwards and charged to the first component
whose code it is in (the idempotency record before the SQLite driver under it, the risk checks
before the logging they call, ...); what matches none is charged to the outermost rule that does.
With `--threads` samples (bench/order_bench.py --wall) the thread's name comes first on each line.

    .venv/bin/python bench/profile_summary.py raw.txt [--top 25]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

# (component, pattern on "function (file:line)"), the specific before the generic.
COMPONENTS: list[tuple[str, str]] = [
    ("idempotency record", r"kite_gateway/storage/idempotency\.py"),
    ("audit (sealing)", r"kite_gateway/storage/(sealing|audit)\.py|cryptography/|audited \(kite_gateway/grpc/context"),
    ("risk checks", r"kite_gateway/core/risk/|kite_gateway/core/orders/admission\.py"),
    ("order queue and pacing", r"kite_gateway/core/orders/dispatch\.py|kite_gateway/kite/limits\.py|aiolimiter"),
    (
        "order updates and fills",
        r"kite_gateway/(streaming|core/order_updates|core/reports|storage/(fills|fill_records|"
        r"order_updates))|kite_gateway/alert_feeds|kite_gateway/core/alerts|kite_gateway/cluster",
    ),
    ("metrics", r"prometheus_client|kite_gateway/observability|metrics_interceptor"),
    ("logging", r"structlog|logging/|kite_gateway/structured_logs"),
    (
        "kite transport (kiteconnect, requests, urllib3)",
        r"kiteconnect/|requests/|urllib3/|http/client|socket\.py|"
        r"ssl\.py|kite_gateway/kite/(caller|client|egress)",
    ),
    ("kite adapter (orders, rows)", r"kite_gateway/kite/"),
    ("placement (core/orders)", r"kite_gateway/core/orders/"),
    (
        "request mapping (grpc/order_mapping, protobuf)",
        r"kite_gateway/grpc/(order_)?mapping|google/protobuf|"
        r"json_format",
    ),
    ("sqlite (other stores)", r"kite_gateway/storage/|aiosqlite|sqlite3"),
    ("grpc layer (servicer, interceptors, grpc.aio)", r"kite_gateway/grpc/|kite_gateway/auth/|grpc/|grpc\._cython"),
    ("asyncio event loop", r"asyncio/"),
    ("threads (pool workers, idle)", r"threading\.py|concurrent/futures"),
]
_COMPILED = [(name, re.compile(pattern)) for name, pattern in COMPONENTS]


def parse(path: str) -> list[tuple[str, list[str], int]]:
    """(thread, frames outermost first, samples) per line."""
    out = []
    with open(path) as source:
        for line in source:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames = stack.split(";")
            thread = frames.pop(0) if frames and frames[0].startswith("thread (") else ""
            out.append((re.sub(r"^thread \(\d+\): ", "", thread), frames, int(count)))
    return out


def component(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, pattern in _COMPILED:
            if pattern.search(frame):
                return name
    return "other"


def function(frame: str) -> str:
    return re.sub(r":\d+\)$", ")", frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("raw")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    samples = parse(args.raw)
    total = sum(count for _, _, count in samples) or 1
    by_component: Counter[str] = Counter()
    by_thread: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for thread, frames, count in samples:
        by_component[component(frames)] += count
        by_thread[re.sub(r"_\d+$", "_N", thread) or "-"] += count
        if frames:
            own[function(frames[-1])] += count
        for name in {function(frame) for frame in frames}:
            inclusive[name] += count
    print(f"{total} samples")
    print("\nBy component:")
    for name, count in by_component.most_common():
        print(f"  {100 * count / total:5.1f}%  {name}")
    if len(by_thread) > 1:
        print("\nBy thread:")
        for name, count in by_thread.most_common():
            print(f"  {100 * count / total:5.1f}%  {name}")
    print(f"\nTop {args.top} functions by own samples:")
    for name, count in own.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {name}")
    print(f"\nTop {args.top} kite_gateway functions by inclusive samples:")
    ours = [(n, c) for n, c in inclusive.most_common() if "kite_gateway/" in n and "cli.py" not in n]
    for name, count in ours[: args.top]:
        print(f"  {100 * count / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
