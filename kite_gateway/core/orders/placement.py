"""Placing orders so that none is ever lost or duplicated.

The client_order_id is stored (PENDING) before Kite is called and its tag goes to Kite with the
order; each attempt's send time is stored before it leaves. A retry with the same id and fields
returns the first result. Concurrent calls with one id are serialised.

When Kite's answer is lost (a timeout, a dropped connection, a 5xx), the order book is searched for
the tag. Found: that is the answer. Not found does NOT mean Kite never took it: the request may be
held in a proxy or a queue and arrive later. So the order is not sent again until the attempt's send
time plus the request timeout plus the quarantine (KITE_GATEWAY_ORDER_QUARANTINE) has passed; until
then every call with that id re-reads the book and, not finding it, answers UNAVAILABLE
(ORDER_OUTCOME_UNKNOWN, RetryInfo). A definite refusal marks the record FAILED (nothing exists at
Kite), so a later retry tries again; so does a placement abandoned before it was sent (its caller
gave up while it was queued, or a check refused it at the moment of sending).

Two orders found for one tag (an attempt that arrived after the quarantine) are handed to the
duplicate handler (kite_gateway/core/orders/duplicates.py), which cancels the one the caller was not told of.

An autosliced order (kite_gateway/core/orders/autoslice.py) is one request, one record and one tag for
all its children: the record stores the parent and every child before it is settled, a retry replays
them, and a lost answer is rebuilt from the orders of the oldest autoslice parent carrying the tag.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

import structlog

from kite_gateway.core.orders import autoslice
from kite_gateway.core.orders.dispatch import OrderDispatch
from kite_gateway.core.orders.market_closed import with_next_session
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite import LAST_CHECK, Autosliced, KiteOrders, KiteOutcomeUnknown, KiteValue, OrderRow
from kite_gateway.observability import ORDER_QUEUE_REFUSALS
from kite_gateway.storage import FAILED, PENDING, PLACED, DatabaseUnavailable, FencedOut, IdempotencyStore, Record
from kite_wire import IST
from kite_wire import order_rules as rules

log = structlog.get_logger(__name__)


class OnAccount(Protocol):
    """What placement needs of an account's Kite adapter: whose it is."""

    @property
    def account_id(self) -> str: ...


K = TypeVar("K", bound=OnAccount)
Row = Mapping[str, Any]  # an order (or GTT) as Kite's book shows it
# Submit: send the record's order (or GTT) to Kite; its id. A definite refusal raises GatewayError,
# a failure that may have reached Kite raises KiteOutcomeUnknown.
Submit = Callable[[K, Record], Awaitable[str]]
Finder = Callable[[K, Record], Awaitable[Sequence[Row]]]  # the record's matching rows, oldest first
Check = Callable[[], Awaitable[None]]
OnDuplicates = Callable[[KiteOrders, Sequence[Row]], Awaitable[None]]
Duplicates = Callable[[Sequence[Row]], Awaitable[None]]
Claim = Callable[[Record, Sequence[Row]], Awaitable[str]]  # what the book shows, stored: the order id it stands for


def tagged(rows: Sequence[OrderRow], tag: str) -> list[OrderRow]:
    """The orders carrying a tag, in book order (oldest first); an order's own later legs (iceberg
    legs, a cover order's stop) carry its tag too and are not counted."""
    return [
        row
        for row in rows
        if (row.get("tag") == tag or tag in (row.get("tags") or [])) and not row.get("parent_order_id")
    ]


async def find_order_by_tag(kite: KiteOrders, record: Record) -> list[OrderRow]:
    """Today's orders carrying the record's tag, oldest first."""
    return tagged(await kite.orders(), record.tag)


@dataclass
class _Call:
    """One placement's progress: once an attempt is being sent, its caller's departure no longer stops it."""

    sending: bool = False


@dataclass(frozen=True)
class _Attempt(Generic[K]):
    """How one placement reaches Kite: the account's adapter, how to send, how to find what was
    sent, the check at the moment of sending, the caller's deadline, and who handles duplicates
    (orders only)."""

    kite: K
    submit: Submit[K]
    find: Finder[K]
    check: Check | None
    deadline: float | None
    duplicates: Duplicates | None
    queue: KiteOrders | None = None  # an order waits its turn in this account's dispatch queue
    claim: Claim | None = None  # how found rows become the record's answer (None: the oldest row is)
    weight: int = 1  # the orders Kite may count for this one request (an autoslice's children)
    used: Callable[[], int] | None = None  # once answered: the orders Kite did count (None: `weight`)
    exit: bool = False  # an order that only reduces a position: sent through a kill switch


class IdempotentPlacement:
    def __init__(
        self,
        store: IdempotencyStore,
        dispatch: OrderDispatch,
        blocked: Callable[[str], None],
        request_timeout: float,
        quarantine: float,
        now: Callable[[], datetime],
        on_duplicates: OnDuplicates | None = None,
        exit_blocked: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.dispatch = dispatch
        self._blocked = blocked  # raises while a kill switch blocks the account (the last check before sending)
        # what refuses even an exit at its moment (clustered: not owning the account); None: nothing
        self._exit_blocked = exit_blocked or (lambda account_id: None)
        self.request_timeout = request_timeout
        self.quarantine = quarantine
        self._now = now
        self.on_duplicates = on_duplicates
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._users: dict[tuple[str, str], int] = {}  # placements holding or waiting for each lock
        self._running: dict[asyncio.Task[tuple[str, bool]], _Call] = {}

    async def place_order(
        self,
        kite: KiteOrders,
        client_order_id: str,
        fingerprint: str,
        args: Mapping[str, KiteValue],
        check: Check | None = None,
        deadline: float | None = None,
        sliced: bool = False,
        exit: bool = False,
    ) -> tuple[str, bool]:
        """(Kite's order id, replayed) for an order with these place_order arguments: it waits its
        turn in the account's dispatch queue; `deadline` is the caller's, on the dispatch clock.
        Two orders found for its tag go to the duplicate handler. `sliced`: sent with Kite's
        autoslice; the id is its first placed child's, the record's `slices` (`slices()`) hold all.

        `exit`: an order that only reduces an existing position (a square-off, a basket's unwind).
        No kill switch stops it (they stop new risk, not its reduction): not while it waits, not
        when its send is recorded, not where it leaves. Its `check` must refuse (or shrink) it at
        the moment of sending unless it reduces a position (kite_gateway/core/orders/exit_orders.py),
        and its fingerprint must differ from any ordinary order's."""

        children: list[int] = []  # an autoslice's, once Kite has answered

        async def send(kite: KiteOrders, record: Record) -> str:
            if not sliced:
                return await kite.place_order_now(args, record.tag)  # the dispatch queue took the limiter's room
            answer = await kite.place_autoslice_now(args, record.tag)
            children.append(len(answer.children))
            first = autoslice.first_placed(answer, kite.account_id)  # none placed: a definite refusal
            await self.store.record_slices(kite.account_id, record.client_order_id, autoslice.encode(answer))
            return first

        async def claim(record: Record, rows: Sequence[Row]) -> str:
            answer = autoslice.reconciled(rows, int(args.get("quantity") or 0), kite.account_id)
            await self.store.record_slices(kite.account_id, record.client_order_id, autoslice.encode(answer))
            return autoslice.first_placed(answer, kite.account_id)

        async def submit(kite: KiteOrders, record: Record) -> str:
            try:
                return await send(kite, record)
            except GatewayError as exc:
                if exc.reason is Reason.MARKET_CLOSED:
                    raise with_next_session(exc, str(args.get("exchange", "")), self._now()) from None
                raise

        async def duplicates(rows: Sequence[Row]) -> None:
            assert self.on_duplicates is not None
            await self.on_duplicates(kite, rows)

        handler = duplicates if self.on_duplicates is not None else None
        attempt = _Attempt(kite, submit, find_order_by_tag, check, deadline, handler, queue=kite,
                           claim=claim if sliced else None, weight=rules.MAX_AUTOSLICES if sliced else 1,
                           used=(lambda: children[0] if children else 1) if sliced else None, exit=exit)  # fmt: skip
        return await self._run(attempt, client_order_id, "order", fingerprint)

    async def slices(self, account_id: str, client_order_id: str) -> Autosliced | None:
        """The parent and children of an autosliced order's record (None: it was not sliced)."""
        record = await self.store.get(account_id, client_order_id)
        return autoslice.decode(record.slices) if record is not None and record.slices else None

    async def place(
        self,
        kite: K,
        client_order_id: str,
        kind: str,
        fingerprint: str,
        submit: Submit[K],
        find: Finder[K],
        check: Check | None = None,
    ) -> tuple[str, bool]:
        """(id at Kite, replayed) for something other than an order (`kind`, e.g. "gtt"): sent at
        once, not through the order queue."""
        if kind == "order":
            raise ValueError("orders are placed with place_order")
        return await self._run(_Attempt(kite, submit, find, check, None, None), client_order_id, kind, fingerprint)

    async def _run(self, attempt: _Attempt[K], client_order_id: str, kind: str, fingerprint: str) -> tuple[str, bool]:
        """(id at Kite, replayed): replayed is True when an earlier call had already placed it.
        `check` (kill switches, pre-trade risk) runs at the moment of sending, never for a replay.

        The placement runs in its own task. A caller that gives up (deadline, cancellation) while it
        is still queued abandons it: nothing is sent and the record says so, so a retry places it.
        Once an attempt is being sent, the caller's departure no longer cuts it short, so a retry
        with the same client_order_id waits for its outcome."""
        call = _Call()
        task = asyncio.create_task(self._place(attempt, client_order_id, kind, fingerprint, call))
        self._running[task] = call
        task.add_done_callback(lambda done: self._running.pop(done, None))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if not call.sending:
                task.cancel()
            raise

    def abandon_queued(self) -> None:
        """Stop every placement not yet being sent (at shutdown)."""
        for task, call in list(self._running.items()):
            if not call.sending:
                task.cancel()

    async def drain(self, seconds: float) -> None:
        """Wait (up to `seconds`) for placements whose callers have gone."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=seconds)

    async def _place(
        self, attempt: _Attempt[K], client_order_id: str, kind: str, fingerprint: str, call: _Call
    ) -> tuple[str, bool]:
        account_id = attempt.kite.account_id
        key = (account_id, client_order_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                record = await self.store.claim(account_id, client_order_id, kind, fingerprint)  # or the stored one
                if record.state == FAILED and (record.fingerprint, record.kind) != (fingerprint, kind):
                    record = await self.store.reclaim(account_id, client_order_id, kind, fingerprint)
                self._same_request(record, kind, fingerprint)
                if record.state == PLACED and record.order_id:
                    return record.order_id, True
                if record.state == PENDING and record.sent_at is not None:
                    found = await self._reconcile(attempt, record)
                    if found is not None:
                        return found, True
                    self._refuse_while_quarantined(record)
                return await self._attempt(attempt, record, call), False
        finally:
            self._users[key] -= 1
            if not self._users[key]:  # nobody holds or waits: forget the key's lock
                del self._users[key], self._locks[key]

    @staticmethod
    def _same_request(record: Record, kind: str, fingerprint: str) -> None:
        if record.fingerprint != fingerprint or record.kind != kind:
            raise GatewayError(
                Status.ALREADY_EXISTS,
                Reason.IDEMPOTENCY_KEY_REUSED,
                f"client_order_id {record.client_order_id!r} was already used for a different {record.kind} on "
                f"account {record.account_id}; choose a new id for a new order",
                {
                    "account_id": record.account_id,
                    "client_order_id": record.client_order_id,
                    "order_id": record.order_id or "",
                },
            )

    def resend_after(self, record: Record) -> datetime | None:
        """When an earlier attempt of this record can no longer reach Kite (None: none was sent)."""
        if record.sent_at is None:
            return None
        return record.sent_at + timedelta(seconds=self.request_timeout + self.quarantine)

    def _refuse_while_quarantined(self, record: Record) -> None:
        safe = self.resend_after(record)
        now = self._now()
        if safe is not None and now < safe:
            raise self._unknown(record, safe, now)
        if record.sent_at is not None and record.sent_at.astimezone(IST).date() != now.astimezone(IST).date():
            # Kite's order book holds today's orders only: it cannot say whether that one arrived.
            raise GatewayError(
                Status.FAILED_PRECONDITION,
                Reason.ORDER_OUTCOME_UNKNOWN,
                f"client_order_id {record.client_order_id!r} on account {record.account_id} was sent on "
                f"{record.sent_at.astimezone(IST).date()} without an answer, and Kite's order book only shows today's "
                "orders, so the gateway cannot tell whether it was placed: check that day's trades and positions, "
                "and use a new client_order_id for a new order",
                {"account_id": record.account_id, "client_order_id": record.client_order_id,
                 "sent_at": record.sent_at.isoformat()},
            )  # fmt: skip

    def _unknown(self, record: Record, safe: datetime, now: datetime, why: str = "") -> GatewayError:
        assert record.sent_at is not None
        wait = (safe - now).total_seconds()
        return GatewayError(
            Status.UNAVAILABLE,
            Reason.ORDER_OUTCOME_UNKNOWN,
            f"the outcome of client_order_id {record.client_order_id!r} on account {record.account_id} is not known"
            f"{why}: it was sent at {record.sent_at.isoformat(timespec='seconds')} and Kite's order book does not "
            f"show it yet. It may still reach Kite, so the gateway will not send it again before "
            f"{safe.isoformat(timespec='seconds')} ({wait:.0f} s); retry with the same client_order_id: each retry "
            "reads the order book again and returns the order once Kite has it",
            {
                "account_id": record.account_id,
                "client_order_id": record.client_order_id,
                "sent_at": record.sent_at.isoformat(),
                "resend_after": safe.isoformat(),
            },
            retry_after=max(1.0, min(wait, 5.0)),
        )

    async def _settle_placed(self, record: Record, order_id: str) -> bool:
        """Record that Kite has the order; False when this replica lost the account's lease meanwhile
        (clustered): the order exists all the same, and its new owner finds it in the book by its tag
        (the record stays PENDING), so the caller is answered with it rather than "nothing was sent"."""
        try:
            await self.store.settle(record.account_id, record.client_order_id, PLACED, order_id)
        except FencedOut:
            log.warning("order.placed_unrecorded", account_id=record.account_id,
                        client_order_id=record.client_order_id, order_id=order_id)  # fmt: skip
            return False
        return True

    async def _reconcile(self, attempt: _Attempt[K], record: Record) -> str | None:
        """The order (or GTT) the book shows for this record, settled as PLACED; None if not there."""
        try:
            rows = await attempt.find(attempt.kite, record)
        except GatewayError as exc:
            raise GatewayError(
                Status.UNAVAILABLE,
                Reason.ORDER_OUTCOME_UNKNOWN,
                f"the outcome of client_order_id {record.client_order_id!r} is not known yet and the order book could "
                f"not be read ({exc.message}); retrying with the same client_order_id is safe",
                {"account_id": record.account_id, "client_order_id": record.client_order_id},
                retry_after=1.0,
            ) from None
        if not rows:
            return None
        found = str(rows[0].get("order_id") or rows[0].get("id"))
        if attempt.claim is not None:
            found = await attempt.claim(record, rows)
        await self._settle_placed(record, found)
        log.info("order.reconciled", account_id=record.account_id, client_order_id=record.client_order_id,
                 order_id=found)  # fmt: skip
        others = [row for row in rows if str(row.get("order_id") or row.get("id")) != found]
        if others and attempt.duplicates is not None:
            await attempt.duplicates(others)  # an autoslice's own children are not duplicates of each other
        return found

    async def _attempt(self, attempt: _Attempt[K], record: Record, call: _Call) -> str:
        account_id, client_order_id = record.account_id, record.client_order_id
        kite = attempt.kite
        blocked = self._exit_blocked if attempt.exit else self._blocked

        async def sending() -> None:
            # Refused with nothing written when a kill switch is stored engaged (perhaps by another
            # replica) or, clustered, when this replica no longer owns the account: not sent. The
            # send time is now, after any wait for the turn: the quarantine is counted from it.
            try:
                await self.store.mark_sent(
                    account_id, client_order_id, self._now(), attempts=record.attempts, exit=attempt.exit
                )
            except GatewayError as exc:
                if exc.reason is Reason.ORDER_OUTCOME_UNKNOWN:  # another process's attempt: the record is its now
                    call.sending = True  # so this one leaves it as it is
                raise
            call.sending = True
            try:
                blocked(account_id)  # a kill switch engaged while the record was written (not for an exit)
            except GatewayError as exc:
                await self.store.settle(account_id, client_order_id, FAILED, error=f"not sent: {exc.message}")
                raise

        async def checks() -> None:
            if attempt.check is not None:
                await attempt.check()

        async def submit() -> str:
            # The same check once more where the call leaves (in Kite's worker thread): a replica that
            # stalled since the record was written, past its lease, must not send what the new owner
            # may have sent again after the quarantine.
            last_check = LAST_CHECK.set(lambda: blocked(account_id))
            try:
                return await attempt.submit(kite, record)
            except DatabaseUnavailable:  # a write after Kite answered (an autoslice's children): Kite may have it
                raise
            except GatewayError as exc:  # a definite refusal: nothing exists at Kite
                await self.store.settle(account_id, client_order_id, FAILED, error=exc.message[:500])
                raise
            finally:
                LAST_CHECK.reset(last_check)

        try:
            if attempt.queue is not None:
                placed = await self.dispatch.send(attempt.queue, checks, sending, submit, attempt.deadline,
                                                  attempt.weight, attempt.used, attempt.exit)  # fmt: skip
            else:
                await checks()
                await sending()
                placed = await submit()
        except asyncio.CancelledError:
            if not call.sending:
                await self.store.settle(account_id, client_order_id, FAILED,
                                        error="abandoned: the caller gave up before it was sent")  # fmt: skip
                log.info("order.abandoned", account_id=account_id, client_order_id=client_order_id)
                ORDER_QUEUE_REFUSALS.labels(account_id, "abandoned").inc()
            raise
        except GatewayError:
            if not call.sending:
                await self.store.settle(account_id, client_order_id, FAILED, error="refused before it was sent")
            raise
        except KiteOutcomeUnknown as exc:
            log.warning("order.outcome_unknown", account_id=account_id, client_order_id=client_order_id,
                        error=exc.cause)  # fmt: skip
            found = await self._reconcile(attempt, record)
            if found is not None:
                return found
            sent = await self.store.get(account_id, client_order_id)
            assert sent is not None and sent.sent_at is not None
            safe = self.resend_after(sent)
            assert safe is not None
            raise self._unknown(sent, safe, self._now(), f" (Kite did not answer: {exc.cause})") from None
        if not await self._settle_placed(record, placed):
            return placed
        if record.sent_at is not None and attempt.duplicates is not None:
            # An earlier attempt was given up on: had it arrived while this one was on its way, its
            # updates came before this order was known; look at the book once now.
            try:
                others = [row for row in await attempt.find(kite, record) if str(row.get("order_id")) != placed]
                await attempt.duplicates(others)
            except GatewayError as exc:
                log.warning("order.duplicate_check_failed", account_id=account_id, error=exc.message)
        return placed
