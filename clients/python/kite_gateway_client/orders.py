"""OrderService: orders, trades, margins and charges, GTTs, bulk orders, the resumable order-update
stream, the audit trail and kill switches."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from kite_gateway_api.v1 import common_pb2, order_pb2

from kite_gateway_client.calls import Connection
from kite_gateway_client.params import Price, order_target, set_price, timestamp


@dataclass(frozen=True)
class OrderUpdateEvent:
    """One event of the order-update stream: an update, or a gap the gateway reports."""

    update: order_pb2.OrderUpdate | None = None
    gap: order_pb2.OrderUpdateGap | None = None


def new_client_order_id() -> str:
    return uuid.uuid4().hex


class OrderMethods(Connection):
    """Every OrderService RPC. Reads are retried, and so are PlaceOrder, PlaceGtt and
    PlaceBulkOrders, PlaceBasket, SquareOff and CancelAllOrders, always with an idempotency key (a
    client_order_id, basket_id or request_id: yours, or a random one kept across the retries)
    so the gateway acts at most once. ModifyOrder, CancelOrder, ModifyGtt, DeleteGtt and
    SetKillSwitch are not retried: an unknown outcome comes back for you to check. Orders are named
    by Kite's `order_id` or by the `client_order_id` they were placed with. Each method takes the
    request message as `request=` instead of the other arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_sequence: dict[str, int] = {}  # account -> last order-update sequence received

    async def place_order(
        self,
        account_id: str = "",
        params: order_pb2.OrderParams | None = None,
        client_order_id: str | None = None,
        *,
        request: order_pb2.PlaceOrderRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.PlaceOrderResponse:
        """Place an order (see `order_params`), retrying transient failures with the same
        client_order_id (the gateway places it at most once). Pass your own id to make retries
        across restarts of your process safe too."""
        if request is None:
            request = order_pb2.PlaceOrderRequest(account_id=account_id, params=params)
        if not request.client_order_id:
            request.client_order_id = client_order_id or new_client_order_id()
        return await self._call(self.orders.PlaceOrder, request, retried=True, call_timeout=call_timeout)

    async def modify_order(
        self,
        account_id: str = "",
        order_id: str | None = None,
        *,
        client_order_id: str | None = None,
        quantity: int | None = None,
        price: Price | None = None,
        trigger_price: Price | None = None,
        order_type: common_pb2.OrderType.ValueType = common_pb2.ORDER_TYPE_UNSPECIFIED,
        validity: common_pb2.Validity.ValueType = common_pb2.VALIDITY_UNSPECIFIED,
        disclosed_quantity: int | None = None,
        request: order_pb2.ModifyOrderRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.ModifyOrderResponse:
        """Change what is given of an open order; the rest stays. Not retried."""
        if request is None:
            request = order_pb2.ModifyOrderRequest(
                account_id=account_id,
                order=order_target(order_id, client_order_id),
                quantity=quantity,
                order_type=order_type,
                validity=validity,
                disclosed_quantity=disclosed_quantity,
            )
            set_price(request, "price", price)
            set_price(request, "trigger_price", trigger_price)
        return await self._call(self.orders.ModifyOrder, request, retried=False, call_timeout=call_timeout)

    async def cancel_order(
        self,
        account_id: str = "",
        order_id: str | None = None,
        *,
        client_order_id: str | None = None,
        request: order_pb2.CancelOrderRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.CancelOrderResponse:
        """Not retried: an unknown outcome is reported for you to check (list_orders)."""
        request = request or order_pb2.CancelOrderRequest(
            account_id=account_id, order=order_target(order_id, client_order_id)
        )
        return await self._call(self.orders.CancelOrder, request, retried=False, call_timeout=call_timeout)

    async def list_orders(
        self,
        account_id: str = "",
        statuses: Iterable[order_pb2.OrderStatus.ValueType] = (),
        *,
        request: order_pb2.ListOrdersRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.ListOrdersResponse:
        """The day's orders, newest first (only those in `statuses` when given)."""
        request = request or order_pb2.ListOrdersRequest(account_id=account_id, statuses=statuses)
        return await self._call(self.orders.ListOrders, request, retried=True, call_timeout=call_timeout)

    async def get_order_history(
        self,
        account_id: str = "",
        order_id: str | None = None,
        *,
        client_order_id: str | None = None,
        request: order_pb2.GetOrderHistoryRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.GetOrderHistoryResponse:
        request = request or order_pb2.GetOrderHistoryRequest(
            account_id=account_id, order=order_target(order_id, client_order_id)
        )
        return await self._call(self.orders.GetOrderHistory, request, retried=True, call_timeout=call_timeout)

    async def list_trades(
        self,
        account_id: str = "",
        order_id: str | None = None,
        *,
        client_order_id: str | None = None,
        request: order_pb2.ListTradesRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.ListTradesResponse:
        """The day's trades, or those of one order when it is named."""
        if request is None:
            request = order_pb2.ListTradesRequest(account_id=account_id)
            if order_id is not None or client_order_id is not None:
                request.order.CopyFrom(order_target(order_id, client_order_id))
        return await self._call(self.orders.ListTrades, request, retried=True, call_timeout=call_timeout)

    async def get_order_margins(
        self,
        account_id: str = "",
        orders: Sequence[order_pb2.OrderParams] = (),
        *,
        consider_positions: bool = False,
        request: order_pb2.GetOrderMarginsRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.GetOrderMarginsResponse:
        """What the orders would block and cost, placing nothing."""
        request = request or order_pb2.GetOrderMarginsRequest(
            account_id=account_id, orders=orders, consider_positions=consider_positions
        )
        return await self._call(self.orders.GetOrderMargins, request, retried=True, call_timeout=call_timeout)

    async def get_order_charges(
        self,
        account_id: str = "",
        fills: Sequence[order_pb2.ChargeableFill] = (),
        *,
        request: order_pb2.GetOrderChargesRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.GetOrderChargesResponse:
        request = request or order_pb2.GetOrderChargesRequest(account_id=account_id, fills=fills)
        return await self._call(self.orders.GetOrderCharges, request, retried=True, call_timeout=call_timeout)

    async def place_gtt(
        self,
        account_id: str = "",
        params: order_pb2.GttParams | None = None,
        client_order_id: str | None = None,
        *,
        request: order_pb2.PlaceGttRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.PlaceGttResponse:
        """Retried like place_order, with the same client_order_id."""
        if request is None:
            request = order_pb2.PlaceGttRequest(account_id=account_id, params=params)
        if not request.client_order_id:
            request.client_order_id = client_order_id or new_client_order_id()
        return await self._call(self.orders.PlaceGtt, request, retried=True, call_timeout=call_timeout)

    async def modify_gtt(
        self,
        account_id: str = "",
        gtt_id: int = 0,
        params: order_pb2.GttParams | None = None,
        *,
        request: order_pb2.ModifyGttRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.ModifyGttResponse:
        """Not retried."""
        request = request or order_pb2.ModifyGttRequest(account_id=account_id, gtt_id=gtt_id, params=params)
        return await self._call(self.orders.ModifyGtt, request, retried=False, call_timeout=call_timeout)

    async def delete_gtt(
        self,
        account_id: str = "",
        gtt_id: int = 0,
        *,
        request: order_pb2.DeleteGttRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.DeleteGttResponse:
        """Not retried."""
        request = request or order_pb2.DeleteGttRequest(account_id=account_id, gtt_id=gtt_id)
        return await self._call(self.orders.DeleteGtt, request, retried=False, call_timeout=call_timeout)

    async def list_gtts(
        self,
        account_id: str = "",
        statuses: Iterable[order_pb2.GttStatus.ValueType] = (),
        *,
        request: order_pb2.ListGttsRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.ListGttsResponse:
        request = request or order_pb2.ListGttsRequest(account_id=account_id, statuses=statuses)
        return await self._call(self.orders.ListGtts, request, retried=True, call_timeout=call_timeout)

    async def get_gtt(
        self,
        account_id: str = "",
        gtt_id: int = 0,
        *,
        request: order_pb2.GetGttRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.GetGttResponse:
        request = request or order_pb2.GetGttRequest(account_id=account_id, gtt_id=gtt_id)
        return await self._call(self.orders.GetGtt, request, retried=True, call_timeout=call_timeout)

    async def create_kite_alert(
        self,
        account_id: str = "",
        params: order_pb2.KiteAlertParams | None = None,
        *,
        request: order_pb2.CreateKiteAlertRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.CreateKiteAlertResponse:
        """Not retried: Kite has no idempotency key for alerts, so a retry could make a second one."""
        request = request or order_pb2.CreateKiteAlertRequest(account_id=account_id, params=params)
        return await self._call(self.orders.CreateKiteAlert, request, retried=False, call_timeout=call_timeout)

    async def modify_kite_alert(
        self,
        account_id: str = "",
        alert_id: str = "",
        params: order_pb2.KiteAlertParams | None = None,
        *,
        request: order_pb2.ModifyKiteAlertRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.ModifyKiteAlertResponse:
        request = request or order_pb2.ModifyKiteAlertRequest(account_id=account_id, alert_id=alert_id, params=params)
        return await self._call(self.orders.ModifyKiteAlert, request, retried=False, call_timeout=call_timeout)

    async def delete_kite_alerts(
        self,
        account_id: str = "",
        alert_ids: Iterable[str] = (),
        *,
        request: order_pb2.DeleteKiteAlertsRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.DeleteKiteAlertsResponse:
        request = request or order_pb2.DeleteKiteAlertsRequest(account_id=account_id, alert_ids=alert_ids)
        return await self._call(self.orders.DeleteKiteAlerts, request, retried=False, call_timeout=call_timeout)

    async def list_kite_alerts(
        self,
        account_id: str = "",
        status: order_pb2.KiteAlertStatus.ValueType = order_pb2.KITE_ALERT_STATUS_UNSPECIFIED,
        *,
        request: order_pb2.ListKiteAlertsRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.ListKiteAlertsResponse:
        request = request or order_pb2.ListKiteAlertsRequest(account_id=account_id, status=status)
        return await self._call(self.orders.ListKiteAlerts, request, retried=True, call_timeout=call_timeout)

    async def get_kite_alert(
        self,
        account_id: str = "",
        alert_id: str = "",
        *,
        request: order_pb2.GetKiteAlertRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.GetKiteAlertResponse:
        request = request or order_pb2.GetKiteAlertRequest(account_id=account_id, alert_id=alert_id)
        return await self._call(self.orders.GetKiteAlert, request, retried=True, call_timeout=call_timeout)

    async def get_kite_alert_history(
        self,
        account_id: str = "",
        alert_id: str = "",
        *,
        request: order_pb2.GetKiteAlertHistoryRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.GetKiteAlertHistoryResponse:
        request = request or order_pb2.GetKiteAlertHistoryRequest(account_id=account_id, alert_id=alert_id)
        return await self._call(self.orders.GetKiteAlertHistory, request, retried=True, call_timeout=call_timeout)

    async def place_bulk_orders(
        self,
        legs: Sequence[order_pb2.BulkOrderLeg] = (),
        *,
        request: order_pb2.PlaceBulkOrdersRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.PlaceBulkOrdersResponse:
        """Orders in several accounts at once, each leg's result apart. Every leg gets a
        client_order_id (a random one where it has none), so the whole call is retried safely."""
        if request is None:
            request = order_pb2.PlaceBulkOrdersRequest(legs=legs)
        for leg in request.legs:
            if not leg.client_order_id:
                leg.client_order_id = new_client_order_id()
        return await self._call(self.orders.PlaceBulkOrders, request, retried=True, call_timeout=call_timeout)

    async def place_basket(
        self,
        account_id: str = "",
        legs: Sequence[order_pb2.BasketLeg] = (),
        *,
        basket_id: str = "",
        failure_policy: order_pb2.BasketFailurePolicy.ValueType = order_pb2.BASKET_FAILURE_POLICY_UNWIND,
        preview_only: bool = False,
        request: order_pb2.PlaceBasketRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.PlaceBasketResponse:
        """Several legs on one account as one basket (margin preview first, hedge first, the
        failure policy on a failed leg). A basket_id (yours, or a random one) and a client_order_id
        per leg make the whole call safe to retry."""
        if request is None:
            request = order_pb2.PlaceBasketRequest(
                account_id=account_id, basket_id=basket_id or new_client_order_id(), legs=legs,
                failure_policy=failure_policy, preview_only=preview_only,
            )  # fmt: skip
        if not request.basket_id:
            request.basket_id = new_client_order_id()
        for leg in request.legs:
            if not leg.client_order_id:
                leg.client_order_id = new_client_order_id()
        return await self._call(self.orders.PlaceBasket, request, retried=True, call_timeout=call_timeout)

    async def square_off(
        self,
        account_ids: Sequence[str] = (),
        reason: str = "",
        *,
        request_id: str = "",
        request: order_pb2.SquareOffRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.SquareOffResponse:
        """Close the open positions of the accounts (or of the scope `request` names: groups, a
        strategy, an instrument). A request_id (yours, or a random one kept across the retries)
        makes it safe to retry: the same id never places again."""
        request = request or order_pb2.SquareOffRequest(account_ids=account_ids, reason=reason)
        if not request.request_id:
            request.request_id = request_id or new_client_order_id()
        return await self._call(self.orders.SquareOff, request, retried=True, call_timeout=call_timeout)

    async def cancel_all_orders(
        self,
        account_ids: Sequence[str] = (),
        reason: str = "",
        *,
        request_id: str = "",
        request: order_pb2.CancelAllOrdersRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.CancelAllOrdersResponse:
        """Cancel the open orders of the accounts (or of the scope `request` names); safe to retry
        by its request_id."""
        request = request or order_pb2.CancelAllOrdersRequest(account_ids=account_ids, reason=reason)
        if not request.request_id:
            request.request_id = request_id or new_client_order_id()
        return await self._call(self.orders.CancelAllOrders, request, retried=True, call_timeout=call_timeout)

    async def stream_order_updates(
        self,
        account_id: str = "",
        after_sequence: int | None = None,
        *,
        heartbeat_seconds: int = 5,
        request: order_pb2.StreamOrderUpdatesRequest | None = None,
    ) -> AsyncGenerator[order_pb2.StreamOrderUpdatesResponse, None]:
        """Every message of the account's order-update stream (updates, gaps, heartbeats, the end of
        the replay, upstream status), from after `after_sequence` (default: where this client left
        off, else from now). It reconnects after transient failures and resumes from the last
        sequence received (`last_sequence`), so no update is missed or repeated."""
        if request is None:
            request = order_pb2.StreamOrderUpdatesRequest(
                account_id=account_id, heartbeat_interval=Duration(seconds=heartbeat_seconds)
            )
            if after_sequence is not None:
                request.after_sequence = after_sequence
        account_id = request.account_id
        if request.HasField("after_sequence"):
            self.last_sequence[account_id] = request.after_sequence

        def resume() -> grpc.aio.UnaryStreamCall[
            order_pb2.StreamOrderUpdatesRequest, order_pb2.StreamOrderUpdatesResponse
        ]:
            again = order_pb2.StreamOrderUpdatesRequest()
            again.CopyFrom(request)
            if account_id in self.last_sequence:
                again.after_sequence = self.last_sequence[account_id]
            return self.orders.StreamOrderUpdates(again, metadata=self.metadata)

        messages: AsyncGenerator[order_pb2.StreamOrderUpdatesResponse, None] = self._resumable(resume)
        async with contextlib.aclosing(messages):
            async for message in messages:
                kind = message.WhichOneof("event")
                if kind == "update":
                    self.last_sequence[account_id] = message.update.sequence
                elif kind == "replay_complete" and account_id not in self.last_sequence:
                    self.last_sequence[account_id] = message.replay_complete.last_sequence
                yield message

    async def order_updates(
        self, account_id: str, after_sequence: int | None = None, heartbeat_seconds: int = 5
    ) -> AsyncGenerator[OrderUpdateEvent, None]:
        """The updates and gaps of stream_order_updates (resumable the same way), without the rest."""
        messages = self.stream_order_updates(account_id, after_sequence, heartbeat_seconds=heartbeat_seconds)
        async with contextlib.aclosing(messages):
            async for message in messages:
                kind = message.WhichOneof("event")
                if kind == "update":
                    yield OrderUpdateEvent(update=message.update)
                elif kind == "gap":
                    yield OrderUpdateEvent(gap=message.gap)

    async def list_audit_events(
        self,
        account_id: str = "",
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        client_order_id: str = "",
        order_id: str = "",
        page_size: int = 0,
        page_token: str = "",
        request: order_pb2.ListAuditEventsRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.ListAuditEventsResponse:
        """One page of the audit trail, oldest first; pass next_page_token as `page_token` for the next."""
        if request is None:
            request = order_pb2.ListAuditEventsRequest(
                account_id=account_id,
                client_order_id=client_order_id,
                order_id=order_id,
                page_size=page_size,
                page_token=page_token,
            )
            if start is not None:
                request.start_time.CopyFrom(timestamp(start))
            if end is not None:
                request.end_time.CopyFrom(timestamp(end))
        return await self._call(self.orders.ListAuditEvents, request, retried=True, call_timeout=call_timeout)

    async def set_kill_switch(
        self,
        account_id: str = "",
        engaged: bool = True,
        reason: str = "",
        *,
        cancel_open_orders: bool = False,
        request: order_pb2.SetKillSwitchRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.SetKillSwitchResponse:
        """Engage (or release, `engaged=False`) the account's kill switch; account_id "" is the
        gateway-wide one. Not retried."""
        request = request or order_pb2.SetKillSwitchRequest(
            account_id=account_id, engaged=engaged, reason=reason, cancel_open_orders=cancel_open_orders
        )
        return await self._call(self.orders.SetKillSwitch, request, retried=False, call_timeout=call_timeout)

    async def get_kill_switch(
        self,
        account_id: str = "",
        *,
        request: order_pb2.GetKillSwitchRequest | None = None,
        call_timeout: float | None = None,
    ) -> order_pb2.GetKillSwitchResponse:
        request = request or order_pb2.GetKillSwitchRequest(account_id=account_id)
        return await self._call(self.orders.GetKillSwitch, request, retried=True, call_timeout=call_timeout)
