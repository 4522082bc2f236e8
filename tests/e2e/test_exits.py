"""Automatic exits against the paper gateway: a position opened through the gateway, the
simulator's market moved (its clock advanced to a moment the path is known to be lower) until the
daily loss limit is crossed; then the account's kill switch is engaged with the reason, the
square-off order reached the simulator and the position is flat, on_exit was told exactly once,
and GetExitStatus reports it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from kite_gateway_api.v1 import common_pb2, order_pb2, portfolio_pb2

from kite_gateway.core.risk import ExitEvent
from kite_gateway.grpc.mapping import from_decimal_pb
from kite_gateway.kite import KitePortfolio
from kite_simulator import Simulator, ThreadedSimulator
from tests.e2e.conftest import Stack, eventually, market_buy, start_stack, stop_stack

ACCOUNT = "ZS0001"
SYMBOL = "NSE:INFY"
QUANTITY = 10
LOSS_LIMIT = Decimal(30)
STEP = 30  # seconds between the moments of the market's path looked at


def path(sim: ThreadedSimulator, steps: int) -> list[Decimal]:
    """INFY's last price now and every STEP seconds after (the simulator's market is deterministic)."""

    def read(s: Simulator) -> list[Decimal]:
        instrument, now = s.universe.by_symbol[SYMBOL], s.clock.now()
        return [s.engine.market.quote(instrument, now + timedelta(seconds=STEP * k)).last_price for k in range(steps)]

    return sim.on_loop(read)


@dataclass
class Exits:
    stack: Stack
    told: list[ExitEvent]


@pytest.fixture
async def exits(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> AsyncIterator[Exits]:
    ahead = path(sim, 240)
    assert ahead[0] - min(ahead) >= 2 * LOSS_LIMIT / QUANTITY, "the seeded path no longer falls enough for the test"
    risk = tmp_path / "risk.toml"
    risk.write_text(f'[exits.default]\ndaily_loss_limit = "{LOSS_LIMIT}"\nsquare_off = true\n')
    stack = await start_stack(tmp_path, sim, sealing_key, gateway_risk_file=risk)
    watch = stack.runtime.exits
    assert watch is not None
    told: list[ExitEvent] = []
    watch.ports.on_exit = told.append
    yield Exits(stack, told)
    await stop_stack(stack)


def sells(stack: Stack) -> list[dict[str, object]]:
    return [o for o in stack.kite_orders(ACCOUNT) if o["transaction_type"] == "SELL"]


def kite_orders_status(stack: Stack, order_id: str) -> str:
    return str(next((o["status"] for o in stack.kite_orders(ACCOUNT) if o["order_id"] == order_id), ""))


async def test_a_daily_loss_limit_crossed_by_the_market_engages_the_kill_switch_squares_off_and_alerts_once(
    exits: Exits,
) -> None:
    stack = exits.stack
    watch = stack.runtime.exits
    assert watch is not None
    params = market_buy(SYMBOL, QUANTITY, product=common_pb2.PRODUCT_MIS)
    await stack.orders.PlaceOrder(order_pb2.PlaceOrderRequest(account_id=ACCOUNT, client_order_id="x-1", params=params))
    await eventually(lambda: ACCOUNT in watch.accounts and watch.accounts[ACCOUNT].book.open_tokens() != set(),
                     "the exits watch the filled position")  # fmt: skip
    state = watch.accounts[ACCOUNT]
    (held,) = [row for row in state.book.rows if row.quantity]
    assert held.quantity == QUANTITY
    await eventually(lambda: held.instrument_token in state.following, "the position's prices are followed")
    assert not stack.runtime.kill_switches.state(ACCOUNT).engaged
    assert exits.told == []  # not crossed yet

    # The first moment the path is low enough that the position has lost more than the limit.
    paid = held.average_price
    ahead = path(stack.sim, 240)
    k = next(k for k, price in enumerate(ahead) if (price - paid) * QUANTITY <= -LOSS_LIMIT - 5)
    await stack.sim.advance_async(STEP * k)

    await eventually(lambda: stack.runtime.kill_switches.state(ACCOUNT).engaged, "the kill switch is engaged")
    switch = stack.runtime.kill_switches.state(ACCOUNT)
    assert "daily loss limit of account ZS0001 crossed" in switch.reason and switch.principal == "gateway:exits"
    await eventually(lambda: len(exits.told) == 1, "on_exit was told")
    await eventually(lambda: bool(sells(stack)), "the square-off was sent")
    (exit_order,) = sells(stack)
    assert exit_order["quantity"] == QUANTITY and exit_order["product"] == "MIS"
    exit_order_id = str(exit_order["order_id"])

    await eventually(lambda: kite_orders_status(stack, exit_order_id) == "COMPLETE", "the square-off order filled")
    rows = (await KitePortfolio(stack.runtime.accounts.get(ACCOUNT).active()).positions()).net
    assert [row.quantity for row in rows] == [0]  # flat

    # More ticks below the limit, and the fill of the square-off: nothing fires again.
    await stack.sim.advance_async(STEP)
    await watch.settle()
    (event,) = exits.told
    assert event.rule.value == "daily_loss_limit" and event.pnl <= -LOSS_LIMIT
    assert event.outcome.startswith("kill switch of ZS0001 engaged; squared off: 1 orders")
    scraped = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in stack.runtime.state_collector().collect()
        for sample in family.samples
    }
    exits_counted = ("kite_gateway_automatic_exits_total", (("rule", "daily_loss_limit"), ("scope", "account")))
    assert scraped[exits_counted] == 1
    assert scraped[("kite_gateway_kill_switch_engaged", (("scope", ACCOUNT),))] == 1

    audit = await stack.orders.ListAuditEvents(order_pb2.ListAuditEventsRequest(account_id=ACCOUNT))
    exit_entries = [e for e in audit.events if e.principal == "gateway:exits"]
    actions = [e.action for e in exit_entries]
    assert actions[0] == order_pb2.AUDIT_ACTION_SET_KILL_SWITCH and order_pb2.AUDIT_ACTION_SQUARE_OFF in actions, (
        actions
    )

    status = await stack.portfolio.GetExitStatus(portfolio_pb2.GetExitStatusRequest(account_id=ACCOUNT))
    account = status.account
    assert account.watching and account.tripped
    assert list(account.tripped_rules) == [portfolio_pb2.EXIT_RULE_DAILY_LOSS_LIMIT]
    assert from_decimal_pb(account.thresholds.daily_loss_limit, "t") == LOSS_LIMIT and account.thresholds.square_off
    assert [e.event_id for e in account.events] == [event.event_id]
    assert "daily loss limit" in account.events[0].reason


async def test_exit_status_of_an_unknown_account_is_not_found_and_of_one_not_traded_yet_is_not_watched(
    exits: Exits,
) -> None:
    import grpc

    stack = exits.stack
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.portfolio.GetExitStatus(portfolio_pb2.GetExitStatusRequest(account_id="NOSUCH"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    status = await stack.portfolio.GetExitStatus(portfolio_pb2.GetExitStatusRequest(account_id="ZS0002"))
    assert not status.account.watching and not status.account.tripped
    assert from_decimal_pb(status.account.thresholds.daily_loss_limit, "t") == LOSS_LIMIT
