"""OrderService: orders, trades, previews, GTT triggers, Kite's alerts, bulk placement and the audit trail.

The order RPCs validate the request, call a use case of kite_gateway/core/orders and map its result;
the GTT, order-update and audit RPCs are handled by kite_gateway/grpc/{gtt,order_update,audit}_rpcs.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from kite_gateway_api.v1 import order_pb2, order_pb2_grpc

from kite_gateway.auth import authorize_kill_switch, authorize_trade, current_principal
from kite_gateway.core.market import InstrumentMaster
from kite_gateway.core.orders import (
    Baskets,
    CancelAll,
    KillSwitchActions,
    OrderAccounts,
    OrderActions,
    OrderQueries,
    Placed,
    SquareOffs,
    bulk,
    check_client_order_id,
    previews,
)
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.grpc import basket_mapping, mapping, order_mapping, square_off_mapping
from kite_gateway.grpc.audit_rpcs import AuditRpcs
from kite_gateway.grpc.context import audited, principal_of
from kite_gateway.grpc.gtt_rpcs import GttRpcs
from kite_gateway.grpc.kite_alert_rpcs import KiteAlertRpcs
from kite_gateway.grpc.order_update_rpcs import OrderUpdateRpcs
from kite_gateway.storage import AuditLog


class OrderServicer(order_pb2_grpc.OrderServiceServicer):
    def __init__(
        self,
        *,
        audit: AuditLog,
        master: InstrumentMaster,
        order_accounts: OrderAccounts,
        actions: OrderActions,
        queries: OrderQueries,
        kill_switches: KillSwitchActions,
        gtts: GttRpcs,
        kite_alerts: KiteAlertRpcs,
        order_update_rpcs: OrderUpdateRpcs,
        audit_events: AuditRpcs,
        algo_id: str = "",
        square_offs: SquareOffs | None = None,
        cancel_all: CancelAll | None = None,
        baskets: Baskets | None = None,
    ) -> None:
        self.audit = audit
        self.master = master
        self.order_accounts = order_accounts
        self.actions = actions
        self.queries = queries
        self.kill_switches = kill_switches
        self.gtts = gtts
        self.kite_alerts = kite_alerts
        self.order_update_rpcs = order_update_rpcs
        self.audit_events = audit_events
        self.algo_id = algo_id  # KITE_GATEWAY_ALGO_ID: for orders whose request and principal name none
        self.square_offs = square_offs
        self.cancel_all = cancel_all
        self.baskets = baskets

    def _algo_id(self) -> str:
        """The algo ID of an order that names none: the calling principal's, else the gateway's."""
        principal = current_principal.get()
        return (principal.algo_id if principal is not None else "") or self.algo_id

    # Placing ----------------------------------------------------------------------------------

    async def _place(
        self,
        account_id: str,
        client_order_id: str,
        params: order_pb2.OrderParams,
        field: str,
        context: grpc.aio.ServicerContext,
    ) -> Placed:
        check_client_order_id(client_order_id, f"{field}client_order_id")
        kite = await self.order_accounts.trading(account_id)  # its instruments are loaded to resolve the order's
        order = order_mapping.new_order(account_id, client_order_id, params, self.master, field)
        return await self.actions.place(kite, order, context.time_remaining())

    async def PlaceOrder(
        self, request: order_pb2.PlaceOrderRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.PlaceOrderResponse:
        request = order_mapping.with_algo_id(request, self._algo_id())  # audited and fingerprinted as sent
        placed = await audited(
            self.audit,
            context,
            order_pb2.AUDIT_ACTION_PLACE_ORDER,
            request.account_id,
            request.client_order_id,
            request,
            lambda: self._place(request.account_id, request.client_order_id, request.params, "", context),
            lambda r: r.order_id,
            outcome_of=order_mapping.placed_outcome,
        )
        return order_mapping.placed_pb(placed)

    async def PlaceBulkOrders(
        self, request: order_pb2.PlaceBulkOrdersRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.PlaceBulkOrdersResponse:
        algo_id = self._algo_id()
        legs = [order_mapping.with_algo_id(leg, algo_id) for leg in request.legs]
        bulk.check_legs([(leg.account_id, leg.client_order_id) for leg in legs])

        async def place(i: int) -> Placed:
            leg = legs[i]
            return await audited(
                self.audit,
                context,
                order_pb2.AUDIT_ACTION_PLACE_ORDER,
                leg.account_id,
                leg.client_order_id,
                leg,
                lambda: self._place(leg.account_id, leg.client_order_id, leg.params, f"legs[{i}].", context),
                lambda r: r.order_id,
                outcome_of=order_mapping.placed_outcome,
            )

        results = await bulk.place_legs([(leg.account_id, leg.client_order_id) for leg in legs], place)
        return order_pb2.PlaceBulkOrdersResponse(results=[order_mapping.leg_result_pb(r) for r in results])

    # Existing orders --------------------------------------------------------------------------

    async def ModifyOrder(
        self, request: order_pb2.ModifyOrderRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ModifyOrderResponse:
        async def modify() -> str:
            change = order_mapping.modification(request)
            return await self.actions.modify(request.account_id, order_mapping.order_target(request.order), change)

        order_id = await audited(
            self.audit,
            context,
            order_pb2.AUDIT_ACTION_MODIFY_ORDER,
            request.account_id,
            request.order.client_order_id,
            request,
            modify,
            lambda r: r,
            request.order.order_id,
        )
        return order_pb2.ModifyOrderResponse(order_id=order_id)

    async def CancelOrder(
        self, request: order_pb2.CancelOrderRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.CancelOrderResponse:
        order_id = await audited(
            self.audit,
            context,
            order_pb2.AUDIT_ACTION_CANCEL_ORDER,
            request.account_id,
            request.order.client_order_id,
            request,
            lambda: self.actions.cancel(request.account_id, order_mapping.order_target(request.order)),
            lambda r: r,
            request.order.order_id,
        )
        return order_pb2.CancelOrderResponse(order_id=order_id)

    async def ListOrders(
        self, request: order_pb2.ListOrdersRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ListOrdersResponse:
        orders = order_mapping.orders_pb(request.account_id, await self.queries.orders(request.account_id))
        wanted = set(request.statuses)
        return order_pb2.ListOrdersResponse(orders=[o for o in orders if not wanted or o.status in wanted])

    async def GetOrderHistory(
        self, request: order_pb2.GetOrderHistoryRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.GetOrderHistoryResponse:
        states = await self.queries.history(request.account_id, order_mapping.order_target(request.order))
        return order_pb2.GetOrderHistoryResponse(states=order_mapping.orders_pb(request.account_id, states))

    async def ListTrades(
        self, request: order_pb2.ListTradesRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ListTradesResponse:
        target = order_mapping.order_target(request.order) if request.HasField("order") else None
        rows = await self.queries.trades(request.account_id, target)
        return order_pb2.ListTradesResponse(trades=[mapping.trade_pb(request.account_id, row) for row in rows])

    # Previews ---------------------------------------------------------------------------------

    async def GetOrderMargins(
        self, request: order_pb2.GetOrderMarginsRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.GetOrderMarginsResponse:
        kite = await self.order_accounts.trading(request.account_id)
        previews.check_count(len(request.orders), "orders", "orders")
        orders = [order_mapping.order_params(p, self.master, f"orders[{i}]") for i, p in enumerate(request.orders)]
        preview = await previews.margins(kite, orders, self.actions.market_protection, request.consider_positions)
        return order_mapping.margins_pb(preview)

    async def GetOrderCharges(
        self, request: order_pb2.GetOrderChargesRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.GetOrderChargesResponse:
        kite = await self.order_accounts.trading(request.account_id)
        previews.check_count(len(request.fills), "fills", "fills")
        fills = [order_mapping.fill(f, self.master, i) for i, f in enumerate(request.fills)]
        charges = await previews.charges(kite, fills)
        return order_pb2.GetOrderChargesResponse(fills=[order_mapping.fill_charges_pb(c) for c in charges])

    # GTT, order updates and the audit trail (kite_gateway/grpc/{gtt,order_update,audit}_rpcs.py) ---------

    async def PlaceGtt(
        self, request: order_pb2.PlaceGttRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.PlaceGttResponse:
        return await self.gtts.place(request, context)

    async def ModifyGtt(
        self, request: order_pb2.ModifyGttRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ModifyGttResponse:
        return await self.gtts.modify(request, context)

    async def DeleteGtt(
        self, request: order_pb2.DeleteGttRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.DeleteGttResponse:
        return await self.gtts.delete(request, context)

    async def ListGtts(
        self, request: order_pb2.ListGttsRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ListGttsResponse:
        return await self.gtts.list(request)

    async def GetGtt(
        self, request: order_pb2.GetGttRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.GetGttResponse:
        return await self.gtts.get(request)

    # Kite's own alerts (kite_gateway/grpc/kite_alert_rpcs.py) ---------------------------------------

    async def CreateKiteAlert(
        self, request: order_pb2.CreateKiteAlertRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.CreateKiteAlertResponse:
        return await self.kite_alerts.create(request, context)

    async def ModifyKiteAlert(
        self, request: order_pb2.ModifyKiteAlertRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ModifyKiteAlertResponse:
        return await self.kite_alerts.modify(request, context)

    async def DeleteKiteAlerts(
        self, request: order_pb2.DeleteKiteAlertsRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.DeleteKiteAlertsResponse:
        return await self.kite_alerts.delete(request, context)

    async def ListKiteAlerts(
        self, request: order_pb2.ListKiteAlertsRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ListKiteAlertsResponse:
        return await self.kite_alerts.list(request)

    async def GetKiteAlert(
        self, request: order_pb2.GetKiteAlertRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.GetKiteAlertResponse:
        return await self.kite_alerts.get(request)

    async def GetKiteAlertHistory(
        self, request: order_pb2.GetKiteAlertHistoryRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.GetKiteAlertHistoryResponse:
        return await self.kite_alerts.history(request)

    async def StreamOrderUpdates(
        self, request: order_pb2.StreamOrderUpdatesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[order_pb2.StreamOrderUpdatesResponse]:
        async for response in self.order_update_rpcs.stream(request, context):
            yield response

    async def ListAuditEvents(
        self, request: order_pb2.ListAuditEventsRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ListAuditEventsResponse:
        return await self.audit_events.list(request)

    # Kill switches ----------------------------------------------------------------------------

    async def SetKillSwitch(
        self, request: order_pb2.SetKillSwitchRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.SetKillSwitchResponse:
        authorize_kill_switch(current_principal.get(), request.account_id, request.engaged)
        self.kill_switches.check_reason(request.engaged, request.reason)
        if request.account_id:
            self.order_accounts.check_known(request.account_id)  # NOT_FOUND for an unknown account

        async def set_switch() -> order_pb2.SetKillSwitchResponse:
            state, cancellations = await self.kill_switches.set(
                request.account_id, request.engaged, request.reason, principal_of(context), request.cancel_open_orders
            )
            return order_pb2.SetKillSwitchResponse(
                kill_switch=order_mapping.kill_switch_pb(state),
                cancellations=[order_mapping.cancellation_pb(c) for c in cancellations],
            )

        return await audited(
            self.audit,
            context,
            order_pb2.AUDIT_ACTION_SET_KILL_SWITCH,
            request.account_id,
            "",
            request,
            set_switch,
            lambda r: "",
        )

    async def GetKillSwitch(
        self, request: order_pb2.GetKillSwitchRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.GetKillSwitchResponse:
        self.order_accounts.check_known(request.account_id)
        account, gateway = self.kill_switches.states(request.account_id)
        return order_pb2.GetKillSwitchResponse(
            account=order_mapping.kill_switch_pb(account), gateway=order_mapping.kill_switch_pb(gateway)
        )

    # Square-off and cancel-all (kite_gateway/core/orders/square_off.py, cancel_all.py) -----------

    async def SquareOff(
        self, request: order_pb2.SquareOffRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.SquareOffResponse:
        if self.square_offs is None:
            raise _not_configured("SquareOff")
        scope = square_off_mapping.scope(request, self.master)
        principal = current_principal.get()
        result = await self.square_offs.square_off(
            scope, request.reason, request.request_id, principal_of(context), algo_id=self._algo_id(),
            authorize=lambda accounts: authorize_trade(principal, list(accounts), "SquareOff"),
        )  # fmt: skip
        return square_off_mapping.square_off_pb(result)

    async def CancelAllOrders(
        self, request: order_pb2.CancelAllOrdersRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.CancelAllOrdersResponse:
        if self.cancel_all is None:
            raise _not_configured("CancelAllOrders")
        scope = square_off_mapping.scope(request, self.master)
        principal = current_principal.get()
        result = await self.cancel_all.cancel_all(
            scope, request.reason, request.request_id, principal_of(context),
            authorize=lambda accounts: authorize_trade(principal, list(accounts), "CancelAllOrders"),
        )  # fmt: skip
        return square_off_mapping.cancel_all_pb(result)

    async def PlaceBasket(
        self, request: order_pb2.PlaceBasketRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.PlaceBasketResponse:
        if self.baskets is None:
            raise _not_configured("PlaceBasket")
        await self.order_accounts.trading(request.account_id)  # its instruments are loaded to resolve the legs'
        basket = basket_mapping.basket_request(request, self.master, self._algo_id())
        return basket_mapping.basket_pb(await self.baskets.place_basket(basket, principal_of(context), self._algo_id()))


def _not_configured(method: str) -> GatewayError:
    return GatewayError(Status.FAILED_PRECONDITION, Reason.UNSPECIFIED,
                        f"{method} is not configured on this gateway", {"method": method})  # fmt: skip
