"""Square-off and cancel-all as units, over fake accounts and a real database: scopes (account,
group, strategy, instrument, combined), open orders cancelled before the exits, idempotency by
request id (a retry places nothing), the audit trail, and a square-off through a kill switch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from kite_gateway.core.orders import (
    Audit,
    CancelAll,
    ExitOrders,
    ExitScope,
    RequestOnce,
    ScopeResolver,
    SquareOffs,
)
from kite_gateway.core.orders.dispatch import OrderDispatch
from kite_gateway.core.orders.exit_scope import AUDIT_ACTION_PLACE_ORDER, AUDIT_ACTION_SQUARE_OFF
from kite_gateway.core.orders.placement import IdempotentPlacement
from kite_gateway.core.risk.kill_switch import GATEWAY, KillSwitches
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.orders import KiteOrders
from kite_gateway.storage import AuditLog, OrderRequests
from kite_gateway.storage.idempotency import IdempotencyStore
from kite_gateway.storage.sqlite import SqliteDatabase
from tests.core.orders.exchange import FakeAccount, positions_of

INFY, TCS = ("NSE", "INFY", "MIS"), ("NSE", "TCS", "MIS")
GROUPS = {"desk": ["AB1234", "CD5678"]}


def now() -> datetime:
    return datetime(2026, 12, 1, 5, 0, tzinfo=UTC)


class Stack:
    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database
        self.switches = KillSwitches(database)
        self.accounts = {"AB1234": FakeAccount("AB1234"), "CD5678": FakeAccount("CD5678")}
        self.strategy: dict[str, list[tuple[str, str]]] = {}

        async def sent_since(account_id: str, since: datetime) -> int:
            return 0

        async def trading(account_id: str) -> KiteOrders:
            if account_id not in self.accounts:
                raise GatewayError(Status.NOT_FOUND, Reason.ACCOUNT_NOT_FOUND, f"no account {account_id}")
            return self.accounts[account_id].typed()

        async def strategy_orders(strategy_id: str) -> list[tuple[str, str]]:
            return self.strategy.get(strategy_id, [])

        dispatch = OrderDispatch(10, 5.0, 10, 400, 5000, sent_since, self.switches.check, now)
        placement = IdempotentPlacement(IdempotencyStore(database), dispatch, self.switches.check, 7.0, 60.0, now)
        resolver = ScopeResolver(lambda: list(self.accounts), GROUPS.__getitem__, strategy_orders)
        once, self.audit = RequestOnce(OrderRequests(database)), Audit(AuditLog(database), now)
        exits = ExitOrders(placement, Decimal(0), positions_of)
        self.square_offs = SquareOffs(trading, resolver, exits, once, self.audit)
        self.cancel_all = CancelAll(trading, resolver, once, self.audit)

    def sent(self) -> list[tuple[str, str, str, int]]:
        return [
            (account_id, str(a["tradingsymbol"]), str(a["transaction_type"]), int(a["quantity"]))
            for account_id, account in self.accounts.items()
            for a in account.sent
        ]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    database = SqliteDatabase(tmp_path / "gateway.db")
    await database.open()
    yield Stack(database)
    await database.close()


async def test_squaring_off_an_account_cancels_its_open_orders_then_closes_each_position(stack: Stack) -> None:
    a = stack.accounts["AB1234"]
    a.filled("INFY", "BUY", 10)
    a.filled("TCS", "SELL", 3)
    resting = a.rest("INFY", "BUY", 5)
    result = await stack.square_offs.square_off(ExitScope(account_ids=("AB1234",)), "eod", "r-1", "ops")
    assert a.cancelled == [resting]
    assert sorted(stack.sent()) == [("AB1234", "INFY", "SELL", 10), ("AB1234", "TCS", "BUY", 3)]
    assert a.held == {INFY: 0, TCS: 0} and result.complete and not result.replayed
    assert a.sent[0]["market_protection"] == -1  # the gateway's setting is 0: Kite's automatic protection


async def test_a_square_off_retried_with_its_request_id_returns_the_first_result_and_places_nothing(
    stack: Stack,
) -> None:
    stack.accounts["AB1234"].filled("INFY", "BUY", 10)
    scope = ExitScope(account_ids=("AB1234",))
    first = await stack.square_offs.square_off(scope, "eod", "r-1", "ops")
    stack.accounts["AB1234"].filled("INFY", "BUY", 7)  # a new position after the square-off
    again = await stack.square_offs.square_off(scope, "eod", "r-1", "ops")
    assert again.replayed and again.exits == first.exits and len(stack.sent()) == 1
    with pytest.raises(GatewayError) as caught:
        await stack.square_offs.square_off(ExitScope(account_ids=("CD5678",)), "eod", "r-1", "ops")
    assert (caught.value.code, caught.value.reason) == (Status.ALREADY_EXISTS, Reason.IDEMPOTENCY_KEY_REUSED)


async def test_a_square_off_that_never_finished_run_again_finds_its_exits_placed(stack: Stack) -> None:
    stack.accounts["AB1234"].filled("INFY", "BUY", 10)
    scope = ExitScope(account_ids=("AB1234",))
    await stack.square_offs.square_off(scope, "eod", "r-1", "ops")
    await stack.database.execute("UPDATE order_requests SET state = 'running', result = NULL")  # as if it crashed
    again = await stack.square_offs.square_off(scope, "eod", "r-1", "ops")
    assert len(stack.sent()) == 1 and not again.replayed


async def test_an_instrument_scope_on_a_group_closes_only_that_instrument_on_every_member(stack: Stack) -> None:
    for account in stack.accounts.values():
        account.filled("INFY", "BUY", 2)
        account.filled("TCS", "BUY", 2)
        account.rest("TCS", "SELL", 1)
    scope = ExitScope(groups=("desk",), exchange="NSE", tradingsymbol="INFY")
    await stack.square_offs.square_off(scope, "news", "r-1", "ops")
    assert sorted(stack.sent()) == [("AB1234", "INFY", "SELL", 2), ("CD5678", "INFY", "SELL", 2)]
    assert all(account.cancelled == [] and account.held[TCS] == 2 for account in stack.accounts.values())


async def test_an_instrument_alone_covers_every_account(stack: Stack) -> None:
    stack.accounts["CD5678"].filled("INFY", "SELL", 4)
    await stack.square_offs.square_off(ExitScope(exchange="NSE", tradingsymbol="INFY"), "x", "r-1", "ops")
    assert stack.sent() == [("CD5678", "INFY", "BUY", 4)]


async def test_a_strategy_square_off_closes_its_own_net_fills_and_leaves_the_rest_of_the_position(
    stack: Stack,
) -> None:
    a = stack.accounts["AB1234"]
    mine = [a.filled("INFY", "BUY", 10), a.filled("INFY", "SELL", 4)]
    a.filled("INFY", "BUY", 5)  # another strategy's
    stack.strategy["momentum"] = [("AB1234", order_id) for order_id in mine]
    await stack.square_offs.square_off(ExitScope(strategy_id="momentum"), "stop", "r-1", "ops")
    assert stack.sent() == [("AB1234", "INFY", "SELL", 6)] and a.held[INFY] == 5


async def test_a_square_off_goes_out_through_an_engaged_kill_switch(stack: Stack) -> None:
    stack.accounts["AB1234"].filled("INFY", "BUY", 10)
    await stack.switches.set(GATEWAY, True, "daily loss", "risk")
    result = await stack.square_offs.square_off(ExitScope(account_ids=("AB1234",)), "daily loss", "r-1", "risk")
    assert result.complete and stack.sent() == [("AB1234", "INFY", "SELL", 10)]


async def test_a_square_off_is_audited_per_exit_and_per_account(stack: Stack) -> None:
    stack.accounts["AB1234"].filled("INFY", "BUY", 10)
    result = await stack.square_offs.square_off(ExitScope(account_ids=("AB1234",)), "eod", "r-1", "ops")
    entries = await AuditLog(stack.database).query("AB1234", None, None, "", "", 0, 100)
    assert [(e.action, e.principal) for e in entries] == [(AUDIT_ACTION_PLACE_ORDER, "ops"),
                                                          (AUDIT_ACTION_SQUARE_OFF, "ops")]  # fmt: skip
    assert entries[0].order_id == result.exits[0].order_id and '"reason": "eod"' in entries[1].request_json


async def test_an_exit_kite_refuses_is_reported_and_the_other_positions_still_close(stack: Stack) -> None:
    a = stack.accounts["AB1234"]
    a.filled("INFY", "BUY", 10)
    a.filled("TCS", "BUY", 1)
    a.refuse["TCS"] = GatewayError(Status.FAILED_PRECONDITION, Reason.KITE_ORDER_REJECTED, "Kite: RMS blocked")
    result = await stack.square_offs.square_off(ExitScope(account_ids=("AB1234",)), "eod", "r-1", "ops")
    failed = [e for e in result.exits if e.error is not None]
    assert [e.tradingsymbol for e in failed] == ["TCS"] and not result.complete
    assert stack.sent() == [("AB1234", "INFY", "SELL", 10)]
    again = await stack.square_offs.square_off(ExitScope(account_ids=("AB1234",)), "eod", "r-1", "ops")
    assert [e.error.message for e in again.exits if e.error is not None] == ["Kite: RMS blocked"]


async def test_an_unknown_group_or_account_is_not_found_and_an_empty_scope_is_invalid(stack: Stack) -> None:
    for scope in (ExitScope(groups=("nobody",)), ExitScope(account_ids=("ZZ0000",))):
        with pytest.raises(GatewayError) as caught:
            await stack.square_offs.square_off(scope, "x", "r-1", "ops")
        assert caught.value.code is Status.NOT_FOUND
    with pytest.raises(GatewayError) as caught:
        await stack.cancel_all.cancel_all(ExitScope(), "x", "r-2", "ops")
    assert caught.value.code is Status.INVALID_ARGUMENT


async def test_cancel_all_cancels_open_orders_in_scope_only_and_a_retry_cancels_nothing_more(stack: Stack) -> None:
    a, c = stack.accounts["AB1234"], stack.accounts["CD5678"]
    infy, tcs, other = a.rest("INFY", "BUY", 1), a.rest("TCS", "BUY", 1), c.rest("INFY", "BUY", 1)
    await stack.switches.set(GATEWAY, True, "panic", "ops")
    result = await stack.cancel_all.cancel_all(ExitScope(account_ids=("AB1234",)), "panic", "c-1", "ops")
    assert sorted(x.order_id for x in result.cancellations) == sorted([infy, tcs]) and c.cancelled == []
    a.rest("INFY", "BUY", 1)
    again = await stack.cancel_all.cancel_all(ExitScope(account_ids=("AB1234",)), "panic", "c-1", "ops")
    assert again.replayed and again.cancellations == result.cancellations and len(a.cancelled) == 2
    assert other not in c.cancelled
