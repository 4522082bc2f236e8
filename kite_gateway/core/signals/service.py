"""The signals use case: a strategy's signal in, each of its accounts' orders out, every step stored.

submit: validate; claim the (strategy_id, signal_id) in the store (a retry gets the stored signal
back, `replayed`, and nothing is done again; the same id with another body is ALREADY_EXISTS); plan
it (size every account, check the strategy's budget: REFUSED_BUDGET, or SKIPPED when no account has
anything to order); then hold it for approval (PENDING_APPROVAL until its deadline) or route it.
A budget refusal before approval spares a person an approval that could not be routed anyway.
approve: the plan again (the day's usage may have moved while it waited), then routing.

Routing records every leg (its planned order: lineage, and what a resumed signal sends) before any
is sent, then sends them at once through the injected `place` port, each with a client_order_id
derived from (strategy_id, signal_id, account_id) alone (`signal_client_order_id`), so a retry of the
same signal on the same account can only reach the order already placed, never a second one. The
signal ends ROUTED, PARTIALLY_ROUTED or FAILED (model.routing_outcome); while an order's outcome is
unknown it stays ROUTING and the caller is told UNAVAILABLE. A signal left mid-way (a crash, a caller
that gave up) is carried on from its stored state by a retry or by `resume_unfinished`; one handling
at a time per signal in a process, and the store's compare-and-set moves between processes.

Everything outside the core comes in as a port (constructor arguments): the strategies, the store,
placing an order, the instrument, its last price, an account's margin and position, the strategy's
budget usage, the account groups' members and the clock, so tests run it with fakes and no sleeps.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import structlog

from kite_gateway.core.market import Listing
from kite_gateway.core.orders import NewOrder, OrderParams, check_tradable
from kite_gateway.core.signals.approval import ApprovalDesk, Clock, PendingApproval
from kite_gateway.core.signals.budget import Usage, check_budget
from kite_gateway.core.signals.model import (
    Side,
    Signal,
    SignalState,
    Urgency,
    UrgencyKind,
    Validity,
    check_move,
    routing_outcome,
    validate,
)
from kite_gateway.core.signals.sizing import AccountView, Leg, Skip, size_all
from kite_gateway.core.signals.strategies import SizingMode, Strategy, StrategyBook
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.storage import SignalOrder, SignalStore, StoredSignal

log = structlog.get_logger(__name__)


class Place(Protocol):
    """Place one order (OrderActions.place in the gateway) for the signal's principal (its audit
    entry); its Kite order id. A GatewayError is that order's failure, not the signal's: the other
    legs are still placed (and one whose outcome is unknown is sent again: outcome_unknown)."""

    async def __call__(self, order: NewOrder, principal: str) -> str: ...


ListingOf = Callable[[str, str], Listing]  # (exchange, tradingsymbol) -> the listing; NOT_FOUND when unknown
LastPrice = Callable[[Listing], Awaitable[Decimal]]
# (account, instrument, product, margin wanted, position wanted) -> what was asked: the segment's
# available margin, and the net position in the instrument in that product
AccountViewOf = Callable[[str, Listing, str, bool, bool], Awaitable[AccountView]]
UsageOf = Callable[[str], Awaitable[Usage]]  # strategy id -> its budget usage today
Members = Callable[[str], Sequence[str]]  # account group -> its account ids (KeyError when unknown)
Halted = Callable[[str], Awaitable[str | None]]  # strategy id -> why it is halted today (None: it is not)
OnEvent = Callable[[], None]  # a signal changed state (the stream's wake-up)
Ready = Callable[[], Awaitable[None]]  # load what `listing` needs (the instrument master) before it is asked


def signal_client_order_id(strategy_id: str, signal_id: str, account_id: str) -> str:
    """The client_order_id of a signal's order on one account: the same on every retry, 44 characters
    of [a-z0-9-] (a short hash: the ids themselves may be 64 characters each)."""
    digest = hashlib.sha256(f"signal|{strategy_id}|{signal_id}|{account_id}".encode()).hexdigest()
    return f"sig-{digest[:40]}"


def signal_json(signal: Signal) -> dict[str, Any]:
    return {
        "strategy_id": signal.strategy_id,
        "signal_id": signal.signal_id,
        "exchange": signal.exchange,
        "tradingsymbol": signal.tradingsymbol,
        "side": signal.side.value if signal.side else None,
        "quantity": signal.quantity,
        "target_position": signal.target_position,
        "price_hint": None if signal.price_hint is None else str(signal.price_hint),
        "urgency": {
            "kind": signal.urgency.kind.value,
            "offset_ticks": signal.urgency.offset_ticks,
            "price": None if signal.urgency.price is None else str(signal.urgency.price),
        },
        "validity": signal.validity.value,
        "product": signal.product,
        "stop_distance": None if signal.stop_distance is None else str(signal.stop_distance),
    }


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def signal_from_json(body: dict[str, Any]) -> Signal:
    urgency = body["urgency"]
    return Signal(
        strategy_id=body["strategy_id"],
        signal_id=body["signal_id"],
        exchange=body["exchange"],
        tradingsymbol=body["tradingsymbol"],
        side=None if body["side"] is None else Side(body["side"]),
        quantity=body["quantity"],
        target_position=body["target_position"],
        price_hint=_decimal(body["price_hint"]),
        urgency=Urgency(UrgencyKind(urgency["kind"]), urgency["offset_ticks"], _decimal(urgency["price"])),
        validity=Validity(body["validity"]),
        product=body["product"],
        stop_distance=_decimal(body["stop_distance"]),
    )


def signal_fingerprint(signal: Signal) -> str:
    """What makes a retry the same signal: all of its fields."""
    return hashlib.sha256(json.dumps(signal_json(signal), sort_keys=True).encode()).hexdigest()


def leg_json(leg: Leg) -> str:
    return json.dumps({"side": leg.side.value, "quantity": leg.quantity, "order_type": leg.order_type,
                       "price": str(leg.price), "product": leg.product, "validity": leg.validity,
                       "capital": str(leg.capital), "reduces_only": leg.reduces_only}, sort_keys=True)  # fmt: skip


def leg_from_json(account_id: str, text: str) -> Leg:
    body = json.loads(text)
    return Leg(account_id, Side(body["side"]), body["quantity"], body["order_type"], Decimal(body["price"]),
               body["product"], body["validity"], Decimal(body["capital"]), body["reduces_only"])  # fmt: skip


def outcome_unknown(exc: GatewayError) -> bool:
    """A placement whose outcome is not known yet (an answer that never came, an account moving
    between replicas, Kite unreachable): the order may exist, so it is neither placed nor failed
    until a retry with the same client_order_id settles it."""
    return exc.code in (Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED) or exc.reason is Reason.ORDER_OUTCOME_UNKNOWN


_RESUMABLE = (SignalState.RECEIVED, SignalState.APPROVED, SignalState.ROUTING)
MIN_RETRY_AFTER = 1.0  # seconds: the least RetryInfo a still-routing signal answers with (as PlaceOrder's)


@dataclass(frozen=True)
class SignalRecord:
    """A stored signal as the use case answers it: its state, why, and the orders it made."""

    signal: Signal
    state: SignalState
    reason: str
    principal: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    orders: tuple[SignalOrder, ...] = ()
    replayed: bool = False  # a retry: the signal stored before, nothing done again


@dataclass(frozen=True)
class _Plan:
    legs: builtins.list[Leg]
    skips: builtins.list[Skip]
    reference: Decimal  # the price a MARKET leg's notional is counted at


class Signals:
    def __init__(
        self,
        book: StrategyBook,
        store: SignalStore,
        place: Place,
        listing: ListingOf,
        last_price: LastPrice,
        account_view: AccountViewOf,
        usage: UsageOf,
        members: Members | None,
        clock: Clock,
        halted: Halted | None = None,
        ready: Ready | None = None,
    ) -> None:
        self.book = book
        self.store = store
        self.place = place
        self.listing = listing
        self.last_price = last_price
        self.account_view = account_view
        self.usage = usage
        self.members = members
        self.clock = clock
        self.halted = halted
        self.ready = ready
        # Clustered: whether this replica owns an account, and who to tell that a signal has orders
        # left for accounts other replicas own (each owner then sends its own at once: `resume_owned`).
        self.owns: Callable[[str], bool] | None = None
        # An account's orders as Kite's order book has them (rows with order_id, status,
        # filled_quantity, average_price): the fills of a signal's orders (`fills`).
        self.order_book: Callable[[str], Awaitable[Sequence[Mapping[str, Any]]]] | None = None
        self.on_elsewhere: list[Callable[[str, str], None]] = []
        self.desk = ApprovalDesk(clock)
        self.on_event: list[OnEvent] = []
        # One handling at a time per signal in this process, shielded from the caller: a caller that
        # gives up (or a retry arriving meanwhile) never leaves a signal half-routed or routes it twice.
        self._handling: dict[tuple[str, str], asyncio.Task[None]] = {}

    def strategy(self, strategy_id: str) -> Strategy:
        strategy = self.book.get(strategy_id)
        if strategy is None:
            raise GatewayError(Status.NOT_FOUND, Reason.UNSPECIFIED,
                               f"strategy {strategy_id!r} is not configured: add it to the strategies file",
                               {"strategy_id": strategy_id})  # fmt: skip
        return strategy

    async def submit(self, signal: Signal, principal: str) -> SignalRecord:
        validate(signal)
        strategy = self.strategy(signal.strategy_id)
        await self._ready()
        listing = self.listing(signal.exchange, signal.tradingsymbol)  # an unknown instrument is refused, not stored
        check_tradable(listing, "instrument")  # ... and so is an index: no account could order it
        strategy.accounts_of(self.members)  # so is a strategy with an unknown account group
        body = json.dumps(signal_json(signal), sort_keys=True)
        stored, created = await self.store.claim(signal.strategy_id, signal.signal_id, signal_fingerprint(signal),
                                                 body, principal, SignalState.RECEIVED.value, self.clock())  # fmt: skip
        self._notify()
        if not created and SignalState(stored.state) not in _RESUMABLE:
            return await self._record(stored, replayed=True)
        await self._handle(signal)  # new, or a retry of one interrupted: carried on from where it stands
        record = await self.get(signal.strategy_id, signal.signal_id)
        return record if created else replace(record, replayed=True)

    async def resume_unfinished(self, idle_seconds: float) -> builtins.list[str]:
        """Carry on every signal left RECEIVED, APPROVED or ROUTING for `idle_seconds` (a gateway that
        stopped mid-way, a caller that gave up, an order whose outcome was unknown); the
        "strategy_id/signal_id" of each one finished. One that fails again is left for the next round."""
        finished: builtins.list[str] = []
        unfinished = await self.store.unfinished(self.clock() - timedelta(seconds=idle_seconds))
        if unfinished:
            try:
                await self._ready()  # after a restart the sweep may come before anything loaded the master
            except GatewayError:
                return finished  # nothing can be resumed yet: the next round tries again
        for stored in unfinished:
            try:
                await self._handle(signal_from_json(json.loads(stored.body)))
            except GatewayError:
                continue
            except Exception:  # one signal's bug or bad row must not hold up the others
                log.exception("signals.resume_failed", strategy_id=stored.strategy_id, signal_id=stored.signal_id)
                continue
            finished.append(f"{stored.strategy_id}/{stored.signal_id}")
        return finished

    async def resume_owned(self, strategy_id: str, signal_id: str) -> bool:
        """Clustered: carry on a signal another replica left with orders for accounts this one owns
        (told over the bus); False when it has none of them (nothing done)."""
        stored = await self.store.get(strategy_id, signal_id)
        if stored is None or SignalState(stored.state) not in _RESUMABLE:
            return False
        rows = await self.store.orders_of(strategy_id, signal_id)
        if self.owns is None or not any(row.status == "sending" and self.owns(row.account_id) for row in rows):
            return False
        await self._ready()
        with contextlib.suppress(GatewayError):  # others' orders are left to their owners (or the sweep)
            await self._handle(signal_from_json(json.loads(stored.body)))
        return True

    async def _ready(self) -> None:
        if self.ready is not None:
            await self.ready()

    async def _handle(self, signal: Signal) -> None:
        key = (signal.strategy_id, signal.signal_id)
        task = self._handling.get(key)
        if task is None:
            task = self._handling[key] = asyncio.create_task(self._carry_on(signal))
            task.add_done_callback(lambda done: self._handled(key, done))
        await asyncio.shield(task)

    def _handled(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        self._handling.pop(key, None)
        if not task.cancelled():
            task.exception()  # its callers were told; a caller that gave up leaves it to the sweep

    async def _carry_on(self, signal: Signal) -> None:
        """Take the stored signal one step further, from whatever state it is in, to where it waits
        (a person's approval) or ends."""
        stored = await self.store.get(signal.strategy_id, signal.signal_id)
        assert stored is not None
        state = SignalState(stored.state)
        if state is SignalState.ROUTING:
            await self._send(signal)
            return
        if state not in (SignalState.RECEIVED, SignalState.APPROVED):
            return
        if state is SignalState.RECEIVED and await self._check_halt(signal.strategy_id, signal, state):
            return  # checked here, in the one handling of the signal, so a concurrent retry cannot route it
        if await self.store.orders_of(signal.strategy_id, signal.signal_id):  # planned, then interrupted
            await self._move(signal, state, SignalState.ROUTING, "carrying on the routing planned before")
            await self._send(signal)
            return
        strategy = self.strategy(signal.strategy_id)
        plan = await self._plan(strategy, signal, state)
        if plan is None:
            return
        if state is SignalState.RECEIVED:
            pending = self.desk.open(strategy, signal)
            if pending is not None:
                await self._move(signal, SignalState.RECEIVED, SignalState.PENDING_APPROVAL,
                                 f"waiting for approval until {pending.expires_at.isoformat()}",
                                 expires_at=pending.expires_at)  # fmt: skip
                return
        await self._route(signal, state, plan)

    async def _check_halt(self, strategy_id: str, signal: Signal, state: SignalState) -> bool:
        """A halted strategy's signal ends FAILED at once, with the halt as its reason; True when it did."""
        why = None if self.halted is None else await self.halted(strategy_id)
        if why is None:
            return False
        await self._move(signal, state, SignalState.ROUTING, "not routed: the strategy is halted")
        await self._move(signal, SignalState.ROUTING, SignalState.FAILED, f"strategy {strategy_id} is halted: {why}")
        return True

    async def approve(self, strategy_id: str, signal_id: str, principal: str) -> SignalRecord:
        stored, pending = await self._pending(strategy_id, signal_id)
        await self._ready()
        signal = signal_from_json(json.loads(stored.body))
        decision = self.desk.approve(pending, SignalState(stored.state))
        if decision.error is not None:
            await self.store.move(strategy_id, signal_id, stored.state, decision.state.value, "not decided in time",
                                  self.clock())  # fmt: skip
            self._notify()
            raise decision.error
        why = None if self.halted is None else await self.halted(strategy_id)
        if why is not None:
            raise GatewayError(Status.FAILED_PRECONDITION, Reason.KILL_SWITCH_ACTIVE,
                               f"strategy {strategy_id} is halted ({why}): its signals cannot be approved today; "
                               "reject it, or let it expire", {"strategy_id": strategy_id})  # fmt: skip
        await self._move(signal, SignalState.PENDING_APPROVAL, SignalState.APPROVED, f"approved by {principal}")
        await self._handle(signal)
        return await self.get(strategy_id, signal_id)

    async def reject(self, strategy_id: str, signal_id: str, principal: str) -> SignalRecord:
        stored, pending = await self._pending(strategy_id, signal_id)
        signal = signal_from_json(json.loads(stored.body))
        decision = self.desk.reject(pending, SignalState(stored.state))
        if decision.error is not None:
            await self.store.move(strategy_id, signal_id, stored.state, decision.state.value, "not decided in time",
                                  self.clock())  # fmt: skip
            self._notify()
            raise decision.error
        await self._move(signal, SignalState.PENDING_APPROVAL, SignalState.REJECTED, f"rejected by {principal}")
        return await self.get(strategy_id, signal_id)

    async def expire_due(self) -> builtins.list[str]:
        """Store EXPIRED every pending signal past its deadline; the "strategy_id/signal_id" of each."""
        expired = []
        for stored in await self.store.pending_expired(self.clock()):
            moved = await self.store.move(stored.strategy_id, stored.signal_id, SignalState.PENDING_APPROVAL.value,
                                          SignalState.EXPIRED.value, "not decided in time", self.clock())  # fmt: skip
            if moved is not None:  # else: decided in the meantime
                expired.append(f"{stored.strategy_id}/{stored.signal_id}")
                self._notify()
        return expired

    async def get(self, strategy_id: str, signal_id: str) -> SignalRecord:
        stored = await self.store.get(strategy_id, signal_id)
        if stored is None:
            raise GatewayError(Status.NOT_FOUND, Reason.UNSPECIFIED,
                               f"strategy {strategy_id!r} has no signal {signal_id!r}",
                               {"strategy_id": strategy_id, "signal_id": signal_id})  # fmt: skip
        return await self._record(stored)

    async def fills(self, record: SignalRecord) -> dict[str, Mapping[str, Any]]:
        """Kite's row of each placed order of the signal, by order id: its status and fills. An
        account whose order book cannot be read now is left out (the orders stand; their fills are
        not known this moment)."""
        if self.order_book is None:
            return {}
        wanted: dict[str, set[str]] = {}
        for order in record.orders:
            if order.order_id:
                wanted.setdefault(order.account_id, set()).add(order.order_id)
        found: dict[str, Mapping[str, Any]] = {}
        for account_id, order_ids in sorted(wanted.items()):
            try:
                rows = await self.order_book(account_id)
            except GatewayError:
                continue
            found.update({str(row["order_id"]): row for row in rows if str(row.get("order_id")) in order_ids})
        return found

    async def list(self, strategy_id: str, limit: int = 100) -> builtins.list[SignalRecord]:
        """The strategy's newest signals first (without their orders: get one for those)."""
        return [self._plain(stored) for stored in await self.store.recent(strategy_id, limit)]

    async def _pending(self, strategy_id: str, signal_id: str) -> tuple[StoredSignal, PendingApproval]:
        stored = await self.store.get(strategy_id, signal_id)
        if stored is None:
            await self.get(strategy_id, signal_id)  # raises NOT_FOUND
            raise AssertionError
        expires_at = stored.expires_at or stored.updated_at
        return stored, PendingApproval(strategy_id, signal_id, stored.created_at, expires_at)

    async def _plan(self, strategy: Strategy, signal: Signal, state: SignalState) -> _Plan | None:
        """Size every account and check the budget; None when the signal was stored REFUSED_BUDGET or
        SKIPPED instead."""
        listing = self.listing(signal.exchange, signal.tradingsymbol)
        accounts = strategy.accounts_of(self.members)
        if signal.urgency.kind is UrgencyKind.AT_PRICE or signal.price_hint is not None:
            last = Decimal(0)  # not needed: the signal names its reference price
        else:
            last = await self.last_price(listing)
        # Kite is read only for what sizing uses: the margin for a capital share, the position for a
        # target (the difference to order) or a capital budget (only an order's opening part counts).
        position = signal.is_target or strategy.budget.max_capital is not None
        product = (signal.product or strategy.product).upper()  # a target counts the position in its product only
        views = await asyncio.gather(*(
            self._view(account_id, listing, product, strategy.sizing_for(account_id).mode is SizingMode.CAPITAL_SHARE,
                       position)
            for account_id in accounts
        ))  # fmt: skip
        sized: builtins.list[Leg | Skip] = []
        for view in views:
            if isinstance(view, Skip):
                sized.append(view)
            else:
                sized.extend(size_all(strategy, signal, [view], listing.lot_size, listing.tick_size, last))
        legs = [leg for leg in sized if isinstance(leg, Leg)]
        skips = [skip for skip in sized if isinstance(skip, Skip)]
        if not legs:
            why = "; ".join(f"{s.account_id}: {s.reason}" for s in skips) or "the strategy has no accounts"
            await self._move(signal, state, SignalState.SKIPPED, f"nothing to order ({why})")
            return None
        budget = strategy.budget
        limited = (budget.max_capital, budget.max_orders_per_day, budget.max_loss_per_day) != (None, None, None)
        refusal = check_budget(strategy, await self.usage(strategy.id), legs) if limited else None
        if refusal is not None:
            await self._move(signal, state, SignalState.REFUSED_BUDGET, refusal.message)
            return None
        return _Plan(legs, skips, signal.price_hint or signal.urgency.price or last)

    async def _view(self, account_id: str, listing: Listing, product: str, margin: bool,
                    position: bool) -> AccountView | Skip:  # fmt: skip
        if not (margin or position):
            return AccountView(account_id)
        try:
            return await self.account_view(account_id, listing, product, margin, position)
        except GatewayError as exc:
            return Skip(account_id, f"the account could not be read: {exc.message}")

    async def _route(self, signal: Signal, state: SignalState, plan: _Plan) -> None:
        """Record every leg before sending any (so a crash mid-way resumes exactly this plan), then send."""
        for leg in plan.legs:
            client_order_id = signal_client_order_id(signal.strategy_id, signal.signal_id, leg.account_id)
            notional = leg.quantity * (leg.price or plan.reference)
            await self.store.add_order(signal.strategy_id, signal.signal_id, leg.account_id, client_order_id,
                                       self.clock(), leg_json(leg), str(notional))  # fmt: skip
        skipped = "".join(f"; {s.account_id} skipped: {s.reason}" for s in plan.skips)
        await self._move(signal, state, SignalState.ROUTING, f"placing {len(plan.legs)} orders{skipped}")
        await self._send(signal)

    async def _send(self, signal: Signal) -> None:
        """Send every recorded order not yet settled; end the signal ROUTED, PARTIALLY_ROUTED or
        FAILED once every one is, else leave it ROUTING and answer UNAVAILABLE (retry the signal)."""
        listing = self.listing(signal.exchange, signal.tradingsymbol)
        fingerprint = signal_fingerprint(signal)
        stored = await self.store.get(signal.strategy_id, signal.signal_id)
        principal = stored.principal if stored is not None else ""
        unknown: builtins.list[str] = []
        waits: builtins.list[float] = []

        async def send(row: SignalOrder) -> None:
            leg = leg_from_json(row.account_id, row.leg)
            order = NewOrder(leg.account_id, row.client_order_id, self._params(leg, listing),
                             hashlib.sha256(f"{fingerprint}|{leg.account_id}".encode()).hexdigest())  # fmt: skip
            try:
                order_id = await self.place(order, principal)
            except GatewayError as exc:
                if outcome_unknown(exc):
                    unknown.append(f"{leg.account_id}: {exc.message}")
                    waits.append(exc.retry_after or MIN_RETRY_AFTER)
                    return
                await self.store.set_order(signal.strategy_id, signal.signal_id, leg.account_id, "", "failed",
                                           self.clock(), exc.message)  # fmt: skip
                return
            await self.store.set_order(signal.strategy_id, signal.signal_id, leg.account_id, order_id, "placed",
                                       self.clock())  # fmt: skip

        # The accounts' orders go at once: each is its own account's, paced by its own limits.
        rows = await self.store.orders_of(signal.strategy_id, signal.signal_id)
        await asyncio.gather(*(send(row) for row in rows if row.status == "sending"))
        if unknown:
            owns = self.owns
            if owns is not None and any(not owns(row.account_id) for row in rows if row.status == "sending"):
                for tell in self.on_elsewhere:
                    tell(signal.strategy_id, signal.signal_id)
            raise GatewayError(Status.UNAVAILABLE, Reason.ORDER_OUTCOME_UNKNOWN,
                               f"signal {signal.signal_id!r} is still routing: the outcome of some orders is not "
                               f"known yet ({'; '.join(unknown)}); submit it again with the same signal_id to "
                               "finish (it never places an order twice), or the gateway finishes it shortly",
                               {"strategy_id": signal.strategy_id, "signal_id": signal.signal_id},
                               retry_after=max(min(waits), MIN_RETRY_AFTER))  # fmt: skip
        rows = await self.store.orders_of(signal.strategy_id, signal.signal_id)
        if not rows:  # stopped between a halt's two moves: nothing was ever to be ordered
            await self._move(signal, SignalState.ROUTING, SignalState.FAILED, "not routed: no order was recorded")
            return
        placed = sum(1 for row in rows if row.status == "placed")
        failures = [f"{row.account_id}: {row.detail}" for row in rows if row.status == "failed"]
        reason = f"{placed} placed, {len(failures)} failed" + (f" ({'; '.join(failures)})" if failures else "")
        await self._move(signal, SignalState.ROUTING, routing_outcome(placed, len(failures)), reason)

    @staticmethod
    def _params(leg: Leg, listing: Listing) -> OrderParams:
        return OrderParams(listing=listing, variety="regular", order_type=leg.order_type, product=leg.product,
                           transaction_type=leg.side.value, validity=leg.validity, quantity=leg.quantity,
                           price=leg.price)  # fmt: skip

    async def _move(self, signal: Signal, old: SignalState, new: SignalState, reason: str,
                    expires_at: datetime | None = None) -> None:  # fmt: skip
        check_move(old, new)
        moved = await self.store.move(signal.strategy_id, signal.signal_id, old.value, new.value, reason,
                                      self.clock(), expires_at)  # fmt: skip
        self._notify()
        if moved is None:  # someone moved it first (a decision racing the expiry sweeper)
            now = await self.store.get(signal.strategy_id, signal.signal_id)
            check_move(SignalState(now.state) if now else old, new)
            raise GatewayError(Status.ABORTED, Reason.UNSPECIFIED,
                               f"signal {signal.signal_id!r} changed while it was being handled; get it again",
                               {"strategy_id": signal.strategy_id, "signal_id": signal.signal_id})  # fmt: skip

    def _notify(self) -> None:
        for listener in self.on_event:
            listener()

    async def _record(self, stored: StoredSignal, replayed: bool = False) -> SignalRecord:
        orders = tuple(await self.store.orders_of(stored.strategy_id, stored.signal_id))
        plain = self._plain(stored)
        return SignalRecord(plain.signal, plain.state, plain.reason, plain.principal, plain.created_at,
                            plain.updated_at, plain.expires_at, orders, replayed)  # fmt: skip

    @staticmethod
    def _plain(stored: StoredSignal) -> SignalRecord:
        return SignalRecord(signal_from_json(json.loads(stored.body)), SignalState(stored.state), stored.reason,
                            stored.principal, stored.created_at, stored.updated_at, stored.expires_at)  # fmt: skip
