"""The Kite Connect simulator: one loopback HTTP server carrying Kite's REST API, its login page
and its WebSocket ticker, over a seeded market and a matching engine."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from aiohttp import web

from kite_simulator import snapshot
from kite_simulator.alerts import AlertBook
from kite_simulator.clock import Clock, ManualClock, ScaledClock
from kite_simulator.engine import TradingEngine
from kite_simulator.faults import FaultInjector
from kite_simulator.gtt import GttBook
from kite_simulator.http import (
    AlertRoutes,
    ControlRoutes,
    GttRoutes,
    KiteRequestRules,
    MarginRoutes,
    MarketRoutes,
    OrderRoutes,
    SessionRoutes,
    build_app,
)
from kite_simulator.market import MarketModel
from kite_simulator.postbacks import PostbackSender
from kite_simulator.ratelimit import OrderCaps, OrderLimits, RateLimiter
from kite_simulator.replay import ReplayMarket, first_frame_time
from kite_simulator.sessions import App, SessionStore, User
from kite_simulator.state_file import StateSaver, read_state
from kite_simulator.ticker import TickerHub
from kite_simulator.universe import build_universe
from kite_wire import IST, MarketHours, Recording

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoUser:
    """A user the simulator starts with: funds and holdings."""

    user_id: str
    user_name: str
    equity_balance: Decimal = Decimal(1_000_000)
    commodity_balance: Decimal = Decimal(500_000)
    holdings: tuple[tuple[str, int, Decimal], ...] = ()


DEFAULT_USERS = (
    DemoUser(
        "ZS0001",
        "Paper Trader One",
        holdings=(
            ("NSE:INFY", 10, Decimal("1400")),
            ("NSE:RELIANCE", 5, Decimal("1200")),
            ("NSE:TCS", 2, Decimal("3000")),
        ),
    ),
    DemoUser("ZS0002", "Paper Trader Two", equity_balance=Decimal(250_000)),
)


@dataclass(frozen=True)
class SimulatorConfig:
    """How the simulator runs. `start` fixes a manual clock (tests move it), or with `clock_runs` a
    clock that runs at real speed from `start` (tests of timing, in a session whatever the time of
    day); None follows real time."""

    seed: int = 1
    host: str = "127.0.0.1"
    port: int = 0
    start: datetime | None = None
    clock_runs: bool = False
    always_open: bool = True
    tick_interval: float = 1.0
    frames_per_second: int = 0  # >0: each instrument ticks once a second, spread over this many frames
    step_seconds: float = 1.0
    rate_limit_scale: float | None = 1.0  # None turns Kite's per-api_key request rate limits off
    order_limits: OrderLimits | None = field(
        default_factory=OrderLimits
    )  # Kite's per-user order caps; None turns them off
    require_market_protection: bool = True
    control_api: bool = True
    api_key: str = "sim_api_key"
    api_secret: str = "sim_api_secret"
    redirect_url: str = "http://127.0.0.1/kite/callback"
    postback_url: str = ""
    users: tuple[DemoUser, ...] = DEFAULT_USERS
    extra_apps: tuple[App, ...] = field(default=())
    replay: Path | None = None  # a gateway ticker recording to replay as the market
    replay_speed: float = 1.0  # the replay clock runs this many times faster than real time
    state_file: Path | None = None  # keep the trading state here across restarts (paper mode)
    # By api_key, the IPs its developer account whitelisted: its order calls from other peers are
    # refused as Kite refuses them. An api_key not listed (the default: none) is not checked.
    ip_whitelist: Mapping[str, frozenset[str]] = field(default_factory=dict)


class Simulator:
    """A running (or ready to run) Kite Connect simulator."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config = config or SimulatorConfig()
        recording = Recording(config.replay) if config.replay else None
        if config.start and config.clock_runs:
            self.clock: Clock = ScaledClock(config.start)
        elif config.start:
            self.clock = ManualClock(config.start)
        elif recording:
            self.clock = ScaledClock(first_frame_time(recording), config.replay_speed)
        else:
            self.clock = Clock()
        today = self.clock.now().astimezone(IST).date()
        self.universe = build_universe(config.seed, today)
        hours = MarketHours(config.always_open)
        if recording:
            self.market: MarketModel = ReplayMarket(recording, config.seed, today, hours, config.step_seconds)
        else:
            self.market = MarketModel(config.seed, today, hours, config.step_seconds)
        self.sessions = SessionStore(self.clock)
        self.engine = TradingEngine(self.universe, self.market, self.clock)
        self.engine.require_market_protection = config.require_market_protection
        self.engine.order_caps = OrderCaps(config.order_limits) if config.order_limits else None
        self.gtts = GttBook(self.engine)
        self.alerts = AlertBook(self.engine)
        self.faults = FaultInjector()
        rate_limiter = RateLimiter(config.rate_limit_scale) if config.rate_limit_scale else None
        self.request_rules = KiteRequestRules(self.faults, self.sessions, rate_limiter, config.ip_whitelist)
        self.ticker = TickerHub(
            self.sessions, self.universe, self.market, self.clock, config.tick_interval, config.frames_per_second
        )
        self.postbacks = PostbackSender(self.sessions)
        self.engine.listeners += [self.ticker.on_order, self.postbacks.on_order]
        self.app = App(config.api_key, config.api_secret, 1001, config.redirect_url, config.postback_url)
        self.sessions.add_app(self.app)
        for extra in config.extra_apps:
            self.sessions.add_app(extra)
        for demo in config.users:
            user = self.sessions.add_user(User(demo.user_id, demo.user_name, f"{demo.user_id.lower()}@example.com"))
            self.engine.open_account(user, demo.equity_balance, demo.commodity_balance)
            for symbol, quantity, price in demo.holdings:
                self.engine.add_holding(demo.user_id, symbol, quantity, price)
        self.state: StateSaver | None = None
        if config.state_file is not None:
            self.state = StateSaver(config.state_file, lambda: snapshot.dump(self))
            self.engine.listeners.append(lambda _order, _status: self._changed())
            self.gtts.changed = self._changed
            self.alerts.changed = self._changed
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._stepper: asyncio.Task[None] | None = None

    def _changed(self) -> None:
        if self.state is not None:
            self.state.mark()

    async def persist(self) -> None:
        """Return once every change so far is saved (immediately when nothing is saved)."""
        if self.state is not None:
            await self.state.commit()

    @property
    def api_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}"

    def login_url(self, api_key: str | None = None) -> str:
        return f"{self.api_url}/connect/login?v=3&api_key={api_key or self.app.api_key}"

    async def start(self) -> str:
        """Serve on the configured loopback port; returns the base URL. With a state file, the
        state saved there is restored first (SimulatorStateError if it cannot be read back)."""
        if self.state is not None:
            saved = await asyncio.to_thread(read_state, self.state.path)
            if saved is not None:
                snapshot.restore(self, saved)
                log.info("simulator state restored from %s (saved %s)", self.state.path, saved.get("saved_at"))
            self.state.start()
        # aiohttp's default request line limit (8 KB) stands in for Kite's edge, which refuses long quote URLs.
        self._runner = web.AppRunner(self._http_app(), access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, reuse_port=False)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.ticker.start()
        self.postbacks.start()
        if not isinstance(self.clock, ManualClock):
            self._stepper = asyncio.create_task(self._step_forever())
        log.info("simulator listening on %s (%d instruments)", self.api_url, len(self.universe))
        return self.api_url

    def _http_app(self) -> web.Application:
        """Kite's routes (and the control API, when configured) over this simulator's components."""
        routes = [
            web.get("/", self.ticker.handle),
            *SessionRoutes(self.sessions, self.engine).routes(),
            *OrderRoutes(self.engine, self.sessions).routes(),
            *MarketRoutes(self.universe, self.market, self.engine.quote, self.clock).routes(),
            *MarginRoutes(self.engine).routes(),
            *GttRoutes(self.gtts, self.sessions).routes(),
            *AlertRoutes(self.alerts, self.sessions).routes(),
        ]
        if self.config.control_api:
            routes += ControlRoutes(self.faults, self.clock, self.advance, self.ticker).routes()
        return build_app(routes, self.request_rules, self.persist if self.state is not None else None)

    async def stop(self) -> None:
        if self._stepper:
            self._stepper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stepper
        await self.ticker.stop()
        await self.postbacks.stop()
        if self._runner:
            await self._runner.cleanup()
        if self.state is not None:
            await self.state.stop()

    def step(self) -> None:
        """One matching pass at the clock's time: orders, then GTT triggers, then alerts."""
        self.engine.match_all()
        self.gtts.check()
        self.alerts.check()

    def advance(self, seconds: float) -> None:
        """Move a manual clock forward, matching at every market step on the way."""
        if not isinstance(self.clock, ManualClock):
            raise RuntimeError("advance() needs a simulator started with a manual clock (SimulatorConfig.start)")
        remaining = seconds
        while remaining > 0:
            step = min(self.config.step_seconds, remaining)
            self.clock.advance(step)
            remaining -= step
            self.step()
        if seconds == 0:
            self.step()

    async def _step_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.step_seconds)
            try:
                self.step()
            except Exception:  # a bad pass must not stop the market
                log.exception("simulator matching pass failed")

    def session_for(self, user_id: str) -> tuple[str, str]:
        """Log a demo user in through the real flow; returns (api_key, access_token)."""
        session = self.sessions.issue(self.app.api_key, user_id)
        return session.api_key, session.access_token
