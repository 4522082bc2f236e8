"""OrderService.StreamOrderUpdates: the request checked, the account's replay-then-live stream of
core events (kite_gateway/core/order_updates) read, and each event sent as its proto."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

import grpc
from kite_gateway_api.v1 import common_pb2, order_pb2

from kite_gateway.core.accounts import AccountManager
from kite_gateway.core.market import InstrumentMaster
from kite_gateway.core.order_updates import (
    DuplicateReport,
    Event,
    Gap,
    Heartbeat,
    OrderUpdate,
    OrderUpdateReplay,
    ReplayComplete,
)
from kite_gateway.grpc import mapping
from kite_gateway.grpc.heartbeats import heartbeat_seconds
from kite_gateway.streaming import OrderUpdates


def duplicate_pb(report: DuplicateReport) -> order_pb2.DuplicateOrder:
    return order_pb2.DuplicateOrder(
        client_order_id=report.client_order_id,
        kept_order_id=report.kept_order_id,
        duplicate_order_id=report.duplicate_order_id,
        action=report.action,  # type: ignore[arg-type]  # a DuplicateAction number
        message=report.message,
    )


def update_pb(event: OrderUpdate) -> order_pb2.OrderUpdate:
    update = order_pb2.OrderUpdate(
        sequence=event.sequence,
        source=order_pb2.OrderUpdateSource.Value(f"ORDER_UPDATE_SOURCE_{event.source.name}"),
        order=mapping.order_pb(event.account_id, event.order, event.client_order_id),
    )
    update.receive_time.FromDatetime(event.received_at)
    if event.duplicate is not None:
        update.duplicate.CopyFrom(duplicate_pb(event.duplicate))
    return update


def gap_pb(event: Gap) -> order_pb2.OrderUpdateGap:
    gap = order_pb2.OrderUpdateGap(
        reason=order_pb2.GapReason.Value(f"GAP_REASON_{event.reason.name}"),
        action=order_pb2.GapAction.Value(f"GAP_ACTION_{event.action.name}"),
        reconciled_updates=event.reconciled_updates,
        oldest_available_sequence=event.oldest_available_sequence,
        message=event.message,
    )
    gap.start_time.FromDatetime(event.start)
    gap.end_time.FromDatetime(event.end)
    return gap


def heartbeat_pb(event: Heartbeat) -> common_pb2.Heartbeat:
    beat = common_pb2.Heartbeat()
    beat.server_time.FromDatetime(event.server_time)
    if event.upstream_state is not None:
        beat.upstream_state = event.upstream_state  # type: ignore[assignment]  # an UpstreamState number
    return beat


def response_pb(event: Event) -> order_pb2.StreamOrderUpdatesResponse:
    """A stream event as the message that carries it."""
    if isinstance(event, OrderUpdate):
        return order_pb2.StreamOrderUpdatesResponse(update=update_pb(event))
    if isinstance(event, Gap):
        return order_pb2.StreamOrderUpdatesResponse(gap=gap_pb(event))
    if isinstance(event, ReplayComplete):
        return order_pb2.StreamOrderUpdatesResponse(
            replay_complete=order_pb2.ReplayComplete(last_sequence=event.last_sequence)
        )
    return order_pb2.StreamOrderUpdatesResponse(heartbeat=heartbeat_pb(event))


class OrderUpdateRpcs:
    def __init__(
        self,
        accounts: AccountManager,
        master: InstrumentMaster,
        order_updates: OrderUpdates,
        replay: OrderUpdateReplay,
    ) -> None:
        self.accounts = accounts
        self.master = master
        self.order_updates = order_updates
        self.replay = replay

    async def stream(
        self, request: order_pb2.StreamOrderUpdatesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[order_pb2.StreamOrderUpdatesResponse]:
        session = self.accounts.get(request.account_id)
        session.active()
        await self.master.ensure(session)
        interval = heartbeat_seconds(request)
        after = request.after_sequence if request.HasField("after_sequence") else None
        symbols = self.master.symbols()

        async def start_live() -> None:
            await self.order_updates.watch(session, symbols)

        async with aclosing(self.replay.events(request.account_id, after, interval, start_live)) as events:
            async for event in events:
                yield response_pb(event)
