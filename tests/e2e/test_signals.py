"""SignalService against the paper gateway and its Kite simulator: a signal sized onto each account
of its strategy (one named, one through an account group) in whole lots of an F&O contract, orders
Kite holds with the signal's client_order_ids and an audit entry each; risk, capital-share and
target-position sizing from what Kite reports; limit urgencies on the tick grid; a retried or
concurrent signal that never places twice; budgets that refuse a signal whole and start afresh the
next day; a halted strategy; approval with a deadline on the gateway's clock (the simulator's, moved
by the test) and the expiry sweep; a signal stream whose sequence has no gaps, resumes and survives
a restart; a placement whose answer never arrives, finished by a retry or the resume sweep; and a
caller who may not trade every account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

import grpc
import pytest
from kite_gateway_api.v1 import account_pb2, common_pb2, order_pb2, signal_pb2

from kite_gateway.app import SIGNAL_RESUME_IDLE
from kite_gateway.auth.principals import token_digest
from kite_gateway.grpc.mapping import decimal_pb, from_decimal_pb
from kite_gateway.paper import log_in_demo_accounts
from kite_gateway.storage.idempotency import kite_tag
from kite_simulator import Fault, ThreadedSimulator
from tests.e2e.conftest import Stack, eventually, market_buy, start_stack, status_of, stop_stack, strategies_file
from tests.e2e.test_order_faults import retry_delay

S = signal_pb2
FIRST, SECOND = "ZS0001", "ZS0002"
EQUITY = "NSE:INFY"
TICK = Decimal("0.05")  # INFY's tick size
APPROVAL_TIMEOUT = 60  # seconds a gated signal waits for a person


@dataclass(frozen=True)
class Future:
    """The NFO future the F&O strategy trades: lot size above 1, the cheapest lot (ZS0002 has 2.5 lakh)."""

    symbol: str
    tradingsymbol: str
    lot: int


def cheapest_future(sim: ThreadedSimulator) -> Future:
    futures = [i for i in sim.universe if i.exchange == "NFO" and i.instrument_type == "FUT" and i.lot_size > 1]
    chosen = min(futures, key=lambda i: sim.quote(i.symbol).last_price * i.lot_size)
    return Future(chosen.symbol, chosen.tradingsymbol, chosen.lot_size)


def strategies(future: Future) -> str:
    """fno: ZS0001 by name at twice the signal's quantity, ZS0002 through group `second` at a fixed
    2.5 lots, both rounded down to whole lots; once / capped: a budget each; gated: approval; pair:
    equities on both accounts; holder: MIS positions on ZS0001; sized: risk per trade on ZS0001, a share
    of Kite's available margin on ZS0002."""
    return f"""
[account_groups]
second = ["{SECOND}"]

[strategies.fno]
accounts = ["{FIRST}"]
groups = ["second"]
product = "NRML"

[strategies.fno.sizing]
mode = "multiplier"
multiplier = "2"

[strategies.fno.sizing.accounts.{SECOND}]
mode = "fixed"
quantity = {future.lot * 5 // 2}

[strategies.once]
accounts = ["{FIRST}"]

[strategies.once.budget]
max_orders_per_day = 1

[strategies.capped]
accounts = ["{FIRST}"]

[strategies.capped.budget]
max_capital = "20000"

[strategies.gated]
accounts = ["{FIRST}", "{SECOND}"]

[strategies.gated.approval]
required = true
timeout_seconds = {APPROVAL_TIMEOUT}

[strategies.pair]
accounts = ["{FIRST}", "{SECOND}"]

[strategies.holder]
accounts = ["{FIRST}"]
product = "MIS"

[strategies.sized]
accounts = ["{FIRST}", "{SECOND}"]

[strategies.sized.sizing]
mode = "risk"
risk_amount = "1000"
stop_distance = "40"

[strategies.sized.sizing.accounts.{SECOND}]
mode = "capital_share"
fraction = "0.1"
"""


async def start(tmp_path: Path, sim: ThreadedSimulator, key: bytes, **overrides: Any) -> Stack:
    path = strategies_file(tmp_path, strategies(cheapest_future(sim)))
    return await start_stack(tmp_path, sim, key, gateway_strategies_file=path, **overrides)


@pytest.fixture
async def stack(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> AsyncIterator[Stack]:
    running = await start(tmp_path, sim, sealing_key)
    yield running
    await stop_stack(running)


def signal(strategy_id: str, signal_id: str, quantity: int = 1, symbol: str = EQUITY,
           side: Any = common_pb2.TRANSACTION_TYPE_BUY) -> S.SubmitSignalRequest:  # fmt: skip
    return S.SubmitSignalRequest(
        strategy_id=strategy_id,
        signal=S.Signal(
            signal_id=signal_id,
            instrument=common_pb2.InstrumentRef(symbol=symbol),
            delta=S.SignalDelta(side=side, quantity=quantity),
        ),
    )


async def submit(stack: Stack, request: S.SubmitSignalRequest, **call: Any) -> S.SubmitSignalResponse:
    answer: S.SubmitSignalResponse = await stack.signals.SubmitSignal(request, **call)
    return answer


async def record(stack: Stack, strategy_id: str, signal_id: str) -> S.SignalRecord:
    answer = await stack.signals.GetSignal(S.GetSignalRequest(strategy_id=strategy_id, signal_id=signal_id))
    found: S.SignalRecord = answer.record
    return found


def kite_orders_of(stack: Stack, account_id: str, client_order_id: str) -> list[dict[str, Any]]:
    """The simulator's orders on the account that carry the gateway's tag for this client_order_id."""
    tag = kite_tag(account_id, client_order_id)
    return [o for o in stack.kite_orders(account_id) if o["tag"] == tag]


def state_name(state: int) -> str:
    return S.SignalState.Name(state)  # type: ignore[arg-type]


# Sizing and routing -------------------------------------------------------------------------------


async def test_a_signal_on_an_fno_strategy_orders_whole_lots_sized_per_account_on_the_named_and_the_grouped_account(
    stack: Stack,
) -> None:
    future = cheapest_future(stack.sim)
    quantity = future.lot + future.lot // 2  # 1.5 lots: ZS0001 doubles it to 3 lots; ZS0002 has 2.5 -> 2
    answer = await submit(stack, signal("fno", "fno-1", quantity, future.symbol, common_pb2.TRANSACTION_TYPE_SELL))
    assert not answer.replayed
    assert state_name(answer.record.state) == "SIGNAL_STATE_ROUTED", answer.record.reason
    stored = await record(stack, "fno", "fno-1")
    orders = {o.account_id: o for o in stored.orders}
    assert set(orders) == {FIRST, SECOND}, "the named account and the group's member each get one order"
    expected = {FIRST: 3 * future.lot, SECOND: 2 * future.lot}
    for account_id, units in expected.items():
        order = orders[account_id]
        assert order.status == S.SIGNAL_ORDER_STATUS_PLACED and order.order_id, order.detail
        (at_kite,) = kite_orders_of(stack, account_id, order.client_order_id)
        assert at_kite["order_id"] == order.order_id
        assert (at_kite["tradingsymbol"], at_kite["exchange"]) == (future.tradingsymbol, "NFO")
        assert (at_kite["quantity"], at_kite["product"], at_kite["transaction_type"]) == (units, "NRML", "SELL")
        listed = await stack.orders.ListOrders(order_pb2.ListOrdersRequest(account_id=account_id))
        assert [o.client_order_id for o in listed.orders if o.order_id == order.order_id] == [order.client_order_id]
        audit = await stack.orders.ListAuditEvents(
            order_pb2.ListAuditEventsRequest(account_id=account_id, client_order_id=order.client_order_id)
        )
        (placement,) = [e for e in audit.events if e.action == order_pb2.AUDIT_ACTION_PLACE_ORDER]
        assert placement.order_id == order.order_id and placement.status_code == 0
        assert placement.principal == stored.principal and stored.principal
    assert orders[FIRST].client_order_id != orders[SECOND].client_order_id


async def test_a_signal_submitted_again_is_replayed_and_its_id_with_another_quantity_is_already_exists(
    stack: Stack,
) -> None:
    request = signal("pair", "pair-1", 2)
    first = await submit(stack, request)
    again = await submit(stack, request)
    assert not first.replayed and again.replayed
    assert state_name(again.record.state) == "SIGNAL_STATE_ROUTED"
    assert [(o.account_id, o.order_id) for o in again.record.orders] == [
        (o.account_id, o.order_id) for o in first.record.orders
    ]
    for order in first.record.orders:
        assert len(kite_orders_of(stack, order.account_id, order.client_order_id)) == 1
        assert len(stack.kite_orders(order.account_id)) == 1, "nothing else was placed on the account"
    with pytest.raises(grpc.aio.AioRpcError) as reused:
        await submit(stack, signal("pair", "pair-1", 3))
    assert reused.value.code() == grpc.StatusCode.ALREADY_EXISTS, reused.value.details()
    assert all(len(stack.kite_orders(a)) == 1 for a in (FIRST, SECOND))
    assert (await record(stack, "pair", "pair-1")).signal.delta.quantity == 2, "the stored signal is unchanged"


async def test_concurrent_submissions_of_one_signal_place_one_order_per_account(stack: Stack) -> None:
    answers = await asyncio.gather(*(submit(stack, signal("pair", "burst-1")) for _ in range(6)))
    assert sum(not a.replayed for a in answers) == 1, "exactly one submission is the original"
    assert {state_name(a.record.state) for a in answers} == {"SIGNAL_STATE_ROUTED"}
    assert len({tuple(o.order_id for o in a.record.orders) for a in answers}) == 1
    assert [len(stack.kite_orders(a)) for a in (FIRST, SECOND)] == [1, 1]


async def test_a_signal_on_an_index_is_invalid_argument_and_nothing_is_stored(stack: Stack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await submit(stack, signal("pair", "index-1", symbol="NSE:NIFTY 50"))
    code, reason, _, violations = status_of(refused.value)
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD"), refused.value.details()
    assert violations and violations[0][0] == "instrument" and "index" in violations[0][1], violations
    listed = await stack.signals.ListSignals(S.ListSignalsRequest(strategy_id="pair"))
    assert list(listed.records) == []


def target(strategy_id: str, signal_id: str, position: int) -> S.SubmitSignalRequest:
    request = signal(strategy_id, signal_id)
    request.signal.target_position = position  # replaces the delta (one of)
    return request


def net_position(stack: Stack, account_id: str, tradingsymbol: str, product: str) -> int:
    return sum(
        int(o["filled_quantity"]) * (1 if o["transaction_type"] == "BUY" else -1)
        for o in stack.kite_orders(account_id)
        if o["tradingsymbol"] == tradingsymbol and o["product"] == product
    )


async def test_a_target_position_orders_the_difference_from_the_position_in_the_same_product_only(
    stack: Stack,
) -> None:
    cnc = market_buy(EQUITY, 3)  # a CNC position in the instrument the MIS strategy trades
    await stack.orders.PlaceOrder(order_pb2.PlaceOrderRequest(account_id=FIRST, client_order_id="cnc-3", params=cnc))
    await eventually(lambda: net_position(stack, FIRST, "INFY", "CNC") == 3, "the CNC buy filled")
    first = await submit(stack, target("holder", "hold-5", 5))
    assert state_name(first.record.state) == "SIGNAL_STATE_ROUTED", first.record.reason
    (order,) = first.record.orders
    (at_kite,) = kite_orders_of(stack, FIRST, order.client_order_id)
    assert (at_kite["transaction_type"], at_kite["quantity"], at_kite["product"]) == ("BUY", 5, "MIS")
    await eventually(lambda: net_position(stack, FIRST, "INFY", "MIS") == 5, "the MIS buy filled")
    again = await submit(stack, target("holder", "hold-5-again", 5))
    assert state_name(again.record.state) == "SIGNAL_STATE_SKIPPED", again.record.reason
    flat = await submit(stack, target("holder", "hold-0", 0))
    (order,) = flat.record.orders
    (at_kite,) = kite_orders_of(stack, FIRST, order.client_order_id)
    assert (at_kite["transaction_type"], at_kite["quantity"], at_kite["product"]) == ("SELL", 5, "MIS")
    await eventually(lambda: net_position(stack, FIRST, "INFY", "MIS") == 0, "the MIS sell filled")
    assert net_position(stack, FIRST, "INFY", "CNC") == 3, "the CNC position is not the strategy's to flatten"


async def test_risk_and_capital_share_sizing_use_the_signals_stop_and_kites_available_margin(stack: Stack) -> None:
    request = signal("sized", "sized-1")
    request.signal.price_hint.CopyFrom(decimal_pb(Decimal(1000)))
    request.signal.stop_distance.CopyFrom(decimal_pb(Decimal(8)))
    margins = await stack.accounts.GetMargins(account_pb2.GetMarginsRequest(account_id=SECOND))
    available = from_decimal_pb(margins.equity.net, "net")
    answer = await submit(stack, request)
    assert state_name(answer.record.state) == "SIGNAL_STATE_ROUTED", answer.record.reason
    quantities = {}
    for order in answer.record.orders:
        (at_kite,) = kite_orders_of(stack, order.account_id, order.client_order_id)
        quantities[order.account_id] = at_kite["quantity"]
    assert quantities == {
        FIRST: 1000 // 8,  # risk_amount over the signal's stop distance (not the sizing's 40)
        SECOND: int(available * Decimal("0.1") // 1000),  # a tenth of the margin Kite reports, at the price hint
    }


async def test_limit_urgencies_price_the_orders_on_the_tick_grid_toward_the_passive_side(stack: Stack) -> None:
    price = stack.sim.quote(EQUITY).last_price
    hint = (price * Decimal("0.9") / TICK).to_integral_value() * TICK  # on the grid, far from the market: it rests
    offset = signal("holder", "limit-1")
    offset.signal.price_hint.CopyFrom(decimal_pb(hint))
    offset.signal.urgency.limit_offset_ticks = 2
    at_price = signal("holder", "limit-2", side=common_pb2.TRANSACTION_TYPE_SELL)
    at_price.signal.urgency.at_price.CopyFrom(decimal_pb(price * Decimal("1.1") + Decimal("0.01")))
    at_price.signal.validity = common_pb2.VALIDITY_IOC
    placed = {}
    for request in (offset, at_price):
        answer = await submit(stack, request)
        assert state_name(answer.record.state) == "SIGNAL_STATE_ROUTED", answer.record.reason
        (order,) = answer.record.orders
        (placed[request.signal.signal_id],) = kite_orders_of(stack, FIRST, order.client_order_id)
    below = placed["limit-1"]
    assert (below["order_type"], below["validity"], Decimal(str(below["price"]))) == (
        "LIMIT",
        "DAY",
        hint - Decimal("0.10"),
    )
    above = placed["limit-2"]
    ceiling = ((price * Decimal("1.1") + Decimal("0.01")) / TICK).to_integral_value(ROUND_CEILING)
    assert (above["order_type"], above["validity"], above["transaction_type"]) == ("LIMIT", "IOC", "SELL")
    assert Decimal(str(above["price"])) == ceiling * TICK, "rounded up: never more aggressive than asked"


async def test_an_account_whose_kill_switch_is_engaged_fails_its_leg_and_the_other_account_still_trades(
    stack: Stack,
) -> None:
    await stack.orders.SetKillSwitch(order_pb2.SetKillSwitchRequest(account_id=SECOND, engaged=True, reason="desk"))
    answer = await submit(stack, signal("pair", "switch-1"))
    assert state_name(answer.record.state) == "SIGNAL_STATE_PARTIALLY_ROUTED", answer.record.reason
    orders = {o.account_id: o for o in answer.record.orders}
    assert orders[FIRST].status == S.SIGNAL_ORDER_STATUS_PLACED
    assert orders[SECOND].status == S.SIGNAL_ORDER_STATUS_FAILED and "kill switch" in orders[SECOND].detail.lower()
    assert stack.kite_orders(SECOND) == [] and len(stack.kite_orders(FIRST)) == 1
    again = await submit(stack, signal("pair", "switch-1"))  # a retry does not send the failed leg again
    assert again.replayed and state_name(again.record.state) == "SIGNAL_STATE_PARTIALLY_ROUTED"
    listed = await stack.signals.ListSignals(S.ListSignalsRequest(strategy_id="pair"))
    assert [r.signal.signal_id for r in listed.records] == ["switch-1"] and list(listed.records[0].orders) == []


# Budgets ------------------------------------------------------------------------------------------


async def test_a_strategy_allowed_one_order_a_day_refuses_the_second_signal_and_sends_nothing(stack: Stack) -> None:
    first = await submit(stack, signal("once", "once-1"))
    assert state_name(first.record.state) == "SIGNAL_STATE_ROUTED"
    second = await submit(stack, signal("once", "once-2"))
    assert state_name(second.record.state) == "SIGNAL_STATE_REFUSED_BUDGET"
    assert "max_orders_per_day" in second.record.reason
    assert list(second.record.orders) == []
    assert len(stack.kite_orders(FIRST)) == 1, "only the first signal's order reached Kite"
    listed = await stack.signals.ListStrategies(S.ListStrategiesRequest())
    (once,) = [s for s in listed.strategies if s.strategy_id == "once"]
    assert (once.budget.max_orders_per_day, once.budget.orders_today) == (1, 1)


async def test_a_signal_over_the_strategys_max_capital_is_refused_whole(stack: Stack) -> None:
    price = stack.sim.quote(EQUITY).last_price
    quantity = int(20_000 // price) + 1  # one share more than the capital budget pays for
    refused = await submit(stack, signal("capped", "capped-1", quantity))
    assert state_name(refused.record.state) == "SIGNAL_STATE_REFUSED_BUDGET"
    assert "max_capital" in refused.record.reason
    assert stack.kite_orders(FIRST) == []
    fits = await submit(stack, signal("capped", "capped-2", quantity - 1))
    assert state_name(fits.record.state) == "SIGNAL_STATE_ROUTED", fits.record.reason


async def test_a_strategys_day_budget_starts_afresh_the_next_trading_day(stack: Stack) -> None:
    assert state_name((await submit(stack, signal("once", "day-1"))).record.state) == "SIGNAL_STATE_ROUTED"
    assert state_name((await submit(stack, signal("once", "day-1b"))).record.state) == "SIGNAL_STATE_REFUSED_BUDGET"
    stack.sim.advance_clock(24 * 3600)  # the next day, 10:30 IST
    await log_in_demo_accounts(stack.sim, stack.runtime.accounts)  # yesterday's tokens expired at 06:00
    next_day = await submit(stack, signal("once", "day-2"))
    assert state_name(next_day.record.state) == "SIGNAL_STATE_ROUTED", next_day.record.reason


async def test_concurrent_submissions_to_a_halted_strategy_all_answer_failed_and_place_nothing(stack: Stack) -> None:
    now = stack.sim.clock.now()
    await stack.runtime.signals.store.halt("pair", now.date().isoformat(), "daily loss limit crossed", now)
    answers = await asyncio.gather(*(submit(stack, signal("pair", "halted-1")) for _ in range(6)),
                                   return_exceptions=True)  # fmt: skip
    errors = [a for a in answers if isinstance(a, BaseException)]
    assert errors == [], [(i, e.details()) for i, e in enumerate(answers) if isinstance(e, grpc.aio.AioRpcError)]
    assert {state_name(a.record.state) for a in answers if not isinstance(a, BaseException)} == {"SIGNAL_STATE_FAILED"}
    assert [stack.kite_orders(a) for a in (FIRST, SECOND)] == [[], []]


# Approval -----------------------------------------------------------------------------------------


async def test_a_gated_signal_waits_for_approval_with_a_deadline_and_approval_routes_it(stack: Stack) -> None:
    held = await submit(stack, signal("gated", "gated-1"))
    assert state_name(held.record.state) == "SIGNAL_STATE_PENDING_APPROVAL"
    deadline = held.record.expires_at.ToDatetime().timestamp() - held.record.created_at.ToDatetime().timestamp()
    assert deadline == APPROVAL_TIMEOUT
    assert all(stack.kite_orders(a) == [] for a in (FIRST, SECOND)), "nothing is sent before the approval"
    approved = await stack.signals.ApproveSignal(S.ApproveSignalRequest(strategy_id="gated", signal_id="gated-1"))
    assert state_name(approved.record.state) == "SIGNAL_STATE_ROUTED", approved.record.reason
    for order in approved.record.orders:
        assert len(kite_orders_of(stack, order.account_id, order.client_order_id)) == 1


async def test_approving_a_signal_after_its_deadline_is_failed_precondition_and_the_signal_is_expired(
    stack: Stack,
) -> None:
    await submit(stack, signal("gated", "gated-late"))
    stack.sim.advance_clock(APPROVAL_TIMEOUT + 1)  # the gateway's clock is the simulator's
    with pytest.raises(grpc.aio.AioRpcError) as late:
        await stack.signals.ApproveSignal(S.ApproveSignalRequest(strategy_id="gated", signal_id="gated-late"))
    assert late.value.code() == grpc.StatusCode.FAILED_PRECONDITION, late.value.details()
    assert state_name((await record(stack, "gated", "gated-late")).state) == "SIGNAL_STATE_EXPIRED"
    assert all(stack.kite_orders(a) == [] for a in (FIRST, SECOND))


async def test_the_expiry_sweep_expires_a_signal_nobody_decided_on_and_leaves_one_in_time(stack: Stack) -> None:
    await submit(stack, signal("gated", "gated-old"))
    stack.sim.advance_clock(APPROVAL_TIMEOUT // 2)
    await submit(stack, signal("gated", "gated-new"))
    stack.sim.advance_clock(APPROVAL_TIMEOUT // 2 + 1)  # past the first deadline only
    assert await stack.runtime.signals.expire_due() == ["gated/gated-old"]
    assert state_name((await record(stack, "gated", "gated-old")).state) == "SIGNAL_STATE_EXPIRED"
    assert state_name((await record(stack, "gated", "gated-new")).state) == "SIGNAL_STATE_PENDING_APPROVAL"


async def test_rejecting_a_pending_signal_places_nothing_and_it_cannot_be_approved_after(stack: Stack) -> None:
    await submit(stack, signal("gated", "gated-no"))
    rejected = await stack.signals.RejectSignal(S.RejectSignalRequest(strategy_id="gated", signal_id="gated-no"))
    assert state_name(rejected.record.state) == "SIGNAL_STATE_REJECTED"
    assert list(rejected.record.orders) == []
    with pytest.raises(grpc.aio.AioRpcError) as approved:
        await stack.signals.ApproveSignal(S.ApproveSignalRequest(strategy_id="gated", signal_id="gated-no"))
    assert approved.value.code() == grpc.StatusCode.FAILED_PRECONDITION, approved.value.details()
    assert all(stack.kite_orders(a) == [] for a in (FIRST, SECOND))


async def test_the_signal_upkeep_goes_on_sweeping_after_a_round_fails_unexpectedly(stack: Stack) -> None:
    signals = stack.runtime.signals
    sweep = signals.expire_due
    rounds: list[int] = []

    async def failing_once() -> list[str]:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("the database went away for a moment")
        return await sweep()

    signals.expire_due = failing_once  # type: ignore[method-assign]
    upkeep = asyncio.create_task(stack.runtime.keep_signals(every=0))
    try:
        await eventually(lambda: len(rounds) >= 3 or upkeep.done(), "the upkeep swept again")
        assert not upkeep.done(), "the upkeep ended on the failed round"
    finally:
        upkeep.cancel()
        await asyncio.gather(upkeep, return_exceptions=True)


# The signal stream --------------------------------------------------------------------------------


Seen = list[S.StreamSignalsResponse]


async def read_until(stream: Any, done: Callable[[Seen], bool], seconds: float = 15.0) -> Seen:
    """Messages off the stream (heartbeats left out) until `done` holds of them."""
    seen: Seen = []
    async with asyncio.timeout(seconds):
        async for message in stream:
            if message.WhichOneof("event") != "heartbeat":
                seen.append(message)
            if done(seen):
                return seen
    raise AssertionError(f"the stream ended after {seen}")


def sequences(seen: Seen) -> list[int]:
    return [m.signal_event.sequence for m in seen if m.WhichOneof("event") == "signal_event"]


def replayed(seen: Seen) -> bool:
    return any(m.WhichOneof("event") == "replay_complete" for m in seen)


async def replay(stack: Stack, after: int) -> tuple[list[int], int]:
    """Every change after `after` and ReplayComplete's last_sequence."""
    stream = stack.signals.StreamSignals(S.StreamSignalsRequest(after_sequence=after))
    try:
        seen = await read_until(stream, replayed)
    finally:
        stream.cancel()
    assert seen[-1].WhichOneof("event") == "replay_complete", "ReplayComplete comes once, after the replay"
    return sequences(seen), seen[-1].replay_complete.last_sequence


async def test_the_signal_stream_replays_every_change_without_gaps_then_goes_live_and_resumes_mid_way(
    stack: Stack,
) -> None:
    await submit(stack, signal("pair", "stream-1"))
    await submit(stack, signal("gated", "stream-2"))
    await submit(stack, signal("once", "stream-3"))
    stream = stack.signals.StreamSignals(S.StreamSignalsRequest(after_sequence=0))
    try:
        seen = await read_until(stream, replayed)
        replay_sequences, last = sequences(seen), seen[-1].replay_complete.last_sequence
        assert replay_sequences == list(range(1, last + 1)) and last >= 6, replay_sequences
        states = [(m.signal_event.signal_id, state_name(m.signal_event.state)) for m in seen[:-1]]
        assert ("stream-1", "SIGNAL_STATE_ROUTED") in states and ("stream-2", "SIGNAL_STATE_PENDING_APPROVAL") in states
        await stack.signals.RejectSignal(S.RejectSignalRequest(strategy_id="gated", signal_id="stream-2"))
        live = await read_until(stream, lambda more: len(more) >= 1)
        assert [
            (m.signal_event.sequence, m.signal_event.signal_id, state_name(m.signal_event.state)) for m in live
        ] == [(last + 1, "stream-2", "SIGNAL_STATE_REJECTED")]
    finally:
        stream.cancel()
    middle = last // 2
    resumed, resumed_last = await replay(stack, middle)
    assert resumed == list(range(middle + 1, last + 2)) and resumed_last == last + 1


async def test_the_signal_sequence_goes_on_without_a_gap_after_a_gateway_restart(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    first = await start(tmp_path, sim, sealing_key)
    try:
        await submit(first, signal("pair", "before-restart"))
        before, last = await replay(first, 0)
        assert before == list(range(1, last + 1)) and last > 0
    finally:
        await stop_stack(first)
    second = await start(tmp_path, sim, sealing_key)  # the same data directory
    try:
        await submit(second, signal("pair", "after-restart"))
        after, newest = await replay(second, 0)
        assert after == list(range(1, newest + 1)) and newest > last, after
        resumed, _ = await replay(second, last)
        assert resumed == list(range(last + 1, newest + 1))
    finally:
        await stop_stack(second)


async def test_a_signal_pending_approval_survives_a_restart_and_is_approved_or_expired_after_it(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    first = await start(tmp_path, sim, sealing_key)
    try:
        await submit(first, signal("gated", "kept-1"))
        await submit(first, signal("gated", "kept-2"))
    finally:
        await stop_stack(first)
    second = await start(tmp_path, sim, sealing_key)
    try:
        approved = await second.signals.ApproveSignal(S.ApproveSignalRequest(strategy_id="gated", signal_id="kept-1"))
        assert state_name(approved.record.state) == "SIGNAL_STATE_ROUTED", approved.record.reason
        assert [len(second.kite_orders(a)) for a in (FIRST, SECOND)] == [1, 1]
        sim.advance_clock(APPROVAL_TIMEOUT)  # the deadline itself: too late
        assert await second.runtime.signals.expire_due() == ["gated/kept-2"]
    finally:
        await stop_stack(second)


# Faults the simulator does not make by itself -----------------------------------------------------


async def test_a_signal_whose_placement_answer_never_arrives_is_unavailable_and_its_retry_routes_one_order_each(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    stack = await start(tmp_path, sim, sealing_key, request_timeout=0.5)
    try:
        held = sim.faults.add(Fault("POST", "/orders/*", "hold"))  # the first placement is stuck on its way
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await submit(stack, signal("pair", "lost-1"))
        code, reason, metadata, _ = status_of(unknown.value)
        assert (code, reason) == (grpc.StatusCode.UNAVAILABLE, "ORDER_OUTCOME_UNKNOWN"), unknown.value.details()
        assert metadata["signal_id"] == "lost-1" and retry_delay(unknown.value) >= 1, "RetryInfo, as PlaceOrder's"
        assert state_name((await record(stack, "pair", "lost-1")).state) == "SIGNAL_STATE_ROUTING"
        held.release()  # ... and reaches Kite after all, its answer to nobody
        await eventually(lambda: held.delivered == 1, "the held placement reached Kite")
        retried = await submit(stack, signal("pair", "lost-1"))
        assert retried.replayed
        assert state_name(retried.record.state) == "SIGNAL_STATE_ROUTED", retried.record.reason
        for order in retried.record.orders:
            (at_kite,) = kite_orders_of(stack, order.account_id, order.client_order_id)
            assert at_kite["order_id"] == order.order_id
        assert [len(stack.kite_orders(a)) for a in (FIRST, SECOND)] == [1, 1]
    finally:
        await stop_stack(stack)


async def test_an_interrupted_signal_is_finished_by_the_resume_sweep_without_a_second_order(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    stack = await start(tmp_path, sim, sealing_key, request_timeout=0.5)
    try:
        held = sim.faults.add(Fault("POST", "/orders/*", "hold"))
        with pytest.raises(grpc.aio.AioRpcError):
            await submit(stack, signal("pair", "lost-2"))
        held.release()
        await eventually(lambda: held.delivered == 1, "the held placement reached Kite")
        assert await stack.runtime.signals.resume_unfinished(SIGNAL_RESUME_IDLE) == [], "not idle long enough yet"
        sim.advance_clock(SIGNAL_RESUME_IDLE + 1)
        assert await stack.runtime.signals.resume_unfinished(SIGNAL_RESUME_IDLE) == ["pair/lost-2"]  # keep_signals
        assert state_name((await record(stack, "pair", "lost-2")).state) == "SIGNAL_STATE_ROUTED"
        assert [len(stack.kite_orders(a)) for a in (FIRST, SECOND)] == [1, 1]
    finally:
        await stop_stack(stack)


async def test_a_signal_interrupted_by_a_restart_is_finished_by_the_resume_sweep_after_it(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    first = await start(tmp_path, sim, sealing_key, request_timeout=0.5)
    held = sim.faults.add(Fault("POST", "/orders/*", "hold"))
    try:
        with pytest.raises(grpc.aio.AioRpcError):
            await submit(first, signal("pair", "lost-3"))
    finally:
        await stop_stack(first)
    held.release()
    await eventually(lambda: held.delivered == 1, "the held placement reached Kite")
    second = await start(tmp_path, sim, sealing_key, request_timeout=0.5)
    try:
        sim.advance_clock(SIGNAL_RESUME_IDLE + 1)
        assert await second.runtime.signals.resume_unfinished(SIGNAL_RESUME_IDLE) == ["pair/lost-3"]
        assert state_name((await record(second, "pair", "lost-3")).state) == "SIGNAL_STATE_ROUTED"
        assert [len(second.kite_orders(a)) for a in (FIRST, SECOND)] == [1, 1]
    finally:
        await stop_stack(second)


async def settled(stack: Stack, strategy_id: str, signal_id: str, seconds: float = 15.0) -> S.SignalRecord:
    """The signal once it left RECEIVED and ROUTING (polled: another task carries it on)."""
    async with asyncio.timeout(seconds):
        while True:
            found = await record(stack, strategy_id, signal_id)
            if found.state not in (S.SIGNAL_STATE_RECEIVED, S.SIGNAL_STATE_ROUTING):
                return found
            await asyncio.sleep(0.005)


async def test_a_caller_that_gives_up_mid_routing_leaves_the_signal_to_finish_with_one_order_per_account(
    stack: Stack,
) -> None:
    await submit(stack, signal("once", "warm-up"))  # the instrument master is loaded: the next call goes straight on
    # Kite answers each order after 1.6 s (inside the gateway's 2 s request timeout); the caller gives up
    # after 1 s, time enough on a loaded machine for the signal to be stored and planned, never for its
    # orders to be answered.
    slow = stack.sim.faults.add(Fault("POST", "/orders/*", "delay", times=2, seconds=1.6))
    with pytest.raises(grpc.aio.AioRpcError) as gave_up:
        await submit(stack, signal("pair", "impatient-1"), timeout=1.0)
    assert gave_up.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    finished = await settled(stack, "pair", "impatient-1")
    assert state_name(finished.state) == "SIGNAL_STATE_ROUTED", finished.reason
    assert slow.times == 0
    again = await submit(stack, signal("pair", "impatient-1"))
    assert again.replayed
    assert [len(stack.kite_orders(a)) for a in (FIRST, SECOND)] == [2, 1]  # the warm-up's order and this one's


# Authorization ------------------------------------------------------------------------------------

TOKENS = {"trader": "tok-trader-1", "desk": "tok-desk-1"}
PRINCIPALS = f"""
[[principal]]
name = "trader"
token_sha256 = "{token_digest(TOKENS["trader"])}"
trade = ["{FIRST}"]

[[principal]]
name = "desk"
token_sha256 = "{token_digest(TOKENS["desk"])}"
trade = ["*"]
"""


def bearer(name: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {TOKENS[name]}"),)


async def test_a_caller_who_may_not_trade_one_of_the_strategys_accounts_is_denied_and_nothing_is_stored(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    stack = await start(tmp_path, sim, sealing_key, gateway_auth_principals=PRINCIPALS)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await submit(stack, signal("pair", "denied-1"), metadata=bearer("trader"))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED, denied.value.details()
        assert SECOND in (denied.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stack.signals.GetSignal(S.GetSignalRequest(strategy_id="pair", signal_id="denied-1"),
                                          metadata=bearer("desk"))  # fmt: skip
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        allowed = await submit(stack, signal("once", "allowed-1"), metadata=bearer("trader"))
        assert state_name(allowed.record.state) == "SIGNAL_STATE_ROUTED" and allowed.record.principal == "trader"
        assert stack.kite_orders(SECOND) == [] and len(stack.kite_orders(FIRST)) == 1
        await submit(stack, signal("pair", "desk-1"), metadata=bearer("desk"))
        listed = await stack.signals.ListStrategies(S.ListStrategiesRequest(), metadata=bearer("trader"))
        assert FIRST in {a for s in listed.strategies for a in s.accounts}
        assert all(set(s.accounts) <= {FIRST} for s in listed.strategies), "only strategies it may read"
        stream = stack.signals.StreamSignals(S.StreamSignalsRequest(after_sequence=0), metadata=bearer("trader"))
        try:
            seen = await read_until(stream, replayed)
        finally:
            stream.cancel()
        assert {m.signal_event.strategy_id for m in seen[:-1]} == {"once"}, "no event of a strategy it may not read"
    finally:
        await stop_stack(stack)


async def test_get_signal_shows_each_orders_fills_as_kites_order_book_has_them(stack: Stack) -> None:
    placed = await submit(stack, signal("pair", "lineage-1", quantity=3))
    assert state_name(placed.record.state) == "SIGNAL_STATE_ROUTED"
    await stack.sim.advance_async(5)  # a matching pass: the market orders fill
    await eventually(lambda: all(o["status"] == "COMPLETE" for a in (FIRST, SECOND) for o in stack.kite_orders(a)),
                     "both orders filled at the simulator")  # fmt: skip
    lineage = await record(stack, "pair", "lineage-1")
    kite = {o["order_id"]: o for a in (FIRST, SECOND) for o in stack.kite_orders(a)}
    for order in lineage.orders:
        row = kite[order.order_id]
        assert (order.kite_status, order.filled_quantity) == ("COMPLETE", 3)
        assert from_decimal_pb(order.average_price, "average_price") == Decimal(str(row["average_price"]))
    listed = await stack.signals.ListSignals(S.ListSignalsRequest(strategy_id="pair"))
    assert [r.orders for r in listed.records] == [[]]  # listing leaves the orders (and Kite) out
