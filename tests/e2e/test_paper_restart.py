"""Restarting `make run` keeps `data/`, and now the paper market too: a replayed client_order_id
returns an order that still exists, a new order gets a new id, and its updates are stored
(not dropped as duplicates of an older order's)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from kite_gateway_api.v1 import order_pb2

from kite_gateway.config import Settings
from kite_gateway.paper import PAPER_STATE_FILE, start_simulator
from kite_simulator import ThreadedSimulator
from tests.e2e.conftest import Stack, market_buy, start_stack, stop_stack
from tests.e2e.test_order_updates import completed, read_until, subscribe, updates, wait_connected
from tests.simulator.conftest import regular_hours

ACCOUNT = "ZS0001"


async def place(stack: Stack, client_order_id: str) -> order_pb2.PlaceOrderResponse:
    reply: order_pb2.PlaceOrderResponse = await stack.orders.PlaceOrder(
        order_pb2.PlaceOrderRequest(account_id=ACCOUNT, client_order_id=client_order_id, params=market_buy())
    )
    return reply


async def place_and_see_it_complete(stack: Stack, client_order_id: str, after: int) -> tuple[str, int]:
    stream = subscribe(stack, after=after)
    try:
        await read_until(stream, lambda seen: any(e.WhichOneof("event") == "replay_complete" for e in seen))
        await wait_connected(stack)
        order_id = (await place(stack, client_order_id)).order_id
        seen = updates(await read_until(stream, completed(1)))
    finally:
        stream.cancel()
    assert {u.order.order_id for u in seen} == {order_id}
    return order_id, seen[-1].sequence


async def test_after_a_paper_restart_replays_find_their_orders_and_a_new_order_gets_a_new_id_and_its_updates(
    tmp_path: Path, sealing_key: bytes
) -> None:
    config = regular_hours(tick_interval=0.05, state_file=tmp_path / "data" / PAPER_STATE_FILE)
    (tmp_path / "data").mkdir()
    sim = ThreadedSimulator(config)
    await sim.start()
    stack = await start_stack(tmp_path, sim, sealing_key)
    try:
        first_id, last = await place_and_see_it_complete(stack, "before-restart", after=0)
    finally:
        await stop_stack(stack)
        await sim.stop()
    # `make run` again: the same data directory, a new simulator process (its clock goes on).
    sim = ThreadedSimulator(dataclasses.replace(config, start=sim.clock.now()))
    await sim.start()
    stack = await start_stack(tmp_path, sim, sealing_key)
    try:
        replay = await place(stack, "before-restart")
        assert replay.replayed and replay.order_id == first_id
        assert [o["status"] for o in stack.kite_orders() if o["order_id"] == first_id] == ["COMPLETE"]
        second_id, _ = await place_and_see_it_complete(stack, "after-restart", after=last)
        assert second_id != first_id
    finally:
        await stop_stack(stack)
        await sim.stop()


@pytest.mark.sqlite_only  # --reset-paper sets the SQLite file aside
async def test_after_reset_paper_a_client_order_id_used_before_places_a_new_order_not_a_replay_of_a_vanished_one(
    tmp_path: Path, sealing_key: bytes
) -> None:
    (tmp_path / "data").mkdir()
    paper = Settings(gateway_data_dir=tmp_path / "data", gateway_paper_listen="127.0.0.1:0")
    callback = "http://127.0.0.1/kite/login/callback"
    sim, _ = await start_simulator(paper, callback)
    stack = await start_stack(tmp_path, sim, sealing_key)
    try:
        await place(stack, "try-1")  # the ready line's paper order
        (first_tag,) = {o["tag"] for o in stack.kite_orders()}
    finally:
        await stop_stack(stack)
        await sim.stop()
    sim, _ = await start_simulator(paper, callback, reset=True)  # `make run ARGS=--reset-paper`
    stack = await start_stack(tmp_path, sim, sealing_key)
    try:
        again = await place(stack, "try-1")
        assert not again.replayed  # placed on the fresh market, which has it
        assert [(o["order_id"], o["tag"]) for o in stack.kite_orders()] == [(again.order_id, first_tag)]
    finally:
        await stop_stack(stack)
        await sim.stop()
