"""Exit orders through kill switches, over a fake account and a real idempotency store: an exit
goes out while a kill switch is engaged (stored, or only in this process), an ordinary order queued
before the switch is never sent, and an exit never opens or flips a position."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from kite_gateway.core.orders.dispatch import OrderDispatch
from kite_gateway.core.orders.exit_orders import ExitLeg, ExitOrders, exit_client_order_id
from kite_gateway.core.orders.placement import IdempotentPlacement
from kite_gateway.core.risk.kill_switch import GATEWAY, KillSwitches
from kite_gateway.errors import GatewayError, Reason
from kite_gateway.kite.orders import OrderArgs
from kite_gateway.storage.idempotency import IdempotencyStore
from kite_gateway.storage.sqlite import SqliteDatabase
from tests.core.orders.exchange import FakeAccount, positions_of

LONG = ("NSE", "INFY", "MIS")
ORDINARY: OrderArgs = {"variety": "regular", "exchange": "NSE", "tradingsymbol": "TCS", "transaction_type": "BUY",
                       "quantity": 5, "product": "MIS", "order_type": "MARKET", "validity": "DAY"}  # fmt: skip


def now() -> datetime:
    return datetime(2026, 12, 1, 5, 0, tzinfo=UTC)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    database = SqliteDatabase(tmp_path / "gateway.db")
    await database.open()
    yield database
    await database.close()


async def no_orders_sent(account_id: str, since: datetime) -> int:
    return 0


def stack(database: SqliteDatabase, switches: KillSwitches) -> tuple[IdempotentPlacement, ExitOrders]:
    dispatch = OrderDispatch(10, 5.0, 10, 400, 5000, no_orders_sent, switches.check, now)
    switches.listeners.append(dispatch.poke)
    placement = IdempotentPlacement(IdempotencyStore(database), dispatch, switches.check, 7.0, 60.0, now)
    return placement, ExitOrders(placement, Decimal(5), positions_of)


def leg(quantity: int, side: str = "SELL", request_id: str = "r-1") -> ExitLeg:
    return ExitLeg("AB1234", *LONG, side, quantity, exit_client_order_id(request_id, "AB1234", *LONG))


async def test_an_exit_is_sent_through_an_engaged_kill_switch_and_an_ordinary_order_is_not(
    database: SqliteDatabase,
) -> None:
    switches = KillSwitches(database)
    placement, exits = stack(database, switches)
    account = FakeAccount("AB1234", {LONG: 10})
    await switches.set(GATEWAY, True, "loss limit", "ops")
    with pytest.raises(GatewayError) as caught:
        await placement.place_order(account.typed(), "plain-1", "fp", ORDINARY)
    assert caught.value.reason is Reason.KILL_SWITCH_ACTIVE
    placed = await exits.place(account.typed(), leg(10))
    assert [a["tradingsymbol"] for a in account.sent] == ["INFY"] and account.held[LONG] == 0
    assert account.sent[0]["order_type"] == "MARKET" and account.sent[0]["market_protection"] == 5
    assert not placed.replayed


async def test_a_kill_switch_stored_by_another_replica_stops_ordinary_orders_at_the_send_record_but_not_exits(
    database: SqliteDatabase,
) -> None:
    switches = KillSwitches(database)
    placement, exits = stack(database, switches)
    account = FakeAccount("AB1234", {LONG: 10})
    await KillSwitches(database).set("AB1234", True, "engaged elsewhere", "ops")  # this process has not heard of it
    with pytest.raises(GatewayError) as caught:
        await placement.place_order(account.typed(), "plain-1", "fp", ORDINARY)
    assert caught.value.reason is Reason.KILL_SWITCH_ACTIVE
    await exits.place(account.typed(), leg(10))
    assert [a["tradingsymbol"] for a in account.sent] == ["INFY"]


async def test_an_ordinary_order_queued_before_the_kill_switch_is_never_sent_while_an_exit_queued_behind_it_is(
    database: SqliteDatabase,
) -> None:
    switches = KillSwitches(database)
    placement, exits = stack(database, switches)
    account = FakeAccount("AB1234", {LONG: 10})
    held = asyncio.Event()
    release = asyncio.Event()

    async def slow_check() -> None:  # the first order holds the account's turn until released
        held.set()
        await release.wait()

    first = asyncio.create_task(placement.place_order(account.typed(), "plain-1", "fp1", ORDINARY, check=slow_check))
    await held.wait()
    queued = asyncio.create_task(placement.place_order(account.typed(), "plain-2", "fp2", ORDINARY))
    exit_task = asyncio.create_task(exits.place(account.typed(), leg(10)))
    await asyncio.sleep(0)  # both queued behind the first
    await switches.set(GATEWAY, True, "panic", "ops")
    release.set()
    outcomes = await asyncio.gather(first, queued, exit_task, return_exceptions=True)
    assert [isinstance(o, GatewayError) and o.reason is Reason.KILL_SWITCH_ACTIVE for o in outcomes[:2]] == [True] * 2
    assert not isinstance(outcomes[2], BaseException)
    assert [a["tradingsymbol"] for a in account.sent] == ["INFY"]


async def test_an_exit_larger_than_the_position_is_cut_to_it_and_never_flips_it(database: SqliteDatabase) -> None:
    _placement, exits = stack(database, KillSwitches(database))
    account = FakeAccount("AB1234", {LONG: 4})
    await exits.place(account.typed(), leg(10))
    assert account.sent[0]["quantity"] == 4 and account.held[LONG] == 0


async def test_an_exit_on_the_opening_side_is_refused_with_nothing_sent(database: SqliteDatabase) -> None:
    _placement, exits = stack(database, KillSwitches(database))
    account = FakeAccount("AB1234", {LONG: 4})
    with pytest.raises(GatewayError) as caught:
        await exits.place(account.typed(), leg(4, side="BUY"))
    assert caught.value.metadata["limit"] == "reduce_only" and account.sent == []


async def test_an_exit_already_covered_by_an_open_closing_order_is_refused(database: SqliteDatabase) -> None:
    _placement, exits = stack(database, KillSwitches(database))
    account = FakeAccount("AB1234", {LONG: 4})
    account.rest("INFY", "SELL", 4)
    with pytest.raises(GatewayError) as caught:
        await exits.place(account.typed(), leg(4))
    assert caught.value.metadata["limit"] == "reduce_only" and account.sent == []


async def test_the_same_exit_again_is_the_first_order_not_a_second(database: SqliteDatabase) -> None:
    _placement, exits = stack(database, KillSwitches(database))
    account = FakeAccount("AB1234", {LONG: 4})
    first = await exits.place(account.typed(), leg(4))
    again = await exits.place(account.typed(), leg(3))  # a retry finding less to close: still the same order
    assert again.order_id == first.order_id and again.replayed and len(account.sent) == 1
