"""One subscriber's stream of an account's order updates: the stored updates after its resume
point (first a RETENTION_EXCEEDED gap marker when the oldest of them were pruned), then
ReplayComplete (once, also when nothing was replayed, so the caller always knows where to resume),
then live updates as they are stored, gap markers when the feed reports one, and a Heartbeat
whenever nothing else was sent for an interval."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import UTC, datetime

from kite_gateway.core.order_updates.events import (
    DuplicateReport,
    Event,
    Gap,
    GapAction,
    GapReason,
    Heartbeat,
    OrderUpdate,
    ReplayComplete,
    UpdateSource,
)
from kite_gateway.core.order_updates.feed import DUPLICATE, OrderUpdateFeed
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.storage import StoredUpdate

ClientIds = Callable[[str], Awaitable[dict[str, str]]]  # account -> {tag: client_order_id}
UpstreamStateOf = Callable[[str], int | None]  # account -> its ticker connection's state, if it has one


def beyond_newest(account_id: str, after: int, newest: int) -> GatewayError:
    return GatewayError(
        Status.OUT_OF_RANGE,
        Reason.SEQUENCE_OUT_OF_RANGE,
        f"after_sequence {after} is beyond the newest update ({newest}) of account "
        f"{account_id}; resume from a sequence this gateway issued",
        {"account_id": account_id, "newest_sequence": str(newest)},
    )


class OrderUpdateReplay:
    def __init__(
        self,
        feed: OrderUpdateFeed,
        client_ids: ClientIds,
        upstream_state: UpstreamStateOf,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.feed = feed
        self.client_ids = client_ids
        self.upstream_state = upstream_state
        self._now = now

    async def events(
        self,
        account_id: str,
        after: int | None,
        heartbeat_every: float,
        start_live: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncGenerator[Event, None]:
        """The account's updates after sequence `after` (None: only those stored from now on), then
        live. OUT_OF_RANGE when `after` is beyond the newest sequence. `start_live` is awaited once
        the stream listens (it makes sure the account's updates are being recorded)."""
        newest = await self.feed.log.newest(account_id)
        if after is not None and after > newest:
            raise beyond_newest(account_id, after, newest)
        last = newest if after is None else after
        listener = self.feed.listen(account_id)
        try:
            if start_live is not None:
                await start_live()
            client_ids: dict[str, str] = {}
            announced = False
            while True:
                listener.wake.clear()
                rows = await self.feed.log.after(account_id, last)
                for row in rows:
                    if row.sequence > last + 1:  # the updates in between were pruned (retention)
                        yield retention_gap(last, row)
                    tag = row.order.get("tag") or ""
                    if tag and tag not in client_ids:
                        client_ids = await self.client_ids(account_id)
                    yield update_of(row, client_ids.get(tag, ""))
                    last = row.sequence
                if rows:
                    continue
                if not announced:
                    announced = True
                    yield ReplayComplete(last_sequence=last)
                while listener.gaps:
                    yield listener.gaps.pop(0)
                try:
                    async with asyncio.timeout(heartbeat_every):
                        await listener.wake.wait()
                except TimeoutError:
                    yield Heartbeat(server_time=self._now(), upstream_state=self.upstream_state(account_id))
        finally:
            self.feed.forget(account_id, listener)


def retention_gap(after: int, oldest: StoredUpdate) -> Gap:
    """The marker of a resume after `after` when the oldest update kept is `oldest` (those in between
    were pruned by the retention window): nothing can be recovered, the caller reads the order book."""
    return Gap(
        reason=GapReason.RETENTION_EXCEEDED,
        action=GapAction.NONE,
        reconciled_updates=0,
        message=f"updates {after + 1} to {oldest.sequence - 1} are older than the gateway keeps "
        f"(KITE_GATEWAY_RETENTION_ORDER_UPDATES_DAYS); the replay goes on from {oldest.sequence}: read the "
        "order book (ListOrders) for the orders' current states",
        start=oldest.received_at,
        end=oldest.received_at,
        oldest_available_sequence=oldest.sequence,
    )


def update_of(row: StoredUpdate, client_order_id: str) -> OrderUpdate:
    """A stored update as a stream event (the duplicate marker, if any, as a DuplicateReport)."""
    marker = row.order.get(DUPLICATE)
    return OrderUpdate(
        account_id=row.account_id,
        sequence=row.sequence,
        source=UpdateSource.of(row.source),
        received_at=row.received_at,
        order={k: v for k, v in row.order.items() if k != DUPLICATE},
        client_order_id=client_order_id,
        duplicate=DuplicateReport.from_marker(marker) if marker else None,
    )
