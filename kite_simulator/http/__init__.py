"""Kite Connect's REST API over HTTP (aiohttp), by area: sessions and the user, orders and the
portfolio, market data, margins and charges, GTTs, alerts; the envelope, the request rules (version header,
auth, rate limits, faults) and durable writes around them; and `/_sim/...`, the simulator's own
control API (faults, clock, ticker drops), which is not part of Kite's.

Each route group receives the components it needs; `build_app` assembles them into one aiohttp
application (kite_simulator.app.Simulator decides which)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from aiohttp.typedefs import Middleware

from kite_simulator.http.alert_routes import AlertRoutes
from kite_simulator.http.control_routes import ControlRoutes
from kite_simulator.http.envelope import envelope
from kite_simulator.http.gtt_routes import GttRoutes
from kite_simulator.http.margin_routes import MarginRoutes
from kite_simulator.http.market_routes import MarketRoutes
from kite_simulator.http.order_routes import OrderRoutes
from kite_simulator.http.request_rules import KiteRequestRules, durable_writes
from kite_simulator.http.session_routes import SessionRoutes

__all__ = [
    "AlertRoutes",
    "ControlRoutes",
    "GttRoutes",
    "KiteRequestRules",
    "MarginRoutes",
    "MarketRoutes",
    "OrderRoutes",
    "SessionRoutes",
    "build_app",
]


def build_app(
    routes: Iterable[web.RouteDef],
    rules: KiteRequestRules,
    persist: Callable[[], Awaitable[None]] | None = None,
) -> web.Application:
    """One application: the envelope outside, the request rules, then (with `persist`) durable writes."""
    middlewares: list[Middleware] = [envelope, rules.__call__]
    if persist is not None:
        middlewares.append(durable_writes(persist))
    app = web.Application(middlewares=middlewares)
    app.add_routes(list(routes))
    return app
