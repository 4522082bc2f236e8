"""Per-account health: each account appears in grpc.health.v1 as `account/<account_id>`, SERVING
while its session is active and NOT_SERVING when it needs a login (or Kite keeps failing); an
account with a ticker connection also as `ticker/<account_id>`, SERVING while it is connected."""

from __future__ import annotations

import asyncio
from typing import Any

from grpc_health.v1 import health, health_pb2
from kite_gateway_api.v1 import account_pb2

from kite_gateway.core.accounts.manager import AccountManager
from kite_gateway.streaming.tick_streams import TickStreams
from kite_gateway.streaming.ticks import UpstreamState

PREFIX = "account/"
TICKER_PREFIX = "ticker/"


def _status(serving: bool) -> Any:
    return health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING


async def publish_once(
    servicer: health.aio.HealthServicer, accounts: AccountManager, known: set[str], tickers: TickStreams | None = None
) -> None:
    current = {PREFIX + s.account_id: _status(s.state()[0] == account_pb2.SESSION_STATE_ACTIVE) for s in accounts.all()}
    for account_id, streams in tickers.accounts.items() if tickers else ():
        if account_id in accounts.sessions:
            current[TICKER_PREFIX + account_id] = _status(streams.state == UpstreamState.CONNECTED)
    for name, status in current.items():
        await servicer.set(name, status)
    for gone in known - set(current):
        await servicer.set(gone, health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)
    known.clear()
    known.update(current)


async def publish(
    servicer: health.aio.HealthServicer, accounts: AccountManager, tickers: TickStreams, interval: float = 5.0
) -> None:
    """Keep the per-account entries current until cancelled."""
    known: set[str] = set()
    while True:
        await publish_once(servicer, accounts, known, tickers)
        await asyncio.sleep(interval)
