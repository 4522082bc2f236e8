"""The signals use case with fake ports and the real SQLite store: a signal sized onto two accounts,
replayed without a second order, refused by a budget, held for approval then expired or approved and
routed, an order failing on one account, and the lineage of every order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from kite_gateway.core.orders import NewOrder
from kite_gateway.core.signals.approval import Clock
from kite_gateway.core.signals.budget import Usage
from kite_gateway.core.signals.model import Side, Signal, SignalState
from kite_gateway.core.signals.service import Signals, signal_client_order_id, signal_json
from kite_gateway.core.signals.sizing import AccountView
from kite_gateway.core.signals.strategies import Approval, Budget, Sizing, SizingMode, Strategy, StrategyBook
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.storage import SignalStore, open_database
from kite_wire.instruments import Instrument

T0 = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)
NIFTY_FUT = Instrument(1, 1, "NIFTY26DECFUT", "NIFTY", "NFO", "NFO-FUT", "FUT", None, Decimal(0), Decimal("0.05"),
                       75, Decimal("24000"))  # fmt: skip
BUY_2 = Signal("mom", "sig-1", "NFO", "NIFTY26DECFUT", side=Side.BUY, quantity=150)


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class FakeBroker:
    """Places orders and remembers them by client_order_id, as the gateway's placement does."""

    def __init__(self, failing: frozenset[str] = frozenset(), unknown: frozenset[str] = frozenset()) -> None:
        self.orders: dict[str, NewOrder] = {}
        self.calls = 0
        self.failing = failing
        self.unknown = set(unknown)  # accounts whose next placement's answer never comes
        self.principals: list[str] = []

    async def __call__(self, order: NewOrder, principal: str) -> str:
        self.calls += 1
        self.principals.append(principal)
        if order.account_id in self.unknown:
            self.unknown.discard(order.account_id)
            self.orders.setdefault(order.client_order_id, order)  # Kite took it; the answer was lost
            raise GatewayError(Status.UNAVAILABLE, Reason.ORDER_OUTCOME_UNKNOWN, "no answer from Kite")
        if order.account_id in self.failing:
            raise GatewayError(Status.FAILED_PRECONDITION, Reason.UNSPECIFIED, "insufficient margin")
        self.orders.setdefault(order.client_order_id, order)
        return f"order-{order.account_id}"


def _strategy(**overrides: object) -> Strategy:
    values: dict[str, object] = {
        "id": "mom", "accounts": ("ZS0001",), "groups": ("family",), "product": "NRML",
        "account_sizing": {"ZS0002": Sizing(SizingMode.MULTIPLIER, multiplier=Decimal("0.5"))},
    }  # fmt: skip
    values.update(overrides)
    return Strategy(**values)  # type: ignore[arg-type]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SignalStore]:
    database = open_database(None, tmp_path)
    await database.open()
    yield SignalStore(database)
    await database.close()


def _signals(store: SignalStore, strategy: Strategy, broker: FakeBroker, clock: Clock,
             usage: Usage | None = None, halted: str | None = None,
             reads: list[tuple[str, bool, bool]] | None = None) -> Signals:  # fmt: skip
    async def last_price(listing: Instrument) -> Decimal:
        return listing.last_price

    async def account_view(account_id: str, listing: Instrument, product: str, margin: bool,
                           position: bool) -> AccountView:  # fmt: skip
        if reads is not None:
            reads.append((account_id, margin, position))
        return AccountView(account_id, Decimal(1_000_000), 0)

    async def usage_of(strategy_id: str) -> Usage:
        if reads is not None:
            reads.append((f"usage:{strategy_id}", False, False))
        return usage or Usage()

    async def halted_of(strategy_id: str) -> str | None:
        return halted

    return Signals(
        StrategyBook({strategy.id: strategy}), store, broker, lambda exchange, symbol: NIFTY_FUT, last_price,
        account_view, usage_of, {"family": ["ZS0002"]}.__getitem__, clock, halted_of,
    )  # fmt: skip


async def test_a_signal_is_sized_onto_each_account_in_whole_lots_and_routed(store: SignalStore) -> None:
    broker = FakeBroker()
    record = await _signals(store, _strategy(), broker, FakeClock()).submit(BUY_2, "alice")
    assert record.state is SignalState.ROUTED and not record.replayed
    sent = {o.account_id: (o.params.quantity, o.params.transaction_type, o.params.order_type, o.params.product)
            for o in broker.orders.values()}  # fmt: skip
    # ZS0001 at multiplier 1: 150 = 2 lots; ZS0002 at 0.5: 75 = 1 lot
    assert sent == {"ZS0001": (150, "BUY", "MARKET", "NRML"), "ZS0002": (75, "BUY", "MARKET", "NRML")}
    assert [(o.account_id, o.client_order_id, o.order_id, o.status) for o in record.orders] == [
        ("ZS0001", signal_client_order_id("mom", "sig-1", "ZS0001"), "order-ZS0001", "placed"),
        ("ZS0002", signal_client_order_id("mom", "sig-1", "ZS0002"), "order-ZS0002", "placed"),
    ]
    assert await store.orders_of_strategy("mom") == [("ZS0001", "order-ZS0001"), ("ZS0002", "order-ZS0002")]
    states = [e.state for e in await store.events_after(0)]
    assert states == ["RECEIVED", "ROUTING", "ROUTED"]


async def test_a_replayed_signal_returns_the_stored_one_without_a_second_order(store: SignalStore) -> None:
    broker = FakeBroker()
    signals = _signals(store, _strategy(), broker, FakeClock())
    first = await signals.submit(BUY_2, "alice")
    again = await signals.submit(BUY_2, "alice")
    assert again.replayed and again.state is SignalState.ROUTED and again.orders == first.orders
    assert broker.calls == 2  # one per account, from the first submit only
    with pytest.raises(GatewayError) as reused:
        await signals.submit(Signal("mom", "sig-1", "NFO", "NIFTY26DECFUT", side=Side.SELL, quantity=150), "alice")
    assert reused.value.code is Status.ALREADY_EXISTS and broker.calls == 2


async def test_the_client_order_id_is_deterministic_short_and_of_the_allowed_characters() -> None:
    long_id = "x" * 64
    one = signal_client_order_id(long_id, long_id, "ZS0001")
    assert one == signal_client_order_id(long_id, long_id, "ZS0001") and len(one) <= 64
    assert one != signal_client_order_id(long_id, long_id, "ZS0002")
    assert all(c.isalnum() or c in "._:-" for c in one)


async def test_a_signal_over_the_capital_budget_is_refused_and_places_nothing(store: SignalStore) -> None:
    broker = FakeBroker()
    strategy = _strategy(budget=Budget(max_capital=Decimal("5000000")))
    used = Usage(capital_deployed=Decimal("1000000"))  # + 225 units x 24000 = 5.4M: over 5M
    record = await _signals(store, strategy, broker, FakeClock(), used).submit(BUY_2, "alice")
    assert record.state is SignalState.REFUSED_BUDGET and "max_capital" in record.reason
    assert broker.calls == 0 and record.orders == ()


async def test_a_signal_held_for_approval_expires_at_its_deadline_and_cannot_be_approved(store: SignalStore) -> None:
    clock, broker = FakeClock(), FakeBroker()
    signals = _signals(store, _strategy(approval=Approval(True, 120)), broker, clock)
    held = await signals.submit(BUY_2, "alice")
    assert held.state is SignalState.PENDING_APPROVAL and held.expires_at == T0 + timedelta(seconds=120)
    clock.now = T0 + timedelta(seconds=119)
    assert await signals.expire_due() == []
    clock.now = T0 + timedelta(seconds=120)
    assert await signals.expire_due() == ["mom/sig-1"]
    assert (await signals.get("mom", "sig-1")).state is SignalState.EXPIRED
    with pytest.raises(GatewayError) as late:
        await signals.approve("mom", "sig-1", "carol")
    assert late.value.code is Status.FAILED_PRECONDITION and broker.calls == 0


async def test_an_approval_after_the_deadline_but_before_the_sweep_expires_the_signal(store: SignalStore) -> None:
    clock, broker = FakeClock(), FakeBroker()
    signals = _signals(store, _strategy(approval=Approval(True, 60)), broker, clock)
    await signals.submit(BUY_2, "alice")
    clock.now = T0 + timedelta(seconds=61)
    with pytest.raises(GatewayError) as late:
        await signals.approve("mom", "sig-1", "carol")
    assert late.value.code is Status.FAILED_PRECONDITION and "expired" in late.value.message
    assert (await signals.get("mom", "sig-1")).state is SignalState.EXPIRED and broker.calls == 0


async def test_an_approved_signal_is_routed_and_a_rejected_one_never_is(store: SignalStore) -> None:
    clock, broker = FakeClock(), FakeBroker()
    signals = _signals(store, _strategy(approval=Approval(True, 120)), broker, clock)
    await signals.submit(BUY_2, "alice")
    clock.now = T0 + timedelta(seconds=30)
    routed = await signals.approve("mom", "sig-1", "carol")
    assert routed.state is SignalState.ROUTED and broker.calls == 2
    assert [e.state for e in await store.events_after(0)] == [
        "RECEIVED", "PENDING_APPROVAL", "APPROVED", "ROUTING", "ROUTED"]  # fmt: skip
    await signals.submit(Signal("mom", "sig-2", "NFO", "NIFTY26DECFUT", side=Side.SELL, quantity=75), "alice")
    rejected = await signals.reject("mom", "sig-2", "carol")
    assert rejected.state is SignalState.REJECTED and rejected.reason == "rejected by carol" and broker.calls == 2
    with pytest.raises(GatewayError):
        await signals.approve("mom", "sig-2", "carol")  # decided already


async def test_an_order_failing_on_one_account_leaves_the_signal_partially_routed(store: SignalStore) -> None:
    broker = FakeBroker(failing=frozenset({"ZS0002"}))
    record = await _signals(store, _strategy(), broker, FakeClock()).submit(BUY_2, "alice")
    assert record.state is SignalState.PARTIALLY_ROUTED and "insufficient margin" in record.reason
    assert [(o.account_id, o.status, o.detail) for o in record.orders] == [
        ("ZS0001", "placed", ""), ("ZS0002", "failed", "insufficient margin")]  # fmt: skip
    assert await store.orders_of_strategy("mom") == [("ZS0001", "order-ZS0001")]


async def test_a_signal_of_an_unknown_strategy_is_not_found_and_not_stored(store: SignalStore) -> None:
    signals = _signals(store, _strategy(), FakeBroker(), FakeClock())
    with pytest.raises(GatewayError) as unknown:
        await signals.submit(Signal("other", "sig-1", "NFO", "NIFTY26DECFUT", side=Side.BUY, quantity=75), "alice")
    assert unknown.value.code is Status.NOT_FOUND and await store.events_after(0) == []
    assert [r.signal.signal_id for r in await signals.list("mom")] == []


async def test_a_signal_naming_an_unknown_instrument_is_refused_before_it_is_stored(store: SignalStore) -> None:
    signals = _signals(store, _strategy(), FakeBroker(), FakeClock())

    def unknown(exchange: str, tradingsymbol: str) -> Instrument:
        raise GatewayError(Status.NOT_FOUND, Reason.INSTRUMENT_NOT_FOUND, f"{exchange}:{tradingsymbol} is not listed")

    signals.listing = unknown
    with pytest.raises(GatewayError) as refused:
        await signals.submit(BUY_2, "alice")
    assert refused.value.reason is Reason.INSTRUMENT_NOT_FOUND and await store.events_after(0) == []


async def test_a_signal_on_an_index_is_invalid_argument_before_it_is_stored(store: SignalStore) -> None:
    broker = FakeBroker()
    signals = _signals(store, _strategy(), broker, FakeClock())
    index = Instrument(256265, 1001, "NIFTY 50", "NIFTY 50", "NSE", "INDICES", "EQ", None, Decimal(0), Decimal(0), 0,
                       Decimal("24000"))  # fmt: skip
    signals.listing = lambda exchange, tradingsymbol: index
    with pytest.raises(GatewayError) as refused:
        await signals.submit(Signal("mom", "sig-1", "NSE", "NIFTY 50", side=Side.BUY, quantity=1), "alice")
    assert refused.value.code is Status.INVALID_ARGUMENT and "index" in refused.value.message
    assert await store.events_after(0) == [] and broker.calls == 0


async def test_a_target_is_sized_from_the_position_in_the_orders_product_not_every_product(
    store: SignalStore,
) -> None:
    broker = FakeBroker()
    signals = _signals(store, _strategy(groups=()), broker, FakeClock())
    asked: list[str] = []

    async def account_view(account_id: str, listing: Instrument, product: str, margin: bool,
                           position: bool) -> AccountView:  # fmt: skip
        asked.append(product)
        return AccountView(account_id, Decimal(1_000_000), 75 if product == "NRML" else 0)

    signals.account_view = account_view
    held = await signals.submit(Signal("mom", "t-1", "NFO", "NIFTY26DECFUT", target_position=150), "alice")
    (order,) = broker.orders.values()
    assert (held.state, order.params.quantity, order.params.product) == (SignalState.ROUTED, 75, "NRML")
    await signals.submit(Signal("mom", "t-2", "NFO", "NIFTY26DECFUT", target_position=150, product="MIS"), "alice")
    assert asked == ["NRML", "MIS"]
    assert [o.params.quantity for o in broker.orders.values()] == [75, 150], "no MIS position: the whole target"


async def test_an_order_whose_answer_never_came_leaves_the_signal_routing_and_a_retry_finishes_it_once(
    store: SignalStore,
) -> None:
    broker = FakeBroker(unknown=frozenset({"ZS0002"}))
    signals = _signals(store, _strategy(), broker, FakeClock())
    with pytest.raises(GatewayError) as raised:
        await signals.submit(BUY_2, "alice")
    assert raised.value.code is Status.UNAVAILABLE and raised.value.reason is Reason.ORDER_OUTCOME_UNKNOWN
    assert (await signals.get("mom", "sig-1")).state is SignalState.ROUTING
    retried = await signals.submit(BUY_2, "alice")
    assert retried.state is SignalState.ROUTED and retried.replayed
    assert len(broker.orders) == 2  # the retry reached the order Kite took, never a second one
    assert [o.status for o in retried.orders] == ["placed", "placed"]
    assert set(broker.principals) == {"alice"}


async def test_a_signal_interrupted_after_its_plan_was_stored_is_resumed_by_the_sweeper_with_that_plan(
    store: SignalStore,
) -> None:
    clock = FakeClock()
    broker = FakeBroker(unknown=frozenset({"ZS0001", "ZS0002"}))
    signals = _signals(store, _strategy(), broker, clock)
    with pytest.raises(GatewayError):
        await signals.submit(BUY_2, "alice")
    assert await signals.resume_unfinished(30) == []  # not idle long enough yet
    clock.now += timedelta(seconds=31)
    assert await signals.resume_unfinished(30) == ["mom/sig-1"]
    record = await signals.get("mom", "sig-1")
    assert record.state is SignalState.ROUTED
    assert sorted(o.params.quantity for o in broker.orders.values()) == [75, 150]  # the stored plan's lots


async def test_a_halted_strategys_new_signal_fails_with_the_halt_as_reason_and_places_nothing(
    store: SignalStore,
) -> None:
    broker = FakeBroker()
    record = await _signals(store, _strategy(), broker, FakeClock(), halted="daily loss 5000 crossed").submit(
        BUY_2, "alice"
    )
    assert record.state is SignalState.FAILED and "halted: daily loss 5000 crossed" in record.reason
    assert broker.calls == 0


async def test_concurrent_submits_of_one_signal_route_it_once(store: SignalStore) -> None:
    broker = FakeBroker()
    signals = _signals(store, _strategy(), broker, FakeClock())
    first, second = await asyncio.gather(signals.submit(BUY_2, "alice"), signals.submit(BUY_2, "alice"))
    assert {first.replayed, second.replayed} == {False, True}
    assert broker.calls == 2 and first.state is second.state is SignalState.ROUTED


async def test_kite_is_read_only_for_what_sizing_and_the_budget_use(store: SignalStore) -> None:
    reads: list[tuple[str, bool, bool]] = []
    plain = _strategy(account_sizing={})  # multiplier sizing, no budget: nothing to read
    await _signals(store, plain, FakeBroker(), FakeClock(), reads=reads).submit(BUY_2, "alice")
    assert reads == []
    tenth = Sizing(SizingMode.CAPITAL_SHARE, multiplier=None, fraction=Decimal("0.1"))
    share = _strategy(account_sizing={"ZS0002": tenth}, budget=Budget(max_orders_per_day=10))
    target = Signal("mom", "sig-2", "NFO", "NIFTY26DECFUT", target_position=150)
    await _signals(store, share, FakeBroker(), FakeClock(), reads=reads).submit(target, "alice")
    assert sorted(reads) == [("ZS0001", False, True), ("ZS0002", True, True), ("usage:mom", False, False)]


async def test_a_caller_that_gives_up_mid_routing_leaves_the_signal_to_finish_routing_once(store: SignalStore) -> None:
    gate, sending = asyncio.Event(), asyncio.Event()

    class SlowBroker(FakeBroker):
        async def __call__(self, order: NewOrder, principal: str) -> str:
            sending.set()
            await gate.wait()
            return await super().__call__(order, principal)

    broker = SlowBroker()
    signals = _signals(store, _strategy(), broker, FakeClock())
    caller = asyncio.create_task(signals.submit(BUY_2, "alice"))
    await sending.wait()  # the first order is on its way to Kite
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    gate.set()
    retried = await signals.submit(BUY_2, "alice")  # waits for the routing the first caller left running
    assert retried.state is SignalState.ROUTED and broker.calls == 2


async def test_concurrent_submits_of_a_halted_strategys_signal_all_answer_failed_and_place_nothing(
    store: SignalStore,
) -> None:
    broker = FakeBroker()
    signals = _signals(store, _strategy(), broker, FakeClock(), halted="daily loss 5000 crossed")
    records = await asyncio.gather(*(signals.submit(BUY_2, "alice") for _ in range(4)))
    assert {r.state for r in records} == {SignalState.FAILED} and sum(not r.replayed for r in records) == 1
    assert broker.calls == 0


async def test_a_signal_stopped_between_the_halts_two_moves_is_resumed_to_failed(store: SignalStore) -> None:
    clock = FakeClock()
    signals = _signals(store, _strategy(), FakeBroker(), clock)
    await store.claim("mom", "sig-1", "fp", json.dumps(signal_json(BUY_2)), "alice", "RECEIVED", clock())
    await store.move("mom", "sig-1", "RECEIVED", "ROUTING", "not routed: the strategy is halted", clock())
    clock.now += timedelta(seconds=31)
    assert await signals.resume_unfinished(30) == ["mom/sig-1"]
    assert (await signals.get("mom", "sig-1")).state is SignalState.FAILED


async def test_a_submission_and_an_approval_after_a_restart_load_the_instruments_before_resolving_one(
    store: SignalStore,
) -> None:
    loaded: list[bool] = []

    async def ready() -> None:
        loaded.append(True)

    def listing(exchange: str, tradingsymbol: str) -> Instrument:
        if not loaded:
            raise GatewayError(Status.NOT_FOUND, Reason.INSTRUMENT_NOT_FOUND, "not in today's instrument master")
        return NIFTY_FUT

    clock, broker, gated = FakeClock(), FakeBroker(), _strategy(approval=Approval(True, 60))
    before = _signals(store, gated, broker, clock)
    before.listing, before.ready = listing, ready
    assert (await before.submit(BUY_2, "alice")).state is SignalState.PENDING_APPROVAL
    loaded.clear()  # a restart: nothing loaded yet
    after = _signals(store, gated, broker, clock)
    after.listing, after.ready = listing, ready
    assert (await after.approve("mom", "sig-1", "bob")).state is SignalState.ROUTED


async def test_a_signal_still_routing_answers_unavailable_with_the_soonest_retry_its_orders_asked_for(
    store: SignalStore,
) -> None:
    class SlowBroker(FakeBroker):
        async def __call__(self, order: NewOrder, principal: str) -> str:
            wait = 7.0 if order.account_id == "ZS0001" else 3.0
            raise GatewayError(Status.UNAVAILABLE, Reason.ORDER_OUTCOME_UNKNOWN, "no answer yet", retry_after=wait)

    with pytest.raises(GatewayError) as routing:
        await _signals(store, _strategy(), SlowBroker(), FakeClock()).submit(BUY_2, "alice")
    assert (routing.value.reason, routing.value.retry_after) == (Reason.ORDER_OUTCOME_UNKNOWN, 3.0)
    with pytest.raises(GatewayError) as unsaid:  # an order's error without one: at least a second
        await _signals(store, _strategy(), FakeBroker(unknown=frozenset({"ZS0001"})), FakeClock()).submit(
            replace(BUY_2, signal_id="sig-2"), "alice"
        )
    assert unsaid.value.retry_after == 1.0


async def test_a_signal_whose_resume_breaks_does_not_hold_up_the_others_in_the_sweep(store: SignalStore) -> None:
    clock = FakeClock()
    signals = _signals(store, _strategy(), FakeBroker(), clock)
    for signal_id in ("a-1", "a-2"):
        body = json.dumps(signal_json(replace(BUY_2, signal_id=signal_id)))
        await store.claim("mom", signal_id, "fp", body, "alice", "RECEIVED", clock())
    await store.database.execute("UPDATE signals SET body = '{}' WHERE signal_id = 'a-1'")  # a row no code reads
    clock.now += timedelta(seconds=31)
    assert await signals.resume_unfinished(30) == ["mom/a-2"]


async def test_clustered_a_signal_with_an_account_another_replica_owns_is_finished_by_that_owner_once_told(
    store: SignalStore,
) -> None:
    class FencedBroker(FakeBroker):
        """One replica's placement: an account it does not own is refused by the lease fence."""

        def __init__(self, owned: str) -> None:
            super().__init__()
            self.owned = owned

        async def __call__(self, order: NewOrder, principal: str) -> str:
            if order.account_id != self.owned:
                raise GatewayError(Status.UNAVAILABLE, Reason.ACCOUNT_MOVING, "another replica owns it")
            return await super().__call__(order, principal)

    first_broker, second_broker = FencedBroker("ZS0001"), FencedBroker("ZS0002")
    first = _signals(store, _strategy(), first_broker, FakeClock())
    second = _signals(store, _strategy(), second_broker, FakeClock())
    first.owns, second.owns = {"ZS0001"}.__contains__, {"ZS0002"}.__contains__
    told: list[tuple[str, str]] = []
    first.on_elsewhere.append(lambda strategy_id, signal_id: told.append((strategy_id, signal_id)))
    with pytest.raises(GatewayError) as unfinished:
        await first.submit(BUY_2, "alice")
    assert unfinished.value.code is Status.UNAVAILABLE and told == [("mom", "sig-1")]
    assert not await first.resume_owned("mom", "sig-1")  # what it owns is placed already: nothing to do
    assert await second.resume_owned("mom", "sig-1")
    record = await first.get("mom", "sig-1")
    assert record.state is SignalState.ROUTED
    assert (len(first_broker.orders), len(second_broker.orders)) == (1, 1)  # each account's order once, by its owner
    assert not await second.resume_owned("mom", "sig-1")
