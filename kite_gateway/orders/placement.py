"""Placing orders so that none is ever lost or duplicated.

The client_order_id is stored (PENDING) before Kite is called and its tag goes to Kite with the
order. A retry with the same id and fields returns the first result. When Kite's answer is lost (a
timeout, a dropped connection, a 5xx after the request left), the order book is searched for the
tag before answering, and before any new attempt: an order found is the answer; an order not found
means Kite never took it, so placing again cannot duplicate it. Concurrent calls with one id are
serialised. A definite refusal marks the record FAILED (nothing exists at Kite), so a later retry
tries again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import structlog

from kite_gateway.errors import GatewayError, is_kite_failure, outcome_unknown
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.limits import EndpointClass
from kite_gateway.storage.idempotency import FAILED, PENDING, PLACED, IdempotencyStore, Record
from kite_gateway.v1 import errors_pb2

log = structlog.get_logger(__name__)

Finder = Callable[[KiteCaller, Record], Awaitable[str | None]]
Submit = Callable[[KiteCaller, Record], Awaitable[str]]


async def find_order_by_tag(kite: KiteCaller, record: Record) -> str | None:
    """The oldest order in today's book carrying the record's tag."""
    for row in await kite.read(EndpointClass.OTHER, "orders"):
        if row.get("tag") == record.tag or record.tag in (row.get("tags") or []):
            return str(row["order_id"])
    return None


class IdempotentPlacement:
    def __init__(self, store: IdempotencyStore, unknown_outcome_attempts: int = 2) -> None:
        self.store = store
        self.attempts = unknown_outcome_attempts
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._users: dict[tuple[str, str], int] = {}  # placements holding or waiting for each lock
        self._running: set[asyncio.Task[tuple[str, bool]]] = set()

    async def place(
        self,
        kite: KiteCaller,
        client_order_id: str,
        kind: str,
        fingerprint: str,
        submit: Submit,
        find: Finder = find_order_by_tag,
        admit: Callable[[], Awaitable[None]] | None = None,
    ) -> tuple[str, bool]:
        """(id at Kite, replayed): replayed is True when an earlier call had already placed it.
        `admit` (pre-trade risk) runs before anything new is sent to Kite, never for a replay.

        The placement runs in its own task: a caller that gives up (deadline, cancellation) does not
        cut it short, so a retry with the same client_order_id waits for its outcome instead of
        finding a PENDING record whose order may still be on its way to Kite."""
        task = asyncio.create_task(self._place(kite, client_order_id, kind, fingerprint, submit, find, admit))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return await asyncio.shield(task)

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
        admit: Callable[[], Awaitable[None]] | None,
    ) -> tuple[str, bool]:
        key = (kite.account_id, client_order_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                return await self._decide(kite, key, kind, fingerprint, submit, find, admit)
        finally:
            self._users[key] -= 1
            if not self._users[key]:  # nobody holds or waits: forget the key's lock
                del self._users[key], self._locks[key]

    async def _decide(
        self,
        kite: KiteCaller,
        key: tuple[str, str],
        kind: str,
        fingerprint: str,
        submit: Submit,
        find: Finder,
        admit: Callable[[], Awaitable[None]] | None,
    ) -> tuple[str, bool]:
        """Under the key's lock: replay, reconcile, or submit."""
        client_order_id = key[1]
        existing = await self.store.get(*key)
        if existing is None and admit is not None:
            await admit()
        record = existing or await self.store.claim(kite.account_id, client_order_id, kind, fingerprint)
        if record.fingerprint != fingerprint or record.kind != kind:
            raise GatewayError(
                grpc.StatusCode.ALREADY_EXISTS,
                errors_pb2.ERROR_REASON_IDEMPOTENCY_KEY_REUSED,
                f"client_order_id {client_order_id!r} was already used for a different {record.kind} on account "
                f"{kite.account_id}; choose a new id for a new order",
                {
                    "account_id": kite.account_id,
                    "client_order_id": client_order_id,
                    "order_id": record.order_id or "",
                },
            )
        if record.state == PLACED and record.order_id:
            return record.order_id, True
        if existing is not None and record.state == PENDING:
            found = await self._reconcile(kite, record, find)
            if found is not None:
                return found, True
            if admit is not None:
                await admit()
        return await self._submit(kite, record, submit, find), False

    async def _reconcile(self, kite: KiteCaller, record: Record, find: Finder) -> str | None:
        try:
            found = await find(kite, record)
        except GatewayError as exc:
            raise GatewayError(
                grpc.StatusCode.UNAVAILABLE,
                errors_pb2.ERROR_REASON_ORDER_OUTCOME_UNKNOWN,
                f"the outcome of client_order_id {record.client_order_id!r} is not known yet and the order book could "
                f"not be read ({exc.message}); retrying with the same client_order_id is safe",
                {"account_id": record.account_id, "client_order_id": record.client_order_id},
                retry_after=1.0,
            ) from None
        if found is not None:
            await self.store.settle(record.account_id, record.client_order_id, PLACED, found)
            log.info(
                "order.reconciled", account_id=record.account_id, client_order_id=record.client_order_id, order_id=found
            )
        return found

    async def _submit(self, kite: KiteCaller, record: Record, submit: Submit, find: Finder) -> str:
        for attempt in range(1, self.attempts + 1):
            try:
                placed = await submit(kite, record)
            except Exception as exc:
                if not is_kite_failure(exc):
                    raise
                if not outcome_unknown(exc):
                    await self.store.settle(record.account_id, record.client_order_id, FAILED, error=str(exc))
                    raise kite.error(exc) from None
                log.warning(
                    "order.outcome_unknown",
                    account_id=record.account_id,
                    client_order_id=record.client_order_id,
                    attempt=attempt,
                    error=type(exc).__name__,
                )
                found = await self._reconcile(kite, record, find)
                if found is not None:
                    return found
                continue
            await self.store.settle(record.account_id, record.client_order_id, PLACED, placed)
            return placed
        raise GatewayError(
            grpc.StatusCode.UNAVAILABLE,
            errors_pb2.ERROR_REASON_ORDER_OUTCOME_UNKNOWN,
            f"Kite did not confirm client_order_id {record.client_order_id!r} after {self.attempts} attempts and the "
            "order book does not show it; retrying with the same client_order_id is safe",
            {"account_id": record.account_id, "client_order_id": record.client_order_id},
            retry_after=1.0,
        )


def submit_order(kwargs: dict[str, Any]) -> Submit:
    """A Submit that places an order with these arguments and the record's tag."""

    async def submit(kite: KiteCaller, record: Record) -> str:
        return str(await kite.write(EndpointClass.ORDERS, "place_order", tag=record.tag, **kwargs))

    return submit
