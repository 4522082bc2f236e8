"""Kite's alerts endpoints (`/alerts`): create, list, read, modify, delete and trigger history."""

from __future__ import annotations

from aiohttp import web

from kite_simulator.alerts import AlertBook
from kite_simulator.http.envelope import ok, read_form, session_of
from kite_simulator.sessions import SessionStore


class AlertRoutes:
    def __init__(self, alerts: AlertBook, sessions: SessionStore) -> None:
        self.alerts = alerts
        self.sessions = sessions

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/alerts", self.collection),
            web.post("/alerts", self.collection),
            web.delete("/alerts", self.collection),
            web.get("/alerts/{uuid}", self.one),
            web.put("/alerts/{uuid}", self.one),
            web.get("/alerts/{uuid}/history", self.history),
        ]

    async def collection(self, request: web.Request) -> web.StreamResponse:
        session = session_of(request)
        if request.method == "POST":
            app = self.sessions.app_of(session.api_key)
            return ok(self.alerts.create(app, session.user_id, await read_form(request)).to_json())
        if request.method == "DELETE":
            self.alerts.delete(session.user_id, request.query.getall("uuid", []))
            return ok(None)
        q = request.query
        return ok(self.alerts.listed(session.user_id, q.get("status", ""), q.get("page", ""), q.get("page_size", "")))

    async def one(self, request: web.Request) -> web.StreamResponse:
        user_id, alert_uuid = session_of(request).user_id, request.match_info["uuid"]
        if request.method == "PUT":
            return ok(self.alerts.modify(user_id, alert_uuid, await read_form(request)).to_json())
        return ok(self.alerts.get(user_id, alert_uuid).to_json())

    async def history(self, request: web.Request) -> web.StreamResponse:
        return ok(self.alerts.history(session_of(request).user_id, request.match_info["uuid"]))
