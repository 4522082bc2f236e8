"""The fill recorder through faults Kite can have: the order's trades failing to read after its
update (the reconciliation stores the fill, once); the charges API failing (the order is charged
by the gateway's estimate, then by Kite's contract note at a later reconciliation); and a gateway
restart between the update and any successful read (the fill is stored once after the restart)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from kite_gateway_api.v1 import common_pb2, order_pb2

from kite_gateway.core.reports import ChargeSource, FillRecorder
from kite_gateway.storage import FillLog
from kite_simulator import Fault, ThreadedSimulator
from tests.e2e.conftest import Stack, eventually, market_buy, start_stack, stop_stack
from tests.e2e.test_reports import eventually_async

ACCOUNT = "ZS0001"
TRADES = "/orders/*/trades"


def hooked(stack: Stack) -> list[str]:
    """The order ids whose order-update hook of the fill recorder has returned (with fills to read)."""
    recorder = stack.runtime.fill_recorder
    assert isinstance(recorder, FillRecorder)
    done: list[str] = []
    original = recorder.order_updated

    async def watched(account_id: str, order: Mapping[str, Any]) -> None:
        await original(account_id, order)
        if float(order.get("filled_quantity") or 0) > 0:
            done.append(str(order.get("order_id")))

    hooks = stack.runtime.order_updates.on_stored
    hooks[hooks.index(original)] = watched
    return done


def log_of(stack: Stack) -> FillLog:
    assert stack.runtime.fill_recorder is not None
    return stack.runtime.fill_recorder.fills


async def buy(stack: Stack, client_order_id: str) -> str:
    params = market_buy("NSE:SBIN", 2, product=common_pb2.PRODUCT_MIS)
    placed = await stack.orders.PlaceOrder(
        order_pb2.PlaceOrderRequest(account_id=ACCOUNT, client_order_id=client_order_id, params=params)
    )
    return str(placed.order_id)


def kite_trade_ids(stack: Stack, order_id: str) -> list[str]:
    return sorted(str(t["trade_id"]) for t in stack.sim.call(stack.sim.sim.engine.trades_json, ACCOUNT, order_id))


@pytest.fixture
async def running(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> AsyncIterator[Stack]:
    stack = await start_stack(tmp_path, sim, sealing_key)
    yield stack
    await stop_stack(stack)


async def test_a_fill_whose_trades_read_failed_is_stored_once_by_the_reconciliation(running: Stack) -> None:
    stack, done = running, hooked(running)
    failing = stack.sim.faults.add(Fault("GET", TRADES, "error", times=10_000, http_status=503))
    day_book = stack.sim.faults.add(Fault("GET", "/trades", "error", times=10_000, http_status=503))
    order_id = await buy(stack, "ff-1")
    await eventually(lambda: order_id in done, "the recorder's hook ran on the filled update")
    await eventually(lambda: day_book.times < 10_000, "the coalesced read of the day's trades was refused")
    assert await log_of(stack).of_order(ACCOUNT, order_id) == []
    day_book.times = 0  # the day's trade book answers again; the order's trades still fail
    await stack.runtime.reconcile_fills()
    await stack.runtime.reconcile_fills()  # again: nothing is stored twice
    stored = await log_of(stack).of_order(ACCOUNT, order_id)
    assert sorted(f.trade_id for f in stored) == kite_trade_ids(stack, order_id) != []
    assert failing.times == 10_000  # the order's own trades were never needed


async def test_an_order_charged_while_the_charges_api_fails_is_estimated_then_takes_kites_note(
    running: Stack,
) -> None:
    stack, done = running, hooked(running)
    stack.sim.faults.add(Fault("POST", "/charges/orders", "error", times=10_000, http_status=503))
    order_id = await buy(stack, "ff-2")
    await eventually(lambda: order_id in done, "the recorder's hook ran on the filled update")

    async def charged() -> bool:  # by the hook, or by the reconciliation that follows the ticker's connection
        return await log_of(stack).charges_of(ACCOUNT, order_id) is not None

    await eventually_async(charged, "the order's charges are stored")
    estimated = await log_of(stack).charges_of(ACCOUNT, order_id)
    assert estimated is not None and estimated.source is ChargeSource.ESTIMATED and estimated.charges.total > 0
    await stack.runtime.reconcile_fills()  # still failing: still the estimate
    assert (await log_of(stack).charges_of(ACCOUNT, order_id)).source is ChargeSource.ESTIMATED  # type: ignore[union-attr]
    stack.sim.faults.clear()
    await stack.runtime.reconcile_fills()
    noted = await log_of(stack).charges_of(ACCOUNT, order_id)
    assert noted is not None and noted.source is ChargeSource.CONTRACT_NOTE and noted.quantity == 2


async def test_a_restart_between_the_update_and_any_read_stores_the_fill_once_after_it(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    first = await start_stack(tmp_path, sim, sealing_key)
    done = hooked(first)
    sim.faults.add(Fault("GET", TRADES, "error", times=10_000, http_status=503))
    sim.faults.add(Fault("GET", "/trades", "error", times=10_000, http_status=503))  # no reconciliation either
    try:
        order_id = await buy(first, "ff-3")
        await eventually(lambda: order_id in done, "the recorder's hook ran on the filled update")
        await first.runtime.reconcile_fills()
        assert await log_of(first).of_order(ACCOUNT, order_id) == []
    finally:
        await stop_stack(first)
    sim.faults.clear()
    again = await start_stack(tmp_path, sim, sealing_key)
    try:
        await again.runtime.reconcile_fills()
        await again.runtime.reconcile_fills()
        stored = await log_of(again).of_order(ACCOUNT, order_id)
        assert sorted(f.trade_id for f in stored) == kite_trade_ids(again, order_id) != []
    finally:
        await stop_stack(again)
