"""OrderService: orders, trades, previews, GTT triggers, bulk placement and the audit trail."""

from __future__ import annotations

import asyncio
import base64
import functools
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC
from typing import TYPE_CHECKING, Any, TypeVar, cast

import grpc
import structlog
from kite_gateway_api.v1 import common_pb2, errors_pb2, order_pb2, order_pb2_grpc

from kite_gateway.auth.principals import current_principal, denied
from kite_gateway.core.accounts.session import AccountSession
from kite_gateway.core.orders.admission import admission
from kite_gateway.core.orders.kill_switch_actions import cancel_open_orders, kill_switch_pb
from kite_gateway.core.orders.placement import find_order_by_tag, submit_order
from kite_gateway.core.orders.validation import check_client_order_id, fingerprint, order_kwargs
from kite_gateway.core.risk.kill_switch import GATEWAY
from kite_gateway.errors import GatewayError, Reason, Status, invalid
from kite_gateway.grpc import mapping
from kite_gateway.grpc.context import audited, principal_of
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.limits import EndpointClass
from kite_gateway.storage.idempotency import PENDING, Record
from kite_gateway.streaming.order_streams import DUPLICATE

if TYPE_CHECKING:
    from kite_gateway.app import Runtime

log = structlog.get_logger(__name__)
T = TypeVar("T")
MAX_PREVIEW_ORDERS = 200
MAX_BULK_LEGS = 500
MAX_EVENT_ID = 2**63 - 1  # SQLite's largest integer


class OrderServicer(order_pb2_grpc.OrderServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.accounts = runtime.accounts
        self.master = runtime.instruments

    async def _session(self, account_id: str) -> tuple[AccountSession, KiteCaller]:
        """The account's session and Kite caller; its order updates are being recorded from here on."""
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
    ) -> order_pb2.PlaceOrderResponse:
        check_client_order_id(client_order_id, f"{field}client_order_id")
        _session, kite = await self._session(account_id)
        kwargs = order_kwargs(params, self.master, self.runtime.settings.gateway_market_protection, f"{field}params")
        listing = self.master.resolve(mapping.instrument_ref(params.instrument), f"{field}params.instrument")
        self.runtime.risk.kill_switches.check(account_id)  # refused at once; checked again when it is sent
        order_id, replayed = await self.runtime.placement.place(
            kite,
            client_order_id,
            "order",
            fingerprint(params),
            submit_order(kwargs),
            check=admission(self.runtime.risk, self.runtime.last_prices, kite, kwargs, listing),
            deadline=self._deadline(context),
        )
        return order_pb2.PlaceOrderResponse(order_id=order_id, client_order_id=client_order_id, replayed=replayed)

    def _deadline(self, context: grpc.aio.ServicerContext) -> float | None:
        """The caller's deadline on the order dispatch clock (None: it set none)."""
        remaining = context.time_remaining()
        return None if remaining is None else self.runtime.dispatch.clock() + remaining

    async def PlaceOrder(
        self, request: order_pb2.PlaceOrderRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.PlaceOrderResponse:
        return await audited(
            self.runtime.audit,
            context,
            order_pb2.AUDIT_ACTION_PLACE_ORDER,
            request.account_id,
            request.client_order_id,
            request,
            lambda: self._place(request.account_id, request.client_order_id, request.params, "", context),
            lambda r: r.order_id,
        )

    async def PlaceBulkOrders(
        self, request: order_pb2.PlaceBulkOrdersRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.PlaceBulkOrdersResponse:
        if not 1 <= len(request.legs) <= MAX_BULK_LEGS:
            raise invalid("legs", f"1 to {MAX_BULK_LEGS} legs")
        seen: set[tuple[str, str]] = set()
        for i, leg in enumerate(request.legs):
            key = (leg.account_id, leg.client_order_id)
            if key in seen:
                raise invalid(
                    f"legs[{i}].client_order_id", f"{leg.client_order_id!r} appears twice for {leg.account_id}"
                )
            seen.add(key)

        async def one(i: int, leg: order_pb2.BulkOrderLeg) -> order_pb2.BulkOrderLegResult:
            result = order_pb2.BulkOrderLegResult(account_id=leg.account_id, client_order_id=leg.client_order_id)
            try:
                placed = await audited(
                    self.runtime.audit,
                    context,
                    order_pb2.AUDIT_ACTION_PLACE_ORDER,
                    leg.account_id,
                    leg.client_order_id,
                    leg,
                    lambda: self._place(leg.account_id, leg.client_order_id, leg.params, f"legs[{i}].", context),
                    lambda r: r.order_id,
                )
                result.placed.CopyFrom(placed)
            except GatewayError as exc:
                result.failure.CopyFrom(
                    errors_pb2.Failure(
                        code=int(exc.code),
                        reason=cast(Any, exc.reason),
                        message=exc.message,
                        metadata=exc.metadata,
                    )
                )
            return result

        results = await asyncio.gather(*(one(i, leg) for i, leg in enumerate(request.legs)))
        return order_pb2.PlaceBulkOrdersResponse(results=results)

    # Existing orders --------------------------------------------------------------------------

    async def _order_id(self, kite: KiteCaller, target: order_pb2.OrderTarget, field: str = "order") -> str:
        kind = target.WhichOneof("target")
        if kind == "order_id" and target.order_id:
            return target.order_id
        if kind != "client_order_id" or not target.client_order_id:
            raise invalid(field, "required: order_id or client_order_id")
        record = await self.runtime.idempotency.get(kite.account_id, target.client_order_id)
        if record is None:
            raise self._not_found(kite.account_id, f"client_order_id {target.client_order_id!r}")
        if record.order_id:
            return record.order_id
        if record.state == PENDING:
            found = await find_order_by_tag(kite, record)
            if found:
                return str(found[0]["order_id"])
        raise self._not_found(kite.account_id, f"client_order_id {target.client_order_id!r} (never placed at Kite)")

    @staticmethod
    def _not_found(account_id: str, what: str) -> GatewayError:
        return GatewayError(
            Status.NOT_FOUND,
            Reason.ORDER_NOT_FOUND,
            f"no order for {what} on account {account_id}",
            {"account_id": account_id},
        )

    async def _of_order(self, kite: KiteCaller, method: str, order_id: str) -> list[dict[str, Any]]:
        """Kite's rows of one order (its history or its trades). Kite refuses an id that is not one
        of the account's orders; whether it is unknown or another account's, the answer is the same
        NOT_FOUND, which tells nothing of orders elsewhere."""
        try:
            rows: list[dict[str, Any]] = await kite.read(EndpointClass.OTHER, method, order_id)
        except GatewayError as exc:
            if exc.code in (Status.INVALID_ARGUMENT, Status.NOT_FOUND):
                raise self._not_found(kite.account_id, f"order_id {order_id}") from None
            raise
        return rows

    async def _history(self, kite: KiteCaller, order_id: str) -> list[dict[str, Any]]:
        return await self._of_order(kite, "order_history", order_id)

    async def ModifyOrder(
        self, request: order_pb2.ModifyOrderRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ModifyOrderResponse:
        async def modify() -> order_pb2.ModifyOrderResponse:
            self.runtime.risk.kill_switches.check(request.account_id)
            _session, kite = await self._session(request.account_id)
            order_id = await self._order_id(kite, request.order)
            last = (await self._history(kite, order_id))[-1]
            listing = self.master.by_token.get(int(last.get("instrument_token") or 0))
            changes: dict[str, Any] = {}
            if request.HasField("quantity"):
                if request.quantity <= 0 or (listing and request.quantity % max(listing.lot_size, 1)):
                    raise invalid("quantity", "must be a positive multiple of the lot size")
                changes["quantity"] = request.quantity
            for name in ("price", "trigger_price"):
                if request.HasField(name):
                    value = mapping.from_decimal_pb(getattr(request, name), name)
                    if value <= 0 or (listing and listing.tick_size and value % listing.tick_size):
                        raise invalid(
                            name, f"must be a positive multiple of the tick size {listing and listing.tick_size}"
                        )
                    changes[name] = mapping.kite_number(value)
            if request.order_type:
                changes["order_type"] = mapping.order_type_text(request.order_type, "order_type")
            if request.validity:
                changes["validity"] = mapping.validity_text(request.validity)
            if request.HasField("disclosed_quantity"):
                changes["disclosed_quantity"] = request.disclosed_quantity
            if not changes:
                raise invalid("order", "nothing to modify: set quantity, price, trigger_price, order_type or validity")
            self.runtime.risk.check_modification(
                request.account_id,
                int(changes.get("quantity") or last.get("quantity") or 0),
                mapping.exact(changes.get("price") or changes.get("trigger_price") or last.get("price") or 0),
            )
            blocked = functools.partial(self.runtime.risk.kill_switches.check, request.account_id)
            await kite.change(
                EndpointClass.ORDERS, "modify_order", last["variety"], order_id, before_send=blocked, **changes
            )
            return order_pb2.ModifyOrderResponse(order_id=order_id)

        return await audited(
            self.runtime.audit,
            context,
            order_pb2.AUDIT_ACTION_MODIFY_ORDER,
            request.account_id,
            request.order.client_order_id,
            request,
            modify,
            lambda r: r.order_id,
            request.order.order_id,
        )

    async def CancelOrder(
        self, request: order_pb2.CancelOrderRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.CancelOrderResponse:
        async def cancel() -> order_pb2.CancelOrderResponse:
            _session, kite = await self._session(request.account_id)
            order_id = await self._order_id(kite, request.order)
            last = (await self._history(kite, order_id))[-1]
            if last.get("status") in ("COMPLETE", "CANCELLED", "REJECTED"):
                raise GatewayError(
                    Status.FAILED_PRECONDITION,
                    Reason.KITE_ORDER_REJECTED,
                    f"order {order_id} is already {last['status']} and cannot be cancelled",
                    {"account_id": request.account_id, "order_id": order_id, "status": str(last["status"])},
                )
            parent = last.get("parent_order_id")
            await kite.change(
                EndpointClass.ORDERS, "cancel_order", last["variety"], order_id, parent_order_id=parent or None
            )
            return order_pb2.CancelOrderResponse(order_id=order_id)

        return await audited(
            self.runtime.audit,
            context,
            order_pb2.AUDIT_ACTION_CANCEL_ORDER,
            request.account_id,
            request.order.client_order_id,
            request,
            cancel,
            lambda r: r.order_id,
            request.order.order_id,
        )

    async def ListOrders(
        self, request: order_pb2.ListOrdersRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ListOrdersResponse:
        kite = self.accounts.get(request.account_id).active()
        rows = await kite.read(EndpointClass.OTHER, "orders")
        await self.runtime.duplicates.scan(kite, rows)
        ids = await self.runtime.idempotency.client_ids_by_tag(request.account_id)
        wanted = set(request.statuses)
        orders = [
            mapping.order_pb(request.account_id, row, ids.get(row.get("tag") or "", "")) for row in reversed(rows)
        ]
        return order_pb2.ListOrdersResponse(orders=[o for o in orders if not wanted or o.status in wanted])

    async def GetOrderHistory(
        self, request: order_pb2.GetOrderHistoryRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.GetOrderHistoryResponse:
        kite = self.accounts.get(request.account_id).active()
        order_id = await self._order_id(kite, request.order)
        ids = await self.runtime.idempotency.client_ids_by_tag(request.account_id)
        states = [
            mapping.order_pb(request.account_id, row, ids.get(row.get("tag") or "", ""))
            for row in await self._history(kite, order_id)
        ]
        return order_pb2.GetOrderHistoryResponse(states=states)

    async def ListTrades(
        self, request: order_pb2.ListTradesRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ListTradesResponse:
        kite = self.accounts.get(request.account_id).active()
        if request.HasField("order"):
            rows = await self._of_order(kite, "order_trades", await self._order_id(kite, request.order))
        else:
            rows = await kite.read(EndpointClass.OTHER, "trades")
        return order_pb2.ListTradesResponse(trades=[mapping.trade_pb(request.account_id, row) for row in rows])

    # Previews ---------------------------------------------------------------------------------

    def _preview_rows(self, orders: Any, field: str) -> list[dict[str, Any]]:
        if not 1 <= len(orders) <= MAX_PREVIEW_ORDERS:
            raise invalid(field, f"1 to {MAX_PREVIEW_ORDERS} orders")
        rows = []
        for i, params in enumerate(orders):
            kwargs = order_kwargs(params, self.master, self.runtime.settings.gateway_market_protection, f"{field}[{i}]")
            rows.append(
                {
                    k: kwargs.get(k, 0)
                    for k in (
                        "exchange",
                        "tradingsymbol",
                        "transaction_type",
                        "variety",
                        "product",
                        "order_type",
                        "quantity",
                        "price",
                        "trigger_price",
                    )
                }
            )
        return rows

    async def GetOrderMargins(
        self, request: order_pb2.GetOrderMarginsRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.GetOrderMarginsResponse:
        _session, kite = await self._session(request.account_id)
        rows = self._preview_rows(request.orders, "orders")
        each = await kite.read(EndpointClass.OTHER, "order_margins", rows)
        basket = await kite.read(EndpointClass.OTHER, "basket_order_margins", rows, request.consider_positions)
        return order_pb2.GetOrderMarginsResponse(
            orders=[
                order_pb2.OrderMargin(
                    symbol=mapping.symbol(m), margin=_breakdown(m), charges=_charges(m.get("charges") or {})
                )
                for m in each
            ],
            basket_initial=_breakdown(basket.get("initial") or {}),
            basket_final=_breakdown(basket.get("final") or {}),
        )

    async def GetOrderCharges(
        self, request: order_pb2.GetOrderChargesRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.GetOrderChargesResponse:
        _session, kite = await self._session(request.account_id)
        if not 1 <= len(request.fills) <= MAX_PREVIEW_ORDERS:
            raise invalid("fills", f"1 to {MAX_PREVIEW_ORDERS} fills")
        rows = []
        for i, fill in enumerate(request.fills):
            listing = self.master.resolve(mapping.instrument_ref(fill.instrument), f"fills[{i}].instrument")
            price = mapping.from_decimal_pb(fill.average_price, f"fills[{i}].average_price")
            if price <= 0 or fill.quantity <= 0:
                raise invalid(f"fills[{i}]", "quantity and average_price must be positive")
            rows.append(
                {
                    "order_id": fill.order_id or str(i),
                    "exchange": listing.exchange,
                    "tradingsymbol": listing.tradingsymbol,
                    "transaction_type": mapping.transaction_text(fill.transaction_type, f"fills[{i}].transaction_type"),
                    "variety": mapping.variety_text(fill.variety or 1, f"fills[{i}].variety"),
                    "product": mapping.product_text(fill.product, f"fills[{i}].product"),
                    "order_type": mapping.order_type_text(fill.order_type or 1, f"fills[{i}].order_type"),
                    "quantity": fill.quantity,
                    "average_price": mapping.kite_number(price),
                }
            )
        notes = await kite.read(EndpointClass.OTHER, "get_virtual_contract_note", rows)
        return order_pb2.GetOrderChargesResponse(
            fills=[
                order_pb2.FillCharges(
                    order_id=str(row["order_id"]),
                    symbol=mapping.symbol(note),
                    charges=_charges(note.get("charges") or {}),
                )
                for row, note in zip(rows, notes, strict=False)
            ]
        )

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
                return str((await kite.write(EndpointClass.OTHER, "place_gtt", **args))["trigger_id"])

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
        caller = current_principal.get()
        if (not request.engaged or not request.account_id) and caller is not None and not caller.admin:
            what = "releasing a kill switch" if not request.engaged else "the gateway-wide kill switch"
            raise denied(caller, f"{what} needs an admin principal; {caller.name!r} is not one")
        if request.engaged and not request.reason.strip():
            raise invalid("reason", "say why the kill switch is engaged (it is shown to every refused caller)")
        if request.account_id:
            self.accounts.get(request.account_id)  # NOT_FOUND for an unknown account

        async def set_switch() -> order_pb2.SetKillSwitchResponse:
            switches = self.runtime.risk.kill_switches
            state = await switches.set(request.account_id, request.engaged, request.reason, principal_of(context))
            log.warning(
                "risk.kill_switch",
                account_id=request.account_id or "gateway",
                engaged=request.engaged,
                reason=request.reason,
                principal=state.principal,
            )
            response = order_pb2.SetKillSwitchResponse(kill_switch=kill_switch_pb(state))
            if request.engaged and request.cancel_open_orders:
                ids = [request.account_id] if request.account_id else [s.account_id for s in self.accounts.all()]
                for account_id in ids:
                    response.cancellations.extend(await cancel_open_orders(self.accounts.get(account_id).active()))
            return response

        return await audited(
            self.runtime.audit,
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
        self.accounts.get(request.account_id)
        switches = self.runtime.risk.kill_switches
        return order_pb2.GetKillSwitchResponse(
            account=kill_switch_pb(switches.state(request.account_id)), gateway=kill_switch_pb(switches.state(GATEWAY))
        )


def _breakdown(row: dict[str, Any]) -> order_pb2.MarginBreakdown:
    pnl = row.get("pnl") or {}
    return order_pb2.MarginBreakdown(
        span=mapping.decimal_pb(row.get("span")),
        exposure=mapping.decimal_pb(row.get("exposure")),
        option_premium=mapping.decimal_pb(row.get("option_premium")),
        additional=mapping.decimal_pb(row.get("additional")),
        bo=mapping.decimal_pb(row.get("bo")),
        cash=mapping.decimal_pb(row.get("cash")),
        var=mapping.decimal_pb(row.get("var")),
        pnl_realised=mapping.decimal_pb(pnl.get("realised")),
        pnl_unrealised=mapping.decimal_pb(pnl.get("unrealised")),
        leverage=mapping.decimal_pb(row.get("leverage")),
        total=mapping.decimal_pb(row.get("total")),
    )


def _charges(row: dict[str, Any]) -> order_pb2.Charges:
    gst = row.get("gst") or {}
    return order_pb2.Charges(
        transaction_tax=mapping.decimal_pb(row.get("transaction_tax")),
        transaction_tax_type=row.get("transaction_tax_type") or "",
        exchange_turnover_charge=mapping.decimal_pb(row.get("exchange_turnover_charge")),
        sebi_turnover_charge=mapping.decimal_pb(row.get("sebi_turnover_charge")),
        brokerage=mapping.decimal_pb(row.get("brokerage")),
        stamp_duty=mapping.decimal_pb(row.get("stamp_duty")),
        gst=mapping.decimal_pb(gst.get("total")),
        total=mapping.decimal_pb(row.get("total")),
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
