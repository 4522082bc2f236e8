"""Kite's GTT (good till triggered) endpoints."""

from __future__ import annotations

from aiohttp import web

from kite_simulator.errors import input_error
from kite_simulator.gtt import GttBook
from kite_simulator.http.envelope import ok, read_form, session_of
from kite_simulator.sessions import SessionStore


class GttRoutes:
    def __init__(self, gtts: GttBook, sessions: SessionStore) -> None:
        self.gtts = gtts
        self.sessions = sessions

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/gtt/triggers", self.gtt_triggers),
            web.post("/gtt/triggers", self.gtt_triggers),
            web.get("/gtt/triggers/{trigger_id}", self.gtt_trigger),
            web.put("/gtt/triggers/{trigger_id}", self.gtt_trigger),
            web.delete("/gtt/triggers/{trigger_id}", self.gtt_trigger),
        ]

    @staticmethod
    def _gtt_id(request: web.Request) -> int:
        raw = request.match_info["trigger_id"]
        if not raw.isdigit():
            raise input_error("Invalid trigger id.")
        return int(raw)

    async def gtt_triggers(self, request: web.Request) -> web.StreamResponse:
        user_id = session_of(request).user_id
        if request.method == "POST":
            return ok(
                {
                    "trigger_id": self.gtts.place(
                        self.sessions.app_of(session_of(request).api_key), user_id, await read_form(request)
                    )
                }
            )
        return ok(self.gtts.list(user_id))

    async def gtt_trigger(self, request: web.Request) -> web.StreamResponse:
        user_id, gtt_id = session_of(request).user_id, self._gtt_id(request)
        if request.method == "PUT":
            return ok({"trigger_id": self.gtts.modify(user_id, gtt_id, await read_form(request))})
        if request.method == "DELETE":
            return ok({"trigger_id": self.gtts.delete(user_id, gtt_id)})
        return ok(self.gtts.get(user_id, gtt_id).to_json())
