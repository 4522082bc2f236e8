"""Wall time of each stage of a placement inside the gateway, for bench/order_bench.py --stages.

On PYTHONPATH with ORDER_STAGES=<path> set, this wraps the placement's steps (the idempotency
record's statements, the order queue, the risk check, the Kite call, the audit entry) and the
statements run on SQLite's thread, and writes their counts and times to <path>.<pid> every second
(the process that placed nothing writes nothing). Without ORDER_STAGES it does nothing.
"""

from __future__ import annotations

import builtins
import functools
import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

_times: defaultdict[str, list[float]] = defaultdict(list)

# (module, class, method): awaited on the event loop, timed from call to result.
AWAITED = [
    ("kite_gateway.grpc.order_servicer", "OrderServicer", "PlaceOrder"),
    ("kite_gateway.core.orders.trading", "OrderActions", "place"),
    ("kite_gateway.core.orders.placement", "IdempotentPlacement", "place_order"),
    ("kite_gateway.core.orders.placement", "IdempotentPlacement", "_place"),
    ("kite_gateway.core.orders.dispatch", "OrderDispatch", "send"),
    ("kite_gateway.core.risk.checks", "PreTradeRisk", "admit"),
    ("kite_gateway.kite.orders", "KiteOrders", "place_order_now"),
    ("kite_gateway.core.orders.accounts", "OrderAccounts", "trading"),
    ("kite_gateway.storage.idempotency", "IdempotencyStore", "claim"),
    ("kite_gateway.storage.idempotency", "IdempotencyStore", "mark_sent"),
    ("kite_gateway.storage.idempotency", "IdempotencyStore", "settle"),
    ("kite_gateway.storage.audit", "AuditLog", "append"),
]
# Functions run on the event loop, timed from call to return: (module, name).
CALLED = [("kite_gateway.grpc.order_mapping", "new_order"), ("kite_gateway.grpc.order_mapping", "with_algo_id")]
# Functions run on SQLite's thread (kite_gateway/storage/sqlite.py), timed there, by statement.
ON_THREAD = ["_write", "_write_each", "_returning", "_fetch_one", "_fetch_all"]


def _awaited(owner: Any, name: str, label: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            _times[label].append(time.perf_counter() - started)

    setattr(owner, name, timed)


def _called(module: Any, name: str) -> None:
    original = getattr(module, name)

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            _times[f"{name} (on the loop)"].append(time.perf_counter() - started)

    setattr(module, name, timed)


def _on_thread(module: Any, name: str) -> None:
    original = getattr(module, name, None)
    if original is None:
        return

    def timed(db: Any, sql: str, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(db, sql, *args)
        finally:
            _times["sqlite thread: " + " ".join(sql.split()[:4])].append(time.perf_counter() - started)

    setattr(module, name, timed)


def _install() -> None:
    import importlib

    for module_name, class_name, method in AWAITED:
        owner = getattr(importlib.import_module(module_name), class_name)
        _awaited(owner, method, f"{class_name}.{method}")
    for module_name, name in CALLED:
        _called(importlib.import_module(module_name), name)
    sqlite = importlib.import_module("kite_gateway.storage.sqlite")
    for name in ON_THREAD:
        _on_thread(sqlite, name)


def _dump(path: str) -> None:
    while True:
        time.sleep(1.0)
        if not _times.get("OrderServicer.PlaceOrder"):
            continue
        summary = {
            label: {"count": len(values), "mean_ms": 1000 * sum(values) / len(values),
                    "p50_ms": 1000 * sorted(values)[len(values) // 2]}
            for label, values in list(_times.items())
        }  # fmt: skip
        with open(f"{path}.{os.getpid()}", "w") as out:
            json.dump(summary, out, indent=1)


def _when_cli_is_imported(install: Callable[[], None]) -> None:
    original_import = builtins.__import__
    done = False

    def hook(name: str, *args: Any, **kwargs: Any) -> Any:
        nonlocal done
        module = original_import(name, *args, **kwargs)
        if not done and name == "kite_gateway.cli":
            done = True
            builtins.__import__ = original_import
            install()
        return module

    builtins.__import__ = hook


if os.environ.get("ORDER_STAGES"):
    _when_cli_is_imported(_install)
    threading.Thread(target=_dump, args=(os.environ["ORDER_STAGES"],), daemon=True).start()
