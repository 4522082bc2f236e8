"""Kite's order postbacks, taken as what they are: Kite's claim that an order changed, signed
with the app's secret (which proves it came from Kite, not that it is current: a captured
postback can be replayed, and one can overtake an older one). So a postback is never stored as
it came: it makes the gateway read the order's history from Kite, and what Kite's book says at
that moment is stored (source POSTBACK, de-duplicated like every update). When the book does not
(yet) show the claimed status, it is read once more a moment later and that is stored; a claim
the book never confirms is logged, never stored."""

from __future__ import annotations

import asyncio

import structlog

from kite_gateway.core.accounts import AccountManager
from kite_gateway.core.order_updates import OrderUpdateFeed, UpdateSource, kite_text_times
from kite_gateway.errors import GatewayError
from kite_gateway.kite import KiteOrders

log = structlog.get_logger(__name__)

REREAD_AFTER = 1.0  # seconds before the book is read again when it did not show the claimed status
FINAL = frozenset({"COMPLETE", "CANCELLED", "REJECTED"})
MAX_ORDER_ID = 32


def agrees(claimed: str, status: str) -> bool:
    """Whether the book shows what a postback claimed (UPDATE: a change to an order still working)."""
    return claimed == status or (claimed == "UPDATE" and status not in FINAL)


class PostbackIntake:
    """Confirms each postback against Kite's order book; stores what the book says."""

    def __init__(self, accounts: AccountManager, updates: OrderUpdateFeed, reread_after: float = REREAD_AFTER) -> None:
        self.accounts = accounts
        self.updates = updates
        self.reread_after = reread_after
        self._rereads: set[asyncio.Task[None]] = set()

    async def receive(self, account_id: str, order_id: str, claimed: str) -> bool:
        """Handle one postback whose checksum was verified; False when Kite's book could not be read."""
        if not order_id.isdigit() or len(order_id) > MAX_ORDER_ID:
            log.warning("postback.bad_order_id", account_id=account_id, order_id=order_id[:MAX_ORDER_ID])
            return False
        status = await self._store_book_state(account_id, order_id)
        if status is None:
            return False
        if not agrees(claimed, status):
            task = asyncio.create_task(self._reread(account_id, order_id, claimed))
            self._rereads.add(task)
            task.add_done_callback(self._rereads.discard)
        return True

    async def _store_book_state(self, account_id: str, order_id: str) -> str | None:
        """Read the order's history and store its latest state; that state's status, or None."""
        try:
            rows = await KiteOrders(self.accounts.get(account_id).active()).order_history(order_id)
        except GatewayError as exc:
            log.warning("postback.unconfirmed", account_id=account_id, order_id=order_id, error=exc.message)
            return None
        if not rows:
            return None
        latest = kite_text_times(rows[-1])  # as the ticker and postbacks spell it
        await self.updates.ingest(account_id, latest, UpdateSource.POSTBACK)
        return str(latest.get("status") or "")

    async def _reread(self, account_id: str, order_id: str, claimed: str) -> None:
        await asyncio.sleep(self.reread_after)
        status = await self._store_book_state(account_id, order_id)
        if status is not None and not agrees(claimed, status):
            log.warning("postback.contradicted", account_id=account_id, order_id=order_id, claimed=claimed,
                        book=status)  # fmt: skip

    async def settled(self) -> None:
        """Wait for the re-reads under way (tests; shutdown)."""
        while self._rereads:
            await asyncio.gather(*self._rereads, return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self._rereads):
            task.cancel()
        await asyncio.gather(*self._rereads, return_exceptions=True)
