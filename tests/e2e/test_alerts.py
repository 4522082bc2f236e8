"""Gateway alerts end to end: the paper gateway with an alerts file of one rule per kind and a
webhook sink (a local HTTP receiver that checks every signature), a position opened through the
gateway, the simulator's market moved until the daily loss limit is crossed. Each rule's alert
reaches the webhook exactly once however many more events follow, the automatic exit squares off
and is alerted, and after a restart over the same data the alert sequence goes on without a gap
and nothing already alerted is alerted again."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiohttp import web
from kite_gateway_api.v1 import alert_pb2, alert_pb2_grpc, common_pb2, order_pb2

from kite_gateway.app import App
from kite_gateway.core.alerts import AlertConfigError
from kite_gateway.core.alerts.delivery import SEQUENCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from kite_gateway.storage import DATABASE_FILE
from kite_simulator import Fault, ThreadedSimulator
from tests.e2e.conftest import (
    Stack,
    eventually,
    make_settings,
    market_buy,
    pass_the_quarantine,
    start_stack,
    stop_stack,
)
from tests.e2e.test_exits import LOSS_LIMIT, QUANTITY, STEP, SYMBOL, path
from tests.e2e.test_order_faults import resting_buy

ACCOUNT = "ZS0001"
SECRET = "a-webhook-signing-secret-of-test"


@dataclass
class Receiver:
    """A webhook receiver: every delivery it was sent, and whether its signature held."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    forged: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = request.headers
        if not verify(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER]):
            self.forged += 1
            return web.Response(status=401)
        alert = json.loads(body)
        assert str(alert["sequence"]) == headers[SEQUENCE_HEADER]
        self.received.append(alert)
        return web.Response(text="ok")

    def rules(self) -> list[str]:
        return sorted(alert["rule_id"] for alert in self.received)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    found.url = f"http://127.0.0.1:{port}/hook"
    yield found
    await runner.cleanup()


def alerts_file(tmp_path: Path, sim: ThreadedSimulator, url: str) -> Path:
    """One rule per kind; the price rules' levels a rupee under today's price, where the fall to the
    loss limit (several rupees a share) passes."""
    start = path(sim, 1)[0]
    text = f"""
[[alerts.sinks]]
id = "ops"
url = "{url}"
secret_env = "TEST_ALERT_SECRET"

[[alerts.rules]]
id = "infy-below"
kind = "PRICE_CROSS"
scope = "{SYMBOL}"
direction = "below"
level = "{start - 1}"

[[alerts.rules]]
id = "infy-move"
kind = "PERCENT_MOVE"
scope = "{SYMBOL}"
percent = "{(100 / start).quantize(Decimal("0.0001"))}"
reference = "first"
direction = "down"

[[alerts.rules]]
id = "fills"
kind = "ORDER_STATUS"
scope = "*"
statuses = ["FILLED"]

[[alerts.rules]]
id = "drawdown"
kind = "PNL_DRAWDOWN"
scope = "{ACCOUNT}"
amount = "{LOSS_LIMIT / 2}"

[[alerts.rules]]
id = "margin"
kind = "MARGIN_UTILISATION"
scope = "{ACCOUNT}"
ceiling = "0.000001"

[[alerts.rules]]
id = "session"
kind = "SESSION"
scope = "{ACCOUNT}"
expiring_within_minutes = 1440

[[alerts.rules]]
id = "refusals"
kind = "RISK_REFUSAL_RATE"
scope = "{ACCOUNT}"
max_refusals = 0
window_seconds = 600

[[alerts.rules]]
id = "exits"
kind = "AUTOMATIC_EXIT"
scope = "*"
severity = "critical"

[[alerts.rules]]
id = "duplicates"
kind = "DUPLICATE_DETECTED"
scope = "*"

[[alerts.rules]]
id = "ticker"
kind = "TICKER"
scope = "{ACCOUNT}"
down = true
"""
    written = tmp_path / "alerts.toml"
    written.write_text(text)
    return written


async def start_alerted(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes, receiver: Receiver,
                        request_timeout: float = 2.0) -> Stack:  # fmt: skip
    risk = tmp_path / "risk.toml"
    risk.write_text(f'[exits.default]\ndaily_loss_limit = "{LOSS_LIMIT}"\nsquare_off = true\n')
    alerts = alerts_file(tmp_path, sim, receiver.url)
    stack = await start_stack(tmp_path, sim, sealing_key, gateway_risk_file=risk, gateway_alerts_file=alerts,
                              request_timeout=request_timeout)  # fmt: skip
    await stack.runtime.alerting.start()
    return stack


@pytest.fixture
async def alerted(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Stack]:
    monkeypatch.setenv("TEST_ALERT_SECRET", SECRET)
    stack = await start_alerted(tmp_path, sim, sealing_key, receiver)
    yield stack
    if stack not in STOPPED:
        await stop_stack(stack)


STOPPED: list[Stack] = []  # stacks a test stopped itself (to restart over their data)
# one alert per rule and crossing; "fills" twice: the buy and the square-off are two orders
EVERY_RULE = ["drawdown", "exits", "fills", "fills", "infy-below", "infy-move", "margin", "refusals", "session"]


async def test_a_daily_loss_crossed_squares_off_and_every_rule_reaches_the_webhook_once_then_resumes_after_restart(
    alerted: Stack, receiver: Receiver, tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    stack = alerted
    watch = stack.runtime.exits
    assert watch is not None
    params = market_buy(SYMBOL, QUANTITY, product=common_pb2.PRODUCT_MIS)
    await stack.orders.PlaceOrder(order_pb2.PlaceOrderRequest(account_id=ACCOUNT, client_order_id="a-1", params=params))
    await eventually(lambda: "fills" in receiver.rules(), "the fill was alerted")
    await eventually(lambda: ACCOUNT in watch.accounts and watch.accounts[ACCOUNT].book.open_tokens() != set(),
                     "the exits watch the filled position")  # fmt: skip

    # The market falls past the daily loss limit: the exit fires, squares off, and is alerted.
    state = watch.accounts[ACCOUNT]
    (held,) = [row for row in state.book.rows if row.quantity]
    await eventually(lambda: held.instrument_token in state.following, "the position's prices are followed")
    ahead = path(stack.sim, 240)
    k = next(k for k, price in enumerate(ahead) if (price - held.average_price) * QUANTITY <= -LOSS_LIMIT - 5)
    for _ in range(k):  # step by step, so the prices pass every level on the way down
        await stack.sim.advance_async(STEP)
    await eventually(lambda: stack.runtime.kill_switches.state(ACCOUNT).engaged, "the kill switch is engaged")
    await eventually(lambda: "exits" in receiver.rules(), "the automatic exit was alerted")

    # An order refused by the engaged kill switch: unusual activity past 0 refusals.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stack.orders.PlaceOrder(
            order_pb2.PlaceOrderRequest(account_id=ACCOUNT, client_order_id="a-2", params=params)
        )
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    stack.runtime.alerting.sessions.look()  # the session poller's round (every 30 s in production)
    await eventually(lambda: receiver.rules() == EVERY_RULE, f"every rule was alerted (so far {receiver.rules()})")

    # More of everything: further falls, ticks, refusals and session rounds fire nothing again.
    await stack.sim.advance_async(STEP)
    with pytest.raises(grpc.aio.AioRpcError):
        await stack.orders.PlaceOrder(
            order_pb2.PlaceOrderRequest(account_id=ACCOUNT, client_order_id="a-3", params=params)
        )
    stack.runtime.alerting.sessions.look()
    await watch.settle()
    center = stack.runtime.alerting.center
    await center.process_pending()
    assert receiver.forged == 0
    assert receiver.rules() == EVERY_RULE, receiver.rules()
    sequences = [alert["sequence"] for alert in sorted(receiver.received, key=lambda a: a["sequence"])]
    assert sequences == list(range(1, len(EVERY_RULE) + 1))
    exit_alert = next(a for a in receiver.received if a["rule_id"] == "exits")
    assert exit_alert["severity"] == "critical" and "daily_loss_limit" in exit_alert["title"]
    assert "squared off" in exit_alert["fields"]["outcome"]

    # A restart over the same data: the sequence goes on, nothing already alerted fires again.
    await stop_stack(stack)
    STOPPED.append(stack)
    again = await start_stack(tmp_path, sim, sealing_key, gateway_risk_file=stack.settings.gateway_risk_file,
                              gateway_alerts_file=stack.settings.gateway_alerts_file)  # fmt: skip
    try:
        await again.runtime.alerting.start()
        restarted = again.runtime.alerting.center
        assert restarted.last_sequence == len(EVERY_RULE)
        again.runtime.alerting.sessions.look()  # the same session, still expiring: already alerted
        await restarted.process_pending()
        assert restarted.last_sequence == len(EVERY_RULE)
        await again.runtime.alerting.center.put_rule(
            {"id": "session-2", "kind": "SESSION", "scope": ACCOUNT, "expiring_within_minutes": 1440}, "ops"
        )
        again.runtime.alerting.sessions.look()
        await eventually(lambda: "session-2" in receiver.rules(), "a rule made after the restart fired")
        assert max(alert["sequence"] for alert in receiver.received) == len(EVERY_RULE) + 1
        async with grpc.aio.insecure_channel(f"127.0.0.1:{again.gateway.port}") as channel:
            listed = await alert_pb2_grpc.AlertServiceStub(channel).ListAlerts(
                alert_pb2.ListAlertsRequest(after_sequence=0)
            )
        assert [a.sequence for a in listed.alerts] == list(range(1, len(EVERY_RULE) + 2))  # no gap, none twice
        assert [a.rule_id for a in listed.alerts][-1] == "session-2"
        assert next(a for a in listed.alerts if a.rule_id == "exits").kind == alert_pb2.ALERT_KIND_AUTOMATIC_EXIT
    finally:
        await stop_stack(again)


async def test_an_alerts_file_whose_sink_secret_is_not_set_refuses_the_start_naming_the_variable(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_ALERT_SECRET", raising=False)
    alerts = alerts_file(tmp_path, sim, "https://hooks.example.com/x")
    settings = make_settings(tmp_path, sim, sealing_key, gateway_alerts_file=alerts)
    settings.gateway_data_dir.mkdir(parents=True, exist_ok=True)
    with pytest.raises(AlertConfigError, match="TEST_ALERT_SECRET"):
        await App.open(settings, now=sim.clock.now)
    assert not (settings.gateway_data_dir / DATABASE_FILE).exists()  # refused before anything was opened


async def test_a_late_duplicate_and_a_ticker_kept_down_each_reach_the_webhook_once(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_ALERT_SECRET", SECRET)
    stack = await start_alerted(tmp_path, sim, sealing_key, receiver, request_timeout=0.5)
    try:
        # A placement held in the network past the gateway's patience, sent again, then delivered late.
        params = resting_buy(stack)
        held = stack.sim.faults.add(Fault("POST", "/orders/*", "hold"))
        with pytest.raises(grpc.aio.AioRpcError):
            await stack.orders.PlaceOrder(order_pb2.PlaceOrderRequest(account_id=ACCOUNT, client_order_id="d-1",
                                                                      params=params))  # fmt: skip
        pass_the_quarantine(stack)
        await stack.orders.PlaceOrder(order_pb2.PlaceOrderRequest(account_id=ACCOUNT, client_order_id="d-1",
                                                                  params=params))  # fmt: skip
        held.release()
        await eventually(lambda: "duplicates" in receiver.rules(), "the duplicate was alerted")

        # The ticker dropped and kept from reconnecting (its handshake refused) until the poller sees it down.
        stack.sim.faults.add(Fault("GET", "/", "error", times=10_000))
        assert stack.sim.on_loop(lambda s: s.ticker.drop(ACCOUNT)) >= 1
        tickers = stack.runtime.alerting.tickers

        def seen_down() -> bool:
            tickers.look()
            return "ticker" in receiver.rules()

        await eventually(seen_down, "the ticker being down was alerted")
        for _ in range(3):  # still down at every later round: told once
            tickers.look()
        await stack.runtime.alerting.center.process_pending()
        stack.sim.faults.clear()
        assert receiver.forged == 0
        assert receiver.rules().count("duplicates") == 1 and receiver.rules().count("ticker") == 1, receiver.rules()
    finally:
        await stop_stack(stack)
