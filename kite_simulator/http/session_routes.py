"""Kite's login page, the session token exchange and logout, the user's profile and margins."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from kite_simulator.engine import TradingEngine
from kite_simulator.errors import KiteError, input_error
from kite_simulator.http.envelope import ok, read_form, session_of
from kite_simulator.sessions import Session, SessionStore
from kite_wire import kite_timestamp


class SessionRoutes:
    def __init__(self, sessions: SessionStore, engine: TradingEngine) -> None:
        self.sessions = sessions
        self.engine = engine

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/connect/login", self.login_page),
            web.post("/connect/login", self.login_page),
            web.post("/session/token", self.session_token),
            web.delete("/session/token", self.session_token),
            web.post("/session/refresh_token", self.refresh_token),
            web.get("/user/profile", self.profile),
            web.get("/user/margins", self.user_margins),
            web.get("/user/margins/{segment}", self.user_margins),
        ]

    async def login_page(self, request: web.Request) -> web.StreamResponse:
        """Kite's login page. `user_id` (and `password`) in the query log in at once (for scripts)."""
        query = request.query
        api_key = query.get("api_key", "")
        if api_key not in self.sessions.apps:
            return web.Response(status=400, text="Invalid api_key", content_type="text/plain")
        params = await request.post() if request.method == "POST" else query
        user_id = str(params.get("user_id", ""))
        if user_id:
            try:
                token = self.sessions.login(api_key, user_id, str(params.get("password", "")) or None)
            except KiteError as exc:
                return web.Response(status=400, text=exc.message, content_type="text/plain")
            app = self.sessions.apps[api_key]
            extra = parse_qsl(query.get("redirect_params", ""))
            target = urlencode(
                [("action", "login"), ("type", "login"), ("status", "success"), ("request_token", token), *extra]
            )
            raise web.HTTPFound(f"{app.redirect_url}{'&' if '?' in app.redirect_url else '?'}{target}")
        users = "".join(
            f'<option value="{html.escape(u.user_id)}">{html.escape(u.user_id)} ({html.escape(u.user_name)})</option>'
            for u in self.sessions.users.values()
        )
        page = (
            "<!doctype html><title>Kite simulator login</title><h1>Kite simulator</h1>"
            f'<form method="post"><select name="user_id">{users}</select>'
            '<input name="password" type="password" placeholder="password"><button>Login</button></form>'
        )
        return web.Response(text=page, content_type="text/html")

    def _session_json(self, session: Session) -> dict[str, Any]:
        return {
            **self._profile_json(session),
            "avatar_url": "",  # generate_session.json has a string here where profile.json has null
            "api_key": session.api_key,
            "access_token": session.access_token,
            "public_token": session.public_token,
            "enctoken": "",
            "refresh_token": "",
            "silo": "",
            "login_time": kite_timestamp(session.login_time),
        }

    async def session_token(self, request: web.Request) -> web.StreamResponse:
        form = await read_form(request)
        if request.method == "DELETE":
            self.sessions.invalidate(form.get("api_key", ""), form.get("access_token", ""))
            return ok(True)
        exchanged = self.sessions.exchange(
            form.get("api_key", ""), form.get("request_token", ""), form.get("checksum", "")
        )
        return ok(self._session_json(exchanged))

    async def refresh_token(self, request: web.Request) -> web.StreamResponse:
        raise KiteError("PermissionException", "Refresh tokens are issued only to approved platforms.", 403)

    def _profile_json(self, session: Session) -> dict[str, Any]:
        user = self.sessions.users[session.user_id]
        return {
            "user_id": user.user_id,
            "user_type": "individual",
            "email": user.email,
            "user_name": user.user_name,
            "user_shortname": user.shortname,
            "broker": "ZERODHA",
            "exchanges": list(user.exchanges),
            "products": list(user.products),
            "order_types": list(user.order_types),
            "avatar_url": None,  # Kite sends null for an account without a picture
            "meta": {"demat_consent": "physical"},
        }

    async def profile(self, request: web.Request) -> web.StreamResponse:
        return ok(self._profile_json(session_of(request)))

    async def user_margins(self, request: web.Request) -> web.StreamResponse:
        segment = request.match_info.get("segment")
        if segment not in (None, "equity", "commodity"):
            raise input_error("Invalid segment: equity or commodity.")
        return ok(self.engine.margins_json(session_of(request).user_id, segment))
