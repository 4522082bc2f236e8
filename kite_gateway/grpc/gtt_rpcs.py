"""OrderService's GTT calls: PlaceGtt, ModifyGtt, DeleteGtt, ListGtts and GetGtt (validate, call
core/orders/gtt.py, map; every write audited)."""

from __future__ import annotations

import grpc
from kite_gateway_api.v1 import order_pb2

from kite_gateway.core.accounts import AccountManager
from kite_gateway.core.market import InstrumentMaster
from kite_gateway.core.orders import GttTriggers, check_client_order_id, fingerprint
from kite_gateway.grpc.context import audited
from kite_gateway.grpc.decimal_text import canonical
from kite_gateway.grpc.gtt_mapping import gtt_order, gtt_pb
from kite_gateway.kite import KiteCaller
from kite_gateway.storage import AuditLog
from kite_gateway.streaming import OrderUpdates


class GttRpcs:
    def __init__(
        self,
        accounts: AccountManager,
        master: InstrumentMaster,
        order_updates: OrderUpdates,
        gtts: GttTriggers,
        audit: AuditLog,
    ) -> None:
        self.accounts = accounts
        self.master = master
        self.order_updates = order_updates
        self.gtts = gtts
        self.audit = audit

    async def _writable(self, account_id: str) -> KiteCaller:
        """The account's Kite caller, with the instrument master loaded and its order updates recorded."""
        session = self.accounts.get(account_id)
        kite = session.active()
        await self.master.ensure(session)
        await self.order_updates.watch_once(session, self.master.symbols)
        return kite

    async def place(
        self, request: order_pb2.PlaceGttRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.PlaceGttResponse:
        async def place() -> order_pb2.PlaceGttResponse:
            check_client_order_id(request.client_order_id)
            self.gtts.admit(request.account_id)
            kite = await self._writable(request.account_id)
            order = gtt_order(request.params, self.master)
            gtt_id, replayed = await self.gtts.place(
                kite, request.client_order_id, fingerprint(canonical(request.params)), order
            )
            return order_pb2.PlaceGttResponse(gtt_id=gtt_id, replayed=replayed)

        return await audited(
            self.audit,
            context,
            order_pb2.AUDIT_ACTION_PLACE_GTT,
            request.account_id,
            request.client_order_id,
            request,
            place,
            lambda r: str(r.gtt_id),
        )

    async def modify(
        self, request: order_pb2.ModifyGttRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ModifyGttResponse:
        async def modify() -> order_pb2.ModifyGttResponse:
            self.gtts.admit(request.account_id)
            kite = await self._writable(request.account_id)
            await self.gtts.modify(kite, request.gtt_id, gtt_order(request.params, self.master))
            return order_pb2.ModifyGttResponse(gtt_id=request.gtt_id)

        return await audited(
            self.audit,
            context,
            order_pb2.AUDIT_ACTION_MODIFY_GTT,
            request.account_id,
            "",
            request,
            modify,
            lambda r: str(r.gtt_id),
        )

    async def delete(
        self, request: order_pb2.DeleteGttRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.DeleteGttResponse:
        async def delete() -> order_pb2.DeleteGttResponse:
            await self.gtts.delete(self.accounts.get(request.account_id).active(), request.gtt_id)
            return order_pb2.DeleteGttResponse(gtt_id=request.gtt_id)

        return await audited(
            self.audit,
            context,
            order_pb2.AUDIT_ACTION_DELETE_GTT,
            request.account_id,
            "",
            request,
            delete,
            lambda r: str(r.gtt_id),
        )

    async def list(self, request: order_pb2.ListGttsRequest) -> order_pb2.ListGttsResponse:
        rows = await self.gtts.list(self.accounts.get(request.account_id).active())
        gtts = [gtt_pb(request.account_id, row) for row in rows]
        wanted = set(request.statuses)
        return order_pb2.ListGttsResponse(gtts=[g for g in gtts if not wanted or g.status in wanted])

    async def get(self, request: order_pb2.GetGttRequest) -> order_pb2.GetGttResponse:
        row = await self.gtts.get(self.accounts.get(request.account_id).active(), request.gtt_id)
        return order_pb2.GetGttResponse(gtt=gtt_pb(request.account_id, row))
