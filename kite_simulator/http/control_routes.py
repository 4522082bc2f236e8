"""The simulator's own control API under `/_sim` (not Kite's): faults, the clock, ticker drops."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from kite_simulator.clock import Clock
from kite_simulator.errors import input_error
from kite_simulator.faults import Fault, FaultInjector
from kite_simulator.http.envelope import ok
from kite_simulator.ticker import TickerHub
from kite_wire import kite_timestamp


class ControlRoutes:
    def __init__(
        self, faults: FaultInjector, clock: Clock, advance: Callable[[float], None], ticker: TickerHub
    ) -> None:
        self.faults = faults
        self.clock = clock
        self.advance = advance
        self.ticker = ticker

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/_sim/faults", self.control_faults),
            web.delete("/_sim/faults", self.control_faults),
            web.get("/_sim/clock", self.control_clock),
            web.post("/_sim/clock", self.control_clock),
            web.post("/_sim/ticker/drop", self.control_ticker_drop),
        ]

    async def control_faults(self, request: web.Request) -> web.StreamResponse:
        if request.method == "DELETE":
            self.faults.clear()
            return ok(True)
        try:
            fault = self.faults.add(Fault(**await request.json()))
        except (TypeError, ValueError) as exc:
            raise input_error(f"Invalid fault: {exc}. Fields: method, path, action, times, seconds, http_status, "
                              "error_type, message.") from None  # fmt: skip
        return ok(
            {
                "rules": len(self.faults.rules),
                "fault": {k: v for k, v in fault.__dict__.items() if not k.startswith("_")},
            }
        )

    async def control_clock(self, request: web.Request) -> web.StreamResponse:
        if request.method == "POST":
            body = await request.json()
            self.advance(float(body.get("seconds", 0)))
        now = self.clock.now()
        return ok({"now": now.isoformat(), "ist": kite_timestamp(now)})

    async def control_ticker_drop(self, request: web.Request) -> web.StreamResponse:
        user_id = request.query.get("user_id")
        return ok({"dropped": self.ticker.drop(user_id)})
