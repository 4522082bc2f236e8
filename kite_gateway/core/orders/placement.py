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
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from kite_gateway.core.orders.dispatch import OrderDispatch
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.errors import is_kite_failure, outcome_unknown
from kite_gateway.kite.limits import EndpointClass
from kite_gateway.observability.metrics import ORDER_QUEUE_REFUSALS
from kite_gateway.storage.idempotency import FAILED, PENDING, PLACED, IdempotencyStore, Record
from kite_wire.formats import IST

log = structlog.get_logger(__name__)

Finder = Callable[[KiteCaller, Record], Awaitable[list[dict[str, Any]]]]  # matching rows, oldest first
Submit = Callable[[KiteCaller, Record], Awaitable[str]]
Check = Callable[[], Awaitable[None]]
OnDuplicates = Callable[[KiteCaller, list[dict[str, Any]]], Awaitable[None]]


def tagged(rows: list[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
    """The orders carrying a tag, in book order (oldest first); an order's own later legs (iceberg
    legs, a cover order's stop) carry its tag too and are not counted."""
    return [
        row
        for row in rows
        if (row.get("tag") == tag or tag in (row.get("tags") or [])) and not row.get("parent_order_id")
    ]


async def find_order_by_tag(kite: KiteCaller, record: Record) -> list[dict[str, Any]]:
    """Today's orders carrying the record's tag, oldest first."""
    return tagged(await kite.read(EndpointClass.OTHER, "orders"), record.tag)


@dataclass
class _Call:
    """One placement's progress: once an attempt is being sent, its caller's departure no longer stops it."""

    sending: bool = False


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
    ) -> None:
        self.store = store
        self.dispatch = dispatch
        self._blocked = blocked  # raises while a kill switch blocks the account (the last check before sending)
        self.request_timeout = request_timeout
        self.quarantine = quarantine
        self._now = now
        self.on_duplicates = on_duplicates
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._users: dict[tuple[str, str], int] = {}  # placements holding or waiting for each lock
        self._running: dict[asyncio.Task[tuple[str, bool]], _Call] = {}

    async def place(
        self,
        kite: KiteCaller,
        client_order_id: str,
        kind: str,
        fingerprint: str,
        submit: Submit,
        find: Finder = find_order_by_tag,
        check: Check | None = None,
        deadline: float | None = None,
    ) -> tuple[str, bool]:
        """(id at Kite, replayed): replayed is True when an earlier call had already placed it.
        `check` (kill switches, pre-trade risk) runs at the moment of sending, never for a replay.
        Orders (`kind` "order") wait their turn in the account's dispatch queue; `deadline` is the
        caller's, on the dispatch clock.

        The placement runs in its own task. A caller that gives up (deadline, cancellation) while it
        is still queued abandons it: nothing is sent and the record says so, so a retry places it.
        Once an attempt is being sent, the caller's departure no longer cuts it short, so a retry
        with the same client_order_id waits for its outcome."""
        call = _Call()
        task = asyncio.create_task(
            self._place(kite, client_order_id, kind, fingerprint, submit, find, check, deadline, call)
        )
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
        self,
        kite: KiteCaller,
        client_order_id: str,
        kind: str,
        fingerprint: str,
        submit: Submit,
        find: Finder,
        check: Check | None,
        deadline: float | None,
        call: _Call,
    ) -> tuple[str, bool]:
        key = (kite.account_id, client_order_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                existing = await self.store.get(*key)
                record = existing or await self.store.claim(kite.account_id, client_order_id, kind, fingerprint)
                if record.state == FAILED and (record.fingerprint, record.kind) != (fingerprint, kind):
                    record = await self.store.reclaim(kite.account_id, client_order_id, kind, fingerprint)
                self._same_request(record, kind, fingerprint)
                if record.state == PLACED and record.order_id:
                    return record.order_id, True
                if record.state == PENDING and record.sent_at is not None:
                    found = await self._reconcile(kite, record, find)
                    if found is not None:
                        return found, True
                    self._refuse_while_quarantined(record)
                return await self._attempt(kite, record, submit, find, check, deadline, call), False
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

    async def _reconcile(self, kite: KiteCaller, record: Record, find: Finder) -> str | None:
        """The order (or GTT) the book shows for this record, settled as PLACED; None if not there."""
        try:
            rows = await find(kite, record)
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
        await self.store.settle(record.account_id, record.client_order_id, PLACED, found)
        log.info("order.reconciled", account_id=record.account_id, client_order_id=record.client_order_id,
                 order_id=found)  # fmt: skip
        if len(rows) > 1 and record.kind == "order" and self.on_duplicates is not None:
            await self.on_duplicates(kite, rows[1:])
        return found

    async def _attempt(
        self,
        kite: KiteCaller,
        record: Record,
        submit: Submit,
        find: Finder,
        check: Check | None,
        deadline: float | None,
        call: _Call,
    ) -> str:
        account_id, client_order_id = record.account_id, record.client_order_id
        sent_at = self._now()

        async def sending() -> None:
            call.sending = True
            await self.store.mark_sent(account_id, client_order_id, sent_at)
            try:
                self._blocked(account_id)  # a kill switch engaged while the record was written
            except GatewayError as exc:
                await self.store.settle(account_id, client_order_id, FAILED, error=f"not sent: {exc.message}")
                raise

        async def checks() -> None:
            if check is not None:
                await check()

        try:
            if record.kind == "order":
                placed = await self.dispatch.send(kite, checks, sending, lambda: submit(kite, record), deadline)
            else:
                await checks()
                await sending()
                placed = await submit(kite, record)
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
        except Exception as exc:
            if not is_kite_failure(exc):
                raise
            if not outcome_unknown(exc):
                await self.store.settle(account_id, client_order_id, FAILED, error=str(exc)[:500])
                raise kite.error(exc) from None
            log.warning("order.outcome_unknown", account_id=account_id, client_order_id=client_order_id,
                        error=type(exc).__name__)  # fmt: skip
            found = await self._reconcile(kite, record, find)
            if found is not None:
                return found
            sent = await self.store.get(account_id, client_order_id)
            assert sent is not None and sent.sent_at is not None
            safe = self.resend_after(sent)
            assert safe is not None
            raise self._unknown(sent, safe, self._now(), f" (Kite did not answer: {type(exc).__name__})") from None
        await self.store.settle(account_id, client_order_id, PLACED, placed)
        if record.sent_at is not None and record.kind == "order" and self.on_duplicates is not None:
            # An earlier attempt was given up on: had it arrived while this one was on its way, its
            # updates came before this order was known; look at the book once now.
            try:
                others = [row for row in await find(kite, record) if str(row.get("order_id")) != placed]
                await self.on_duplicates(kite, others)
            except GatewayError as exc:
                log.warning("order.duplicate_check_failed", account_id=account_id, error=exc.message)
        return placed


def submit_order(kwargs: dict[str, Any]) -> Submit:
    """A Submit that places an order with these arguments and the record's tag, at once (the
    dispatch queue has taken the app limiter's room)."""

    async def submit(kite: KiteCaller, record: Record) -> str:
        return str(await kite.write_now(EndpointClass.ORDERS, "place_order", tag=record.tag, **kwargs))

    return submit
