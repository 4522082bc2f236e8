"""Pre-trade risk controls and kill switches: every limit refuses an order before it reaches Kite,
naming the limit, its value and the order's; kill switches block new orders (not cancellations),
can cancel what is open, and survive a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from kite_gateway_api.v1 import common_pb2, order_pb2

from kite_gateway.auth.principals import token_digest
from kite_gateway.core.risk.limits import RiskBook, RiskConfigError
from kite_gateway.grpc.mapping import decimal_pb
from kite_gateway.grpc.status import STATUS_DETAILS_KEY
from kite_simulator import ThreadedSimulator
from tests.e2e.conftest import Stack, market_buy, start_stack, status_of, stop_stack

RISK = """
[default]
max_order_value = "200000"
max_order_quantity = 500
allowed_exchanges = ["NSE", "BSE", "NFO"]
allowed_products = ["CNC", "MIS"]
allowed_instrument_types = ["EQ", "FUT"]
max_position_value_per_instrument = "150000"
max_position_value = "250000"
max_orders_per_minute = 5

[accounts.ZS0002]
max_order_value = "1000"
"""


@pytest.fixture
async def guarded(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> AsyncIterator[Stack]:
    (tmp_path / "risk.toml").write_text(RISK)
    running = await start_stack(tmp_path, sim, sealing_key, gateway_risk_file=tmp_path / "risk.toml")
    yield running
    await stop_stack(running)


def ltp(stack: Stack, symbol: str = "NSE:INFY") -> Decimal:
    return stack.sim.quote(symbol).last_price


def limit_buy(stack: Stack, symbol: str = "NSE:INFY", quantity: int = 1, below: Decimal = Decimal("0.95")) -> Any:
    instrument = stack.sim.universe.by_symbol[symbol]
    price = instrument.round_to_tick(ltp(stack, symbol) * below)
    return market_buy(symbol, quantity, order_type=common_pb2.ORDER_TYPE_LIMIT, price=decimal_pb(price))


async def place(stack: Stack, client_order_id: str, params: Any, account: str = "ZS0001", **kw: Any) -> Any:
    request = order_pb2.PlaceOrderRequest(account_id=account, client_order_id=client_order_id, params=params)
    return await stack.orders.PlaceOrder(request, **kw)


async def refusal(call: Any) -> tuple[grpc.StatusCode, str, str, dict[str, str], list[tuple[str, str]]]:
    """(code, message, reason, ErrorInfo metadata, PreconditionFailure (type, subject) pairs)."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    code, reason, metadata, _ = status_of(caught.value)
    violations = []
    raw = dict(caught.value.trailing_metadata() or ()).get(STATUS_DETAILS_KEY)
    for detail in status_pb2.Status.FromString(raw).details if raw else []:
        if detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            violations += [(v.type, v.subject) for v in failure.violations]
    return code, caught.value.details() or "", reason, metadata, violations


async def test_an_order_above_the_value_limit_is_refused_naming_limit_and_values(guarded: Stack) -> None:
    price = ltp(guarded)
    quantity = int(Decimal(200000) / price) + 1
    code, message, reason, metadata, violations = await refusal(
        place(guarded, "big", limit_buy(guarded, quantity=quantity, below=Decimal(1)))
    )
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "RISK_LIMIT_BREACHED")
    assert metadata["limit"] == "max_order_value" and metadata["limit_value"] == "200000"
    assert Decimal(metadata["order_value"]) > 200000
    assert "risk limit max_order_value of account ZS0001 is 200000" in message
    assert violations == [("RISK_LIMIT", "account:ZS0001/max_order_value")]
    assert guarded.kite_orders() == []


async def test_a_market_order_is_valued_at_the_last_price(guarded: Stack) -> None:
    quantity = min(500, int(Decimal(200000) / ltp(guarded)) + 1)
    _, _, _, metadata, _ = await refusal(place(guarded, "mkt", market_buy(quantity=quantity)))
    assert metadata["limit"] in {"max_order_value", "max_position_value_per_instrument"}
    assert guarded.kite_orders() == []


def first(stack: Stack, exchange: str, instrument_type: str) -> Any:
    return next(i for i in stack.sim.universe if i.exchange == exchange and i.instrument_type == instrument_type)


def excluded_order(stack: Stack, limit: str) -> Any:
    if limit == "max_order_quantity":
        return market_buy("NSE:INFY", 501)
    if limit == "allowed_products":
        future = first(stack, "NFO", "FUT")
        return market_buy(future.symbol, future.lot_size, product=common_pb2.PRODUCT_NRML)
    instrument = first(stack, "MCX", "FUT") if limit == "allowed_exchanges" else first(stack, "NFO", "CE")
    return market_buy(instrument.symbol, instrument.lot_size, product=common_pb2.PRODUCT_MIS)


@pytest.mark.parametrize(
    "limit", ["max_order_quantity", "allowed_exchanges", "allowed_products", "allowed_instrument_types"]
)
async def test_each_allow_list_and_the_quantity_limit_refuse_what_they_exclude(guarded: Stack, limit: str) -> None:
    _, message, reason, metadata, _ = await refusal(place(guarded, f"x-{limit}", excluded_order(guarded, limit)))
    assert (reason, metadata.get("limit")) == ("RISK_LIMIT_BREACHED", limit), message
    assert guarded.kite_orders() == []


async def test_a_position_may_not_grow_past_its_limit_but_may_shrink(guarded: Stack) -> None:
    price = ltp(guarded)
    step = int(Decimal(100000) / price)  # each order worth ~1 lakh: the second takes the position past 1.5 lakh
    await place(guarded, "pos-1", market_buy(quantity=step))
    await guarded.sim.advance_async(1)
    _, _, _, metadata, _ = await refusal(place(guarded, "pos-2", market_buy(quantity=step)))
    assert metadata["limit"] == "max_position_value_per_instrument"
    sell = market_buy(quantity=step, transaction_type=common_pb2.TRANSACTION_TYPE_SELL, product=common_pb2.PRODUCT_MIS)
    assert (await place(guarded, "pos-3", sell)).order_id


async def test_the_accounts_open_positions_are_limited_in_total(guarded: Stack) -> None:
    for n, symbol in enumerate(["NSE:INFY", "NSE:TCS"]):
        await place(
            guarded,
            f"tot-{n}",
            market_buy(symbol, int(Decimal(120000) / ltp(guarded, symbol)), product=common_pb2.PRODUCT_MIS),
        )
        await guarded.sim.advance_async(1)
    symbol = "NSE:SBIN"
    _, message, _, metadata, _ = await refusal(
        place(
            guarded,
            "tot-3",
            market_buy(symbol, int(Decimal(50000) / ltp(guarded, symbol)), product=common_pb2.PRODUCT_MIS),
        )
    )
    assert metadata["limit"] == "max_position_value" and "open positions would be worth" in message


async def test_orders_per_minute_are_capped_and_a_retry_is_not_counted_again(guarded: Stack) -> None:
    for n in range(5):
        await place(guarded, f"rate-{n}", limit_buy(guarded))
    again = await place(guarded, "rate-0", limit_buy(guarded))
    assert again.replayed
    _, _, _, metadata, _ = await refusal(place(guarded, "rate-5", limit_buy(guarded)))
    assert (metadata["limit"], metadata["limit_value"], metadata["order_value"]) == ("max_orders_per_minute", "5", "6")
    assert len(guarded.kite_orders()) == 5


async def test_a_modification_may_not_take_an_order_past_the_size_limits(guarded: Stack) -> None:
    resting = await place(guarded, "resting", limit_buy(guarded))
    target = order_pb2.OrderTarget(order_id=resting.order_id)
    too_many = order_pb2.ModifyOrderRequest(account_id="ZS0001", order=target, quantity=501)
    _, _, _, metadata, _ = await refusal(guarded.orders.ModifyOrder(too_many))
    assert (metadata["limit"], metadata["order_value"]) == ("max_order_quantity", "501")
    worth = int(Decimal(200000) / ltp(guarded) * Decimal("1.2"))  # at the resting price, 0.95 of the last
    too_big = order_pb2.ModifyOrderRequest(account_id="ZS0001", order=target, quantity=worth)
    _, _, _, metadata, _ = await refusal(guarded.orders.ModifyOrder(too_big))
    assert metadata["limit"] == "max_order_value"
    assert [o["quantity"] for o in guarded.kite_orders()] == [1]
    fine = order_pb2.ModifyOrderRequest(account_id="ZS0001", order=target, quantity=2)
    assert (await guarded.orders.ModifyOrder(fine)).order_id == resting.order_id


async def test_an_accounts_own_limits_override_the_default(guarded: Stack) -> None:
    _, _, _, metadata, _ = await refusal(place(guarded, "small", limit_buy(guarded), account="ZS0002"))
    assert (metadata["limit"], metadata["limit_value"]) == ("max_order_value", "1000")


async def test_the_kill_switch_blocks_new_orders_cancels_open_ones_and_lets_cancels_through(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    stack = await start_stack(tmp_path, sim, sealing_key)
    try:
        resting = await place(stack, "rest-1", limit_buy(stack))
        other = await place(stack, "rest-2", limit_buy(stack), account="ZS0002")
        engaged = await stack.orders.SetKillSwitch(
            order_pb2.SetKillSwitchRequest(
                account_id="ZS0001", engaged=True, reason="runaway strategy", cancel_open_orders=True
            )
        )
        assert engaged.kill_switch.engaged and engaged.kill_switch.reason == "runaway strategy"
        assert [(c.order_id, c.cancelled) for c in engaged.cancellations] == [(resting.order_id, True)]
        await stack.sim.advance_async(1)
        statuses = {o["order_id"]: o["status"] for o in stack.kite_orders() + stack.kite_orders("ZS0002")}
        assert statuses == {resting.order_id: "CANCELLED", other.order_id: "OPEN"}

        code, message, reason, metadata, violations = await refusal(place(stack, "after", market_buy()))
        assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "KILL_SWITCH_ACTIVE")
        assert "'runaway strategy'" in message and metadata["kill_switch"] == "ZS0001"
        assert violations == [("KILL_SWITCH", "kill-switch:ZS0001")]
        modify = order_pb2.ModifyOrderRequest(
            account_id="ZS0001", order=order_pb2.OrderTarget(order_id=resting.order_id), quantity=2
        )
        assert (await refusal(stack.orders.ModifyOrder(modify)))[2] == "KILL_SWITCH_ACTIVE"
        assert (await place(stack, "other-ok", limit_buy(stack), account="ZS0002")).order_id
        cancel = order_pb2.CancelOrderRequest(account_id="ZS0002", order=order_pb2.OrderTarget(order_id=other.order_id))
        assert (await stack.orders.CancelOrder(cancel)).order_id == other.order_id
    finally:
        await stop_stack(stack)

    # A restart keeps the switch engaged, until it is released.
    stack = await start_stack(tmp_path, sim, sealing_key)
    try:
        state = await stack.orders.GetKillSwitch(order_pb2.GetKillSwitchRequest(account_id="ZS0001"))
        assert state.account.engaged and not state.gateway.engaged
        assert (await refusal(place(stack, "after-restart", market_buy())))[2] == "KILL_SWITCH_ACTIVE"
        await stack.orders.SetKillSwitch(order_pb2.SetKillSwitchRequest(account_id="ZS0001", engaged=False))
        assert (await place(stack, "released", market_buy())).order_id
    finally:
        await stop_stack(stack)


async def test_the_gateway_wide_kill_switch_covers_every_account(stack: Stack) -> None:
    await stack.orders.SetKillSwitch(order_pb2.SetKillSwitchRequest(engaged=True, reason="exchange incident"))
    for account in ("ZS0001", "ZS0002"):
        _, message, reason, _, _ = await refusal(place(stack, f"gw-{account}", market_buy(), account=account))
        assert reason == "KILL_SWITCH_ACTIVE" and "gateway-wide" in message


async def test_engaging_needs_a_reason(stack: Stack) -> None:
    code, message, _, _, _ = await refusal(
        stack.orders.SetKillSwitch(order_pb2.SetKillSwitchRequest(account_id="ZS0001", engaged=True))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and message.startswith("reason:")


async def test_a_trader_may_engage_its_accounts_switch_but_only_an_admin_releases_it(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    principals = f"""
[[principal]]
name = "trader"
token_sha256 = "{token_digest("t")}"
trade = ["ZS0001"]
[[principal]]
name = "ops"
token_sha256 = "{token_digest("o")}"
admin = true
"""
    stack = await start_stack(tmp_path, sim, sealing_key, gateway_auth_principals=principals)
    trader, ops = (("authorization", "Bearer t"),), (("authorization", "Bearer o"),)
    try:
        engage = order_pb2.SetKillSwitchRequest(account_id="ZS0001", engaged=True, reason="drill")
        state = await stack.orders.SetKillSwitch(engage, metadata=trader)
        assert state.kill_switch.principal == "trader"
        release = order_pb2.SetKillSwitchRequest(account_id="ZS0001", engaged=False)
        code, message, _, _, _ = await refusal(stack.orders.SetKillSwitch(release, metadata=trader))
        assert code == grpc.StatusCode.PERMISSION_DENIED and "releasing a kill switch needs an admin" in message
        everything = order_pb2.SetKillSwitchRequest(engaged=True, reason="drill")
        assert (await refusal(stack.orders.SetKillSwitch(everything, metadata=trader)))[
            0
        ] == grpc.StatusCode.PERMISSION_DENIED
        engage_other = order_pb2.SetKillSwitchRequest(account_id="ZS0002", engaged=True, reason="drill")
        assert (await refusal(stack.orders.SetKillSwitch(engage_other, metadata=trader)))[
            0
        ] == grpc.StatusCode.PERMISSION_DENIED
        assert not (await stack.orders.SetKillSwitch(release, metadata=ops)).kill_switch.engaged
    finally:
        await stop_stack(stack)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[default]\nmax_order_value = "lots"', "max_order_value must be an amount"),
        ("[default]\nmax_order_value = 1.5", "max_order_value must be an amount"),
        ("[default]\nmax_orders_per_minute = -1", "non-negative whole number"),
        ("[default]\nmax_leverage = 5", "unknown limits ['max_leverage']"),
        ('[limits]\nmax_order_value = "1"', "unknown sections ['limits']"),
        ('[default]\nallowed_exchanges = "NSE"', "allowed_exchanges must be a list"),
    ],
)
def test_a_bad_risk_file_is_refused_naming_the_key(text: str, says: str) -> None:
    with pytest.raises(RiskConfigError, match=says.replace("[", r"\[").replace("]", r"\]")):
        RiskBook.from_toml(text, "risk.toml")
