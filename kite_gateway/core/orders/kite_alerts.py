"""Kite's own alerts for an account: created and modified with the kill switch checked (an ATO
alert places orders when it triggers), at once and again at the moment of sending; deleted,
listed and read freely. Kite evaluates the alerts; the gateway only manages them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kite_gateway.kite import AlertHistoryRow, AlertRow, AlertSpec, KiteAlerts, KiteCaller


class KiteAlertBook:
    def __init__(self, blocked: Callable[[str], None]) -> None:
        self._blocked = blocked  # raises while a kill switch blocks the account

    def admit(self, account_id: str) -> None:
        """Refuse at once while a kill switch blocks the account."""
        self._blocked(account_id)

    async def create(self, kite: KiteCaller, spec: AlertSpec) -> AlertRow:
        self._blocked(kite.account_id)
        return await KiteAlerts(kite).create_alert(spec, before_send=lambda: self._blocked(kite.account_id))

    async def modify(self, kite: KiteCaller, alert_uuid: str, spec: AlertSpec) -> AlertRow:
        self._blocked(kite.account_id)
        return await KiteAlerts(kite).modify_alert(alert_uuid, spec, before_send=lambda: self._blocked(kite.account_id))

    async def delete(self, kite: KiteCaller, alert_uuids: Sequence[str]) -> None:
        """Delete alerts (never blocked: it takes risk away)."""
        await KiteAlerts(kite).delete_alerts(alert_uuids)

    async def list_alerts(self, kite: KiteCaller, status: str, page: int, page_size: int) -> list[AlertRow]:
        return await KiteAlerts(kite).get_alerts(status, page, page_size)

    async def get(self, kite: KiteCaller, alert_uuid: str) -> AlertRow:
        return await KiteAlerts(kite).get_alert(alert_uuid)

    async def history(self, kite: KiteCaller, alert_uuid: str) -> list[AlertHistoryRow]:
        return await KiteAlerts(kite).get_alert_history(alert_uuid)
