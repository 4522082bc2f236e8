"""OrderService: orders, trades, previews, GTT triggers, bulk placement and the audit trail.

The order RPCs validate the request, call a use case of kite_gateway/core/orders and map its result;
the GTT, order-update and audit RPCs still reach the Runtime (they are moving out)."""

from __future__ import annotations

import asyncio
import base64
import functools
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from kite_gateway_api.v1 import common_pb2, order_pb2, order_pb2_grpc

from kite_gateway.auth.policy import authorize_kill_switch
from kite_gateway.auth.principals import current_principal
from kite_gateway.core.accounts.session import AccountSession
from kite_gateway.core.market.instruments import InstrumentMaster
from kite_gateway.core.orders import bulk, previews
from kite_gateway.core.orders.accounts import OrderAccounts
from kite_gateway.core.orders.kill_switch_actions import KillSwitchActions
from kite_gateway.core.orders.queries import OrderQueries
from kite_gateway.core.orders.requests import Placed
from kite_gateway.core.orders.trading import OrderActions
from kite_gateway.core.orders.validation import check_client_order_id, fingerprint
from kite_gateway.errors import GatewayError, Reason, Status, invalid
from kite_gateway.grpc import mapping, order_mapping
from kite_gateway.grpc.context import audited, principal_of
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.errors import written
from kite_gateway.kite.limits import EndpointClass
from kite_gateway.storage.audit import AuditLog
from kite_gateway.storage.idempotency import Record
from kite_gateway.streaming.order_streams import DUPLICATE

if TYPE_CHECKING:
    from kite_gateway.app import Runtime

T = TypeVar("T")
MAX_EVENT_ID = 2**63 - 1  # SQLite's largest integer


class OrderServicer(order_pb2_grpc.OrderServiceServicer):
    def __init__(
        self,
        runtime: Runtime,
        *,
        audit: AuditLog,
        master: InstrumentMaster,
        order_accounts: OrderAccounts,
        actions: OrderActions,
        queries: OrderQueries,
        kill_switches: KillSwitchActions,
    ) -> None:
        self.runtime = runtime  # the GTT, order-update and audit RPCs only
        self.accounts = runtime.accounts  # likewise
        self.audit = audit
        self.master = master
        self.order_accounts = order_accounts
        self.actions = actions
        self.queries = queries
        self.kill_switches = kill_switches

    async def _session(self, account_id: str) -> tuple[AccountSession, KiteCaller]:
        """The account's session and Kite caller; its order updates are being recorded from here on
        (the GTT RPCs)."""
        session = self.accounts.get(account_id)
        kite = session.active()
        await self.master.ensure(session)
        if not self.runtime.order_updates.watching(session):
            await self.runtime.order_updates.watch(session, self.master.symbols())
        return session, kite

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
        placed = await audited(
            self.audit,
            context,
            order_pb2.AUDIT_ACTION_PLACE_ORDER,
            request.account_id,
            request.client_order_id,
            request,
            lambda: self._place(request.account_id, request.client_order_id, request.params, "", context),
            lambda r: r.order_id,
        )
        return order_pb2.PlaceOrderResponse(
            order_id=placed.order_id, client_order_id=placed.client_order_id, replayed=placed.replayed
        )

    async def PlaceBulkOrders(
        self, request: order_pb2.PlaceBulkOrdersRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.PlaceBulkOrdersResponse:
        legs = list(request.legs)
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

    # GTT --------------------------------------------------------------------------------------

    def _gtt_args(self, params: order_pb2.GttParams) -> dict[str, Any]:
        listing = self.master.resolve(mapping.instrument_ref(params.instrument), "params.instrument")
        kind = {order_pb2.GTT_TYPE_SINGLE: "single", order_pb2.GTT_TYPE_TWO_LEG: "two-leg"}.get(params.type)
        if kind is None:
            raise invalid("params.type", "required: GTT_TYPE_SINGLE or GTT_TYPE_TWO_LEG")
        needed = 1 if kind == "single" else 2
        if len(params.trigger_values) != needed or len(params.legs) != needed:
            raise invalid("params.trigger_values", f"a {kind} GTT needs {needed} trigger value(s) and {needed} leg(s)")
        last_price = mapping.from_decimal_pb(params.last_price, "params.last_price")
        if last_price <= 0:
            raise invalid("params.last_price", "required: the instrument's last price when the GTT is made")
        legs = []
        for i, leg in enumerate(params.legs):
            price = mapping.from_decimal_pb(leg.price, f"params.legs[{i}].price")
            if price <= 0 or leg.quantity <= 0:
                raise invalid(f"params.legs[{i}]", "quantity and price must be positive")
            legs.append(
                {
                    "transaction_type": mapping.transaction_text(
                        leg.transaction_type, f"params.legs[{i}].transaction_type"
                    ),
                    "quantity": leg.quantity,
                    "order_type": "LIMIT",
                    "product": mapping.product_text(leg.product, f"params.legs[{i}].product"),
                    "price": mapping.kite_number(price),
                }
            )
        triggers = [
            mapping.kite_number(mapping.from_decimal_pb(v, f"params.trigger_values[{i}]"))
            for i, v in enumerate(params.trigger_values)
        ]
        return {
            "trigger_type": kind,
            "tradingsymbol": listing.tradingsymbol,
            "exchange": listing.exchange,
            "trigger_values": triggers,
            "last_price": mapping.kite_number(last_price),
            "orders": legs,
        }

    async def PlaceGtt(
        self, request: order_pb2.PlaceGttRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.PlaceGttResponse:
        async def place() -> order_pb2.PlaceGttResponse:
            check_client_order_id(request.client_order_id)
            self.runtime.risk.kill_switches.check(request.account_id)
            _session, kite = await self._session(request.account_id)
            args = self._gtt_args(request.params)

            async def submit(kite: KiteCaller, record: Record) -> str:
                return str(
                    (await written(kite.write(EndpointClass.OTHER, "place_gtt", **args), kite.account_id))["trigger_id"]
                )

            async def find(kite: KiteCaller, record: Record) -> list[dict[str, Any]]:
                return [
                    gtt
                    for gtt in await kite.read(EndpointClass.OTHER, "get_gtts")
                    if gtt.get("status") == "active"
                    and (gtt.get("condition") or {}).get("tradingsymbol") == args["tradingsymbol"]
                    and (gtt.get("condition") or {}).get("trigger_values") == args["trigger_values"]
                ]

            async def check() -> None:
                self.runtime.risk.kill_switches.check(request.account_id)

            gtt_id, replayed = await self.runtime.placement.place(
                kite, request.client_order_id, "gtt", fingerprint(request.params), submit, find, check
            )
            return order_pb2.PlaceGttResponse(gtt_id=int(gtt_id), replayed=replayed)

        return await audited(
            self.runtime.audit,
            context,
            order_pb2.AUDIT_ACTION_PLACE_GTT,
            request.account_id,
            request.client_order_id,
            request,
            place,
            lambda r: str(r.gtt_id),
        )

    async def ModifyGtt(
        self, request: order_pb2.ModifyGttRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ModifyGttResponse:
        async def modify() -> order_pb2.ModifyGttResponse:
            self.runtime.risk.kill_switches.check(request.account_id)
            _session, kite = await self._session(request.account_id)
            blocked = functools.partial(self.runtime.risk.kill_switches.check, request.account_id)
            args = self._gtt_args(request.params)
            change = kite.change(EndpointClass.OTHER, "modify_gtt", request.gtt_id, before_send=blocked, **args)
            await self._on_gtt(request.account_id, request.gtt_id, change)
            return order_pb2.ModifyGttResponse(gtt_id=request.gtt_id)

        return await audited(
            self.runtime.audit,
            context,
            order_pb2.AUDIT_ACTION_MODIFY_GTT,
            request.account_id,
            "",
            request,
            modify,
            lambda r: str(r.gtt_id),
        )

    async def DeleteGtt(
        self, request: order_pb2.DeleteGttRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.DeleteGttResponse:
        async def delete() -> order_pb2.DeleteGttResponse:
            kite = self.accounts.get(request.account_id).active()
            await self._on_gtt(request.account_id, request.gtt_id,
                               kite.change(EndpointClass.OTHER, "delete_gtt", request.gtt_id))  # fmt: skip
            return order_pb2.DeleteGttResponse(gtt_id=request.gtt_id)

        return await audited(
            self.runtime.audit,
            context,
            order_pb2.AUDIT_ACTION_DELETE_GTT,
            request.account_id,
            "",
            request,
            delete,
            lambda r: str(r.gtt_id),
        )

    async def ListGtts(
        self, request: order_pb2.ListGttsRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ListGttsResponse:
        kite = self.accounts.get(request.account_id).active()
        gtts = [_gtt_pb(request.account_id, row) for row in await kite.read(EndpointClass.OTHER, "get_gtts")]
        wanted = set(request.statuses)
        return order_pb2.ListGttsResponse(gtts=[g for g in gtts if not wanted or g.status in wanted])

    async def GetGtt(
        self, request: order_pb2.GetGttRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.GetGttResponse:
        kite = self.accounts.get(request.account_id).active()
        row = await self._on_gtt(request.account_id, request.gtt_id, kite.read(EndpointClass.OTHER, "get_gtt",
                                                                               request.gtt_id))  # fmt: skip
        return order_pb2.GetGttResponse(gtt=_gtt_pb(request.account_id, row))

    async def _on_gtt(self, account_id: str, gtt_id: int, call: Awaitable[T]) -> T:
        """A call on one GTT trigger, with Kite's "Trigger not found" (404) as NOT_FOUND."""
        try:
            return await call
        except GatewayError as exc:
            if exc.code == Status.NOT_FOUND or exc.metadata.get("kite_http_status") == "404":
                raise GatewayError(
                    Status.NOT_FOUND,
                    Reason.ORDER_NOT_FOUND,
                    f"no GTT {gtt_id} on account {account_id}; ListGtts shows the account's triggers",
                    {"account_id": account_id, "gtt_id": str(gtt_id)},
                ) from None
            raise

    # Order updates ----------------------------------------------------------------------------

    async def StreamOrderUpdates(
        self, request: order_pb2.StreamOrderUpdatesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[order_pb2.StreamOrderUpdatesResponse]:
        session = self.accounts.get(request.account_id)
        session.active()
        await self.master.ensure(session)
        interval = (
            request.heartbeat_interval.ToTimedelta().total_seconds() if request.HasField("heartbeat_interval") else 5.0
        )
        if not 1 <= interval <= 60:
            raise invalid("heartbeat_interval", "1 s to 60 s")
        updates = self.runtime.order_updates
        newest = await updates.log.newest(request.account_id)
        replaying = request.HasField("after_sequence")
        if replaying and request.after_sequence > newest:
            raise GatewayError(
                Status.OUT_OF_RANGE,
                Reason.SEQUENCE_OUT_OF_RANGE,
                f"after_sequence {request.after_sequence} is beyond the newest update ({newest}) of account "
                f"{request.account_id}; resume from a sequence this gateway issued",
                {"account_id": request.account_id, "newest_sequence": str(newest)},
            )
        last = request.after_sequence if replaying else newest
        symbols = self.master.symbols()
        listener = updates.listen(request.account_id)
        try:
            await updates.watch(session, symbols)
            client_ids: dict[str, str] = {}
            announced = False
            while True:
                listener.wake.clear()
                rows = await updates.log.after(request.account_id, last)
                for row in rows:
                    tag = row.order.get("tag") or ""
                    if tag and tag not in client_ids:
                        client_ids = await self.runtime.idempotency.client_ids_by_tag(request.account_id)
                    update = order_pb2.OrderUpdate(
                        sequence=row.sequence,
                        source=row.source,  # type: ignore[arg-type]
                        order=mapping.order_pb(request.account_id, row.order, client_ids.get(tag, "")),
                    )
                    update.receive_time.FromDatetime(row.received_at)
                    marker = row.order.get(DUPLICATE)
                    if marker:
                        update.duplicate.CopyFrom(order_pb2.DuplicateOrder(**marker))
                    yield order_pb2.StreamOrderUpdatesResponse(update=update)
                    last = row.sequence
                if rows:
                    continue
                if not announced:  # also for a live-only stream: it tells the caller its resume point
                    announced = True
                    yield order_pb2.StreamOrderUpdatesResponse(
                        replay_complete=order_pb2.ReplayComplete(last_sequence=last)
                    )
                while listener.gaps:
                    yield order_pb2.StreamOrderUpdatesResponse(gap=listener.gaps.pop(0))
                try:
                    async with asyncio.timeout(interval):
                        await listener.wake.wait()
                except TimeoutError:
                    beat = common_pb2.Heartbeat()
                    beat.server_time.GetCurrentTime()
                    streams = self.runtime.tick_streams.find(request.account_id)
                    if streams is not None:
                        beat.upstream_state = common_pb2.UpstreamState.ValueType(streams.state)
                    yield order_pb2.StreamOrderUpdatesResponse(heartbeat=beat)
        finally:
            updates.forget(request.account_id, listener)

    # Audit ------------------------------------------------------------------------------------

    async def ListAuditEvents(
        self, request: order_pb2.ListAuditEventsRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ListAuditEventsResponse:
        self.accounts.get(request.account_id)
        size = request.page_size or 100
        if not 1 <= size <= 1000:
            raise invalid("page_size", "1 to 1000")
        after = 0
        if request.page_token:
            try:
                after = int(base64.urlsafe_b64decode(request.page_token.encode()).decode())
            except ValueError:
                after = -1
            if not 0 <= after <= MAX_EVENT_ID:
                raise invalid("page_token", "not a token from a previous response") from None
        start = request.start_time.ToDatetime(UTC) if request.HasField("start_time") else None
        end = request.end_time.ToDatetime(UTC) if request.HasField("end_time") else None
        entries = await self.runtime.audit.query(
            request.account_id, start, end, request.client_order_id, request.order_id, after, size + 1
        )
        response = order_pb2.ListAuditEventsResponse()
        for entry in entries[:size]:
            event = response.events.add(
                event_id=entry.event_id,
                principal=entry.principal,
                account_id=entry.account_id,
                action=entry.action,
                client_order_id=entry.client_order_id,
                order_id=entry.order_id,
                request_json=entry.request_json,
                status_code=entry.status_code,
                outcome=entry.outcome,
            )
            event.time.FromDatetime(entry.time)
            event.latency.FromMilliseconds(int(entry.latency_ms))
        if len(entries) > size:
            response.next_page_token = base64.urlsafe_b64encode(str(entries[size - 1].event_id).encode()).decode()
        return response

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


def _gtt_pb(account_id: str, row: dict[str, Any]) -> order_pb2.Gtt:
    condition = row.get("condition") or {}
    status = (
        order_pb2.GttStatus.Value(f"GTT_STATUS_{str(row.get('status', '')).upper()}")
        if (
            f"GTT_STATUS_{str(row.get('status', '')).upper()}" in order_pb2.GttStatus.keys()  # noqa: SIM118
        )
        else order_pb2.GTT_STATUS_UNSPECIFIED
    )
    gtt = order_pb2.Gtt(gtt_id=int(row.get("id") or 0), account_id=account_id, status=status)
    params = gtt.params
    params.type = order_pb2.GTT_TYPE_TWO_LEG if row.get("type") == "two-leg" else order_pb2.GTT_TYPE_SINGLE
    params.instrument.symbol = mapping.symbol(condition)
    params.last_price.CopyFrom(mapping.decimal_pb(condition.get("last_price")))
    params.trigger_values.extend(mapping.decimal_pb(v) for v in condition.get("trigger_values") or [])
    for order in row.get("orders") or []:
        leg = params.legs.add(
            transaction_type=mapping.transaction_pb(order.get("transaction_type")),
            quantity=int(order.get("quantity") or 0),
            product=mapping.product_pb(order.get("product")),
            price=mapping.decimal_pb(order.get("price")),
        )
        result = order.get("result")
        if result:
            outcome = result.get("order_result") or {}
            leg.result.order_id = str(outcome.get("order_id") or "")
            leg.result.status = str(outcome.get("status") or "")
            leg.result.rejection_reason = str(outcome.get("rejection_reason") or "")
            mapping.set_time(leg.result, "trigger_time", result.get("timestamp"))
    mapping.set_time(gtt, "create_time", row.get("created_at"))
    mapping.set_time(gtt, "update_time", row.get("updated_at"))
    mapping.set_time(gtt, "expire_time", row.get("expires_at"))
    return gtt
