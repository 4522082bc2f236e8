"""Per-account health: each account appears in grpc.health.v1 as `account/<account_id>`, SERVING
while its session is active and NOT_SERVING when it needs a login (or Kite keeps failing); an
account with a ticker connection also as `ticker/<account_id>`, SERVING while it is connected.

In clustered mode the gateway also depends on shared services (the database, the bus, its lease
keeper): each appears as `dependency/<name>`, and while any is down the overall entry ("") and every
API service turn NOT_SERVING, so a Kubernetes readiness probe takes the replica out of rotation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from grpc_health.v1 import health, health_pb2

PREFIX = "account/"
TICKER_PREFIX = "ticker/"
DEPENDENCY_PREFIX = "dependency/"


def _none() -> Mapping[str, bool]:
    return {}


@dataclass(frozen=True)
class HealthSources:
    """By account id: whether its session is active; whether its ticker upstream is connected; by
    name, whether each shared service the replica needs is reachable (`serving` names the entries
    that follow them, the API services; the overall entry "" always does)."""

    accounts: Callable[[], Mapping[str, bool]]
    tickers: Callable[[], Mapping[str, bool]] = field(default=_none)
    dependencies: Callable[[], Mapping[str, bool]] = field(default=_none)
    serving: tuple[str, ...] = ()


def _status(serving: bool) -> Any:
    return health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING


async def publish_once(servicer: health.aio.HealthServicer, sources: HealthSources, known: set[str]) -> None:
    accounts = sources.accounts()
    current = {PREFIX + account_id: _status(active) for account_id, active in sorted(accounts.items())}
    for account_id, connected in sources.tickers().items():
        if account_id in accounts:
            current[TICKER_PREFIX + account_id] = _status(connected)
    dependencies = sources.dependencies()
    for name, up in sorted(dependencies.items()):
        current[DEPENDENCY_PREFIX + name] = _status(up)
    if dependencies:  # the overall entry (what a readiness probe asks) follows them, named or not
        for name in dict.fromkeys(("", *sources.serving)):
            current[name] = _status(all(dependencies.values()))
    for name, status in current.items():
        await servicer.set(name, status)
    for gone in known - set(current):
        await servicer.set(gone, health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)
    known.clear()
    known.update(current)


async def publish(servicer: health.aio.HealthServicer, sources: HealthSources, interval: float = 5.0) -> None:
    """Keep the per-account entries current until cancelled."""
    known: set[str] = set()
    while True:
        await publish_once(servicer, sources, known)
        await asyncio.sleep(interval)
