"""Kite's orders, trades and portfolio endpoints, over the trading engine."""

from __future__ import annotations

from aiohttp import web

from kite_simulator.engine import TradingEngine, place_sliced, wants_autoslice
from kite_simulator.http.envelope import ok, read_form, session_of
from kite_simulator.sessions import App, SessionStore


class OrderRoutes:
    def __init__(self, engine: TradingEngine, sessions: SessionStore) -> None:
        self.engine = engine
        self.sessions = sessions

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/orders", self.orders),
            web.get("/orders/{order_id:[0-9]+}", self.order_history),
            web.get("/orders/{order_id:[0-9]+}/trades", self.order_trades),
            web.post("/orders/{variety}", self.place_order),
            web.put("/orders/{variety}/{order_id}", self.modify_order),
            web.delete("/orders/{variety}/{order_id}", self.cancel_order),
            web.get("/trades", self.trades),
            web.get("/portfolio/positions", self.positions),
            web.put("/portfolio/positions", self.positions),
            web.get("/portfolio/holdings", self.holdings),
        ]

    def _app(self, request: web.Request) -> App:
        return self.sessions.app_of(session_of(request).api_key)

    async def orders(self, request: web.Request) -> web.StreamResponse:
        return ok(self.engine.orders_json(session_of(request).user_id))

    async def order_history(self, request: web.Request) -> web.StreamResponse:
        return ok(self.engine.order_history(session_of(request).user_id, request.match_info["order_id"]))

    async def place_order(self, request: web.Request) -> web.StreamResponse:
        form = await read_form(request)
        if wants_autoslice(form):
            return ok(place_sliced(self.engine, self._app(request), session_of(request).user_id,
                                   request.match_info["variety"], form))  # fmt: skip
        order_id = self.engine.place(
            self._app(request), session_of(request).user_id, request.match_info["variety"], form
        )
        return ok({"order_id": order_id})

    async def modify_order(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        form = await read_form(request)
        return ok(
            {"order_id": self.engine.modify(session_of(request).user_id, info["variety"], info["order_id"], form)}
        )

    async def cancel_order(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        return ok({"order_id": self.engine.cancel(session_of(request).user_id, info["variety"], info["order_id"])})

    async def trades(self, request: web.Request) -> web.StreamResponse:
        return ok(self.engine.trades_json(session_of(request).user_id))

    async def order_trades(self, request: web.Request) -> web.StreamResponse:
        return ok(self.engine.trades_json(session_of(request).user_id, request.match_info["order_id"]))

    async def positions(self, request: web.Request) -> web.StreamResponse:
        if request.method == "PUT":
            self.engine.convert_position(session_of(request).user_id, await read_form(request))
            return ok(True)
        return ok(self.engine.positions_json(session_of(request).user_id))

    async def holdings(self, request: web.Request) -> web.StreamResponse:
        return ok(self.engine.holdings_json(session_of(request).user_id))
