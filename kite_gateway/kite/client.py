"""The official client with Kite's alerts endpoints added. pykiteconnect has no alerts (up to
v5.2.0; Zerodha: "available only through raw HTTP calls" for now), so they are methods here over
the client's own request machinery: the same headers, session, egress, timeouts and error
classes as every other call, and paths checked by kite/paths.py like the client's own."""

from __future__ import annotations

from typing import Any, ClassVar

from kiteconnect import KiteConnect

ALERT_ROUTES = {
    "alerts": "/alerts",
    "alerts.one": "/alerts/{alert_uuid}",
    "alerts.history": "/alerts/{alert_uuid}/history",
}


class GatewayKiteConnect(KiteConnect):  # type: ignore[misc]
    """KiteConnect plus create/get/modify/delete of alerts and their history."""

    _routes: ClassVar[dict[str, str]] = {**KiteConnect._routes, **ALERT_ROUTES}

    def create_alert(self, **form: Any) -> Any:
        """`POST /alerts` with the form fields as Kite names them (`basket` a JSON string)."""
        return self._post("alerts", params=form)

    def get_alerts(self, status: str | None = None, page: int | None = None, page_size: int | None = None) -> Any:
        query = {"status": status, "page": page, "page_size": page_size}
        return self._get("alerts", params={k: v for k, v in query.items() if v})

    def get_alert(self, alert_uuid: str) -> Any:
        return self._get("alerts.one", url_args={"alert_uuid": alert_uuid})

    def modify_alert(self, alert_uuid: str, **form: Any) -> Any:
        return self._put("alerts.one", url_args={"alert_uuid": alert_uuid}, params=form)

    def delete_alerts(self, alert_uuids: list[str]) -> Any:
        """`DELETE /alerts?uuid=U1&uuid=U2` (requests repeats a list's key)."""
        return self._delete("alerts", params={"uuid": list(alert_uuids)})

    def get_alert_history(self, alert_uuid: str) -> Any:
        return self._get("alerts.history", url_args={"alert_uuid": alert_uuid})
