"""OrderService's Kite alert calls: CreateKiteAlert, ModifyKiteAlert, DeleteKiteAlerts,
ListKiteAlerts, GetKiteAlert and GetKiteAlertHistory (validate, call core/orders/kite_alerts.py,
map; every write audited)."""

from __future__ import annotations

import grpc
from kite_gateway_api.v1 import order_pb2

from kite_gateway.core.accounts import AccountManager
from kite_gateway.core.market import InstrumentMaster
from kite_gateway.core.orders import KiteAlertBook
from kite_gateway.errors import invalid
from kite_gateway.grpc.context import audited
from kite_gateway.grpc.kite_alert_mapping import alert_pb, alert_spec, status_text, trigger_pb
from kite_gateway.kite import KiteCaller
from kite_gateway.storage import AuditLog


class KiteAlertRpcs:
    def __init__(
        self, accounts: AccountManager, master: InstrumentMaster, alerts: KiteAlertBook, audit: AuditLog
    ) -> None:
        self.accounts = accounts
        self.master = master
        self.alerts = alerts
        self.audit = audit

    async def _with_master(self, account_id: str) -> KiteCaller:
        """The account's Kite caller, with the instrument master loaded (to resolve instruments)."""
        session = self.accounts.get(account_id)
        await self.master.ensure(session)
        return session.active()

    def _kite(self, account_id: str) -> KiteCaller:
        return self.accounts.get(account_id).active()

    async def create(
        self, request: order_pb2.CreateKiteAlertRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.CreateKiteAlertResponse:
        async def create() -> order_pb2.CreateKiteAlertResponse:
            self.alerts.admit(request.account_id)
            kite = await self._with_master(request.account_id)
            row = await self.alerts.create(kite, alert_spec(request.params, self.master))
            return order_pb2.CreateKiteAlertResponse(alert=alert_pb(request.account_id, row))

        return await audited(self.audit, context, order_pb2.AUDIT_ACTION_CREATE_KITE_ALERT, request.account_id, "",
                             request, create, lambda r: r.alert.alert_id)  # fmt: skip

    async def modify(
        self, request: order_pb2.ModifyKiteAlertRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ModifyKiteAlertResponse:
        async def modify() -> order_pb2.ModifyKiteAlertResponse:
            self.alerts.admit(request.account_id)
            kite = await self._with_master(request.account_id)
            spec = alert_spec(request.params, self.master)
            row = await self.alerts.modify(kite, request.alert_id, spec)
            return order_pb2.ModifyKiteAlertResponse(alert=alert_pb(request.account_id, row))

        return await audited(self.audit, context, order_pb2.AUDIT_ACTION_MODIFY_KITE_ALERT, request.account_id, "",
                             request, modify, lambda r: r.alert.alert_id)  # fmt: skip

    async def delete(
        self, request: order_pb2.DeleteKiteAlertsRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.DeleteKiteAlertsResponse:
        async def delete() -> order_pb2.DeleteKiteAlertsResponse:
            if not request.alert_ids:
                raise invalid("alert_ids", "required: at least one alert id from CreateKiteAlert or ListKiteAlerts")
            await self.alerts.delete(self._kite(request.account_id), list(request.alert_ids))
            return order_pb2.DeleteKiteAlertsResponse(alert_ids=request.alert_ids)

        return await audited(self.audit, context, order_pb2.AUDIT_ACTION_DELETE_KITE_ALERTS, request.account_id, "",
                             request, delete, lambda r: ",".join(r.alert_ids))  # fmt: skip

    async def list(self, request: order_pb2.ListKiteAlertsRequest) -> order_pb2.ListKiteAlertsResponse:
        if request.page < 0 or request.page_size < 0:
            raise invalid("page" if request.page < 0 else "page_size", "must not be negative")
        rows = await self.alerts.list_alerts(
            self._kite(request.account_id), status_text(request.status), request.page, request.page_size
        )
        return order_pb2.ListKiteAlertsResponse(alerts=[alert_pb(request.account_id, row) for row in rows])

    async def get(self, request: order_pb2.GetKiteAlertRequest) -> order_pb2.GetKiteAlertResponse:
        row = await self.alerts.get(self._kite(request.account_id), request.alert_id)
        return order_pb2.GetKiteAlertResponse(alert=alert_pb(request.account_id, row))

    async def history(self, request: order_pb2.GetKiteAlertHistoryRequest) -> order_pb2.GetKiteAlertHistoryResponse:
        rows = await self.alerts.history(self._kite(request.account_id), request.alert_id)
        return order_pb2.GetKiteAlertHistoryResponse(triggers=[trigger_pb(row) for row in rows])
