"""OrderService: orders, trades, previews, GTT triggers, bulk placement and the audit trail."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

import grpc
import structlog
from kite_gateway_api.v1 import errors_pb2, order_pb2, order_pb2_grpc

from kite_gateway.auth.principals import current_principal, denied
from kite_gateway.core.accounts.session import AccountSession
from kite_gateway.core.orders.admission import admission
from kite_gateway.core.orders.kill_switch_actions import cancel_open_orders, kill_switch_pb
from kite_gateway.core.orders.placement import find_order_by_tag, submit_order
from kite_gateway.core.orders.validation import check_client_order_id, fingerprint, order_kwargs
from kite_gateway.core.risk.kill_switch import GATEWAY
from kite_gateway.errors import GatewayError, Reason, Status, invalid
from kite_gateway.grpc import mapping
from kite_gateway.grpc.audit_rpcs import AuditRpcs
from kite_gateway.grpc.context import audited, principal_of
from kite_gateway.grpc.gtt_rpcs import GttRpcs
from kite_gateway.grpc.order_update_rpcs import OrderUpdateRpcs
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.limits import EndpointClass
from kite_gateway.storage.idempotency import PENDING

if TYPE_CHECKING:
    from kite_gateway.app import Runtime

log = structlog.get_logger(__name__)
MAX_PREVIEW_ORDERS = 200
MAX_BULK_LEGS = 500


class OrderServicer(order_pb2_grpc.OrderServiceServicer):
    def __init__(
        self, runtime: Runtime, *, gtts: GttRpcs, order_update_rpcs: OrderUpdateRpcs, audit_events: AuditRpcs
    ) -> None:
        self.runtime = runtime
        self.gtts = gtts
        self.order_update_rpcs = order_update_rpcs
        self.audit_events = audit_events
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
        listing = self.master.resolve(params.instrument, f"{field}params.instrument")
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
            listing = self.master.resolve(fill.instrument, f"fills[{i}].instrument")
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
