"""Per-account health: each account appears in grpc.health.v1 as `account/<account_id>`, SERVING
while its session is active and NOT_SERVING when it needs a login (or Kite keeps failing)."""

from __future__ import annotations

import asyncio

from grpc_health.v1 import health, health_pb2

from kite_gateway.accounts.manager import AccountManager
from kite_gateway.v1 import account_pb2

PREFIX = "account/"


async def publish_once(servicer: health.aio.HealthServicer, accounts: AccountManager, known: set[str]) -> None:
    current = {session.account_id: session.state()[0] for session in accounts.all()}
    for account_id, state in current.items():
        serving = state == account_pb2.SESSION_STATE_ACTIVE
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        await servicer.set(PREFIX + account_id, status)
    for gone in known - set(current):
        await servicer.set(PREFIX + gone, health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)
    known.clear()
    known.update(current)


async def publish(servicer: health.aio.HealthServicer, accounts: AccountManager, interval: float = 5.0) -> None:
    """Keep the per-account entries current until cancelled."""
    known: set[str] = set()
    while True:
        await publish_once(servicer, accounts, known)
        await asyncio.sleep(interval)
