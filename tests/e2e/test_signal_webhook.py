"""Signals by webhook against the paper gateway's HTTP listener: a signed body becomes a signal
and its orders at the simulator; a replayed, unsigned, badly signed or stale body is refused and
orders nothing; a TradingView-style body carrying the secret is taken."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kite_gateway.core.signals.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from kite_gateway.http import HttpEndpoints
from kite_gateway.http.signal_webhook import WEBHOOK_PATH
from kite_simulator import ThreadedSimulator
from tests.e2e.conftest import Stack, start_stack, stop_stack

SECRET = "momentum-webhook-secret-0123456789"
STRATEGIES = """
[strategies.momentum]
accounts = ["ZS0001"]
product = "MIS"
"""


@dataclass
class Hooked:
    stack: Stack
    http: HttpEndpoints
    url: str

    def now(self) -> str:
        return str(int(self.stack.sim.clock.now().timestamp()))

    async def post(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.url, data=json.dumps(body).encode(), headers=headers or {}) as reply,
        ):
            return reply.status, await reply.json(content_type=None)

    async def signed(self, body: dict[str, Any], secret: str = SECRET, stamp: str | None = None) -> tuple[int, Any]:
        raw = json.dumps(body).encode()
        stamp = stamp or self.now()
        headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(secret.encode(), stamp, raw),
                   "Content-Type": "application/json"}  # fmt: skip
        async with aiohttp.ClientSession() as http, http.post(self.url, data=raw, headers=headers) as reply:
            return reply.status, await reply.json(content_type=None)


@pytest.fixture
async def hooked(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> AsyncIterator[Hooked]:
    strategies = tmp_path / "strategies.toml"
    strategies.write_text(STRATEGIES)
    secrets = tmp_path / "webhook-secrets.toml"
    secrets.write_text(f'momentum = "{SECRET}"\n')
    os.chmod(secrets, 0o600)
    stack = await start_stack(tmp_path, sim, sealing_key, gateway_strategies_file=strategies,
                              gateway_webhook_secrets_file=secrets)  # fmt: skip
    assert stack.runtime.webhook is not None
    http = stack.runtime.http_endpoints("127.0.0.1", 0)
    await http.start()
    yield Hooked(stack, http, f"http://127.0.0.1:{http.port}{WEBHOOK_PATH}")
    await http.stop()
    await stop_stack(stack)


def body(signal_id: str, **extra: Any) -> dict[str, Any]:
    return {"strategy_id": "momentum", "signal_id": signal_id, "symbol": "NSE:INFY", "side": "buy", "quantity": 3,
            **extra}  # fmt: skip


def infy_orders(hooked: Hooked) -> list[dict[str, Any]]:
    return [o for o in hooked.stack.kite_orders("ZS0001") if o["tradingsymbol"] == "INFY"]


async def test_a_signed_webhook_becomes_a_routed_signal_and_one_order_and_its_replay_is_refused(hooked: Hooked) -> None:
    status, answer = await hooked.signed(body("tv-1"))
    assert status == 200 and answer["state"] == "ROUTED", answer
    (order,) = infy_orders(hooked)
    assert (order["quantity"], order["transaction_type"], order["product"]) == (3, "BUY", "MIS")
    record = await hooked.stack.runtime.signals.get("momentum", "tv-1")
    assert record.principal == "webhook:momentum" and record.orders[0].order_id == order["order_id"]

    status, answer = await hooked.signed(body("tv-1"))  # the same delivery again
    assert status == 409, answer
    assert len(infy_orders(hooked)) == 1


async def test_unsigned_badly_signed_wrongly_keyed_and_stale_webhooks_are_refused_and_order_nothing(
    hooked: Hooked,
) -> None:
    assert (await hooked.post(body("bad-1")))[0] == 401  # no signature, no secret
    raw_status, _ = await hooked.post(
        body("bad-2"), {TIMESTAMP_HEADER: hooked.now(), SIGNATURE_HEADER: "sha256=" + "0" * 64}
    )
    assert raw_status == 401
    assert (await hooked.signed(body("bad-3"), secret="another-secret-of-32-characters!!"))[0] == 401
    stale = str(int(hooked.now()) - 3600)
    assert (await hooked.signed(body("bad-4"), stamp=stale))[0] == 401
    assert infy_orders(hooked) == []
    for signal_id in ("bad-1", "bad-2", "bad-3", "bad-4"):
        assert await hooked.stack.runtime.signals.store.get("momentum", signal_id) is None


async def test_a_tradingview_style_body_with_the_secret_and_a_timestamp_is_taken(hooked: Hooked) -> None:
    status, answer = await hooked.post(body("tv-2", secret=SECRET, timestamp=int(hooked.now())))
    assert status == 200 and answer["state"] == "ROUTED", answer
    assert len(infy_orders(hooked)) == 1
    wrong = await hooked.post(body("tv-3", secret="not-the-secret-at-all-000000", timestamp=int(hooked.now())))
    assert wrong[0] == 401 and len(infy_orders(hooked)) == 1
