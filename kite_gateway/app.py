"""The composition root: the only place that wires. The gateway's parts are built once from the
settings and handed to each other explicitly: storage, the Kite adapter, accounts, the instrument
master, order placement, streaming, the servicers over them, the health and metrics providers, and
(`serve`) the gRPC and HTTP servers. Nothing it builds receives or imports it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from google.protobuf import descriptor_pool

from kite_gateway.alerting import Alerting, needs_marks
from kite_gateway.cluster import Bus, Membership, TickRelay, UpdateRelay
from kite_gateway.config import KiteConfig, Settings
from kite_gateway.core.accounts import AccountManager, AccountSession, SessionState
from kite_gateway.core.alerts import AlertConfigError, load_rules, load_sinks
from kite_gateway.core.market import InstrumentMaster, LastPrices
from kite_gateway.core.order_updates import GapReason, OrderUpdateReplay
from kite_gateway.core.orders import (
    Baskets,
    DuplicateOrders,
    ExitRequests,
    GttTriggers,
    IdempotentPlacement,
    KillSwitchActions,
    KiteAlertBook,
    OrderAccounts,
    OrderActions,
    OrderDispatch,
    OrderQueries,
)
from kite_gateway.core.portfolio import ConsolidatedPortfolio
from kite_gateway.core.reports import FillRecorder, Reports, estimate
from kite_gateway.core.risk import ExitBook, ExitPorts, ExitWatch, KillSwitches, PreTradeRisk, RiskBook, RiskConfigError
from kite_gateway.core.signals import (
    SignalFeed,
    Signals,
    StrategyBook,
    StrategyConfigError,
    WebhookConfigError,
    WebhookSecrets,
)
from kite_gateway.errors import GatewayError
from kite_gateway.event_loop import settle_heap
from kite_gateway.grpc import (
    AccountServicer,
    AlertServicer,
    AuditRpcs,
    Forwarding,
    Gateway,
    GttRpcs,
    HealthSources,
    KiteAlertRpcs,
    MarketDataServicer,
    OrderServicer,
    OrderUpdateRpcs,
    PortfolioServicer,
    ProtoTickEncoding,
    ReportServicer,
    SignalServicer,
    StartupError,
    ensure_data_dir,
    load_caller_principals,
    publish,
    run_until_signalled,
    tick_price,
)
from kite_gateway.http import (
    HttpEndpoints,
    JsonApi,
    Router,
    SignalWebhook,
    exposure_refusal,
    internal_socket_path,
    published_document,
    remove_internal_socket,
    service_bindings,
)
from kite_gateway.kite import (
    EgressConfigError,
    EgressMap,
    KiteConnector,
    KiteOrders,
    KitePortfolio,
    RateLimits,
    check_egresses,
)
from kite_gateway.observability import (
    RETENTION_PRUNED,
    ConnectionStats,
    EgressStats,
    LeaseStats,
    StateCollector,
    StateSources,
    TickerStats,
)
from kite_gateway.paper import PAPER_STATE_FILE, gateway_command, log_in_demo_accounts, ready_line, start_simulator
from kite_gateway.report_ports import KiteTrades, ReportPrices, StoredDay
from kite_gateway.signal_ports import SignalPorts
from kite_gateway.storage import (
    POSTGRES_CLOCK,
    AtRest,
    AuditLog,
    CredentialStore,
    Database,
    DuplicateLog,
    ExitEventLog,
    FillLog,
    IdempotencyStore,
    LeaseStore,
    OrderUpdateLog,
    PostgresDatabase,
    Retention,
    Sealer,
    SealingError,
    SignalStore,
    WebhookNonces,
    keep_pruning,
    load_keys,
    open_database,
    private_directory,
    retention_windows,
)
from kite_gateway.streaming import AccountTicks, OrderUpdates, PostbackIntake, PriceWatch, TickStreams, UpstreamState
from kite_simulator import SimulatorStateError
from kite_wire import IST

log = structlog.get_logger(__name__)
SIGNAL_UPKEEP_EVERY = 1.0  # seconds between expiry sweeps
SIGNAL_RESUME_ROUNDS = 10  # sweeps between looks for interrupted signals ...
SIGNAL_RESUME_IDLE = 30.0  # ... left that many seconds without a change
FILL_RECONCILE_EVERY = 300.0  # seconds between reconciliations of the fill log with Kite's trades
FILL_READ_COALESCE = 2.0  # seconds a fill's update waits, so one read of the day's trades serves a burst


@dataclass
class App:
    """Every part of a running gateway, built by `open` and closed by `close`."""

    settings: Settings
    database: Database
    credentials: CredentialStore
    audit: AuditLog
    idempotency: IdempotencyStore
    executor: ThreadPoolExecutor
    limits: RateLimits
    accounts: AccountManager
    instruments: InstrumentMaster
    placement: IdempotentPlacement
    dispatch: OrderDispatch
    duplicates: DuplicateOrders
    tick_streams: TickStreams
    order_updates: OrderUpdates
    risk: PreTradeRisk
    kill_switches: KillSwitches
    last_prices: LastPrices
    order_accounts: OrderAccounts
    exit_requests: ExitRequests  # square-off and cancel-all (and the automatic exits' square-off)
    actions: OrderActions  # placing, modifying and cancelling: PlaceOrder's path, shared by baskets and signals
    signals: Signals  # strategy signals to orders (SignalService, the webhook intake)
    signal_feed: SignalFeed
    alerting: Alerting  # the gateway alerts: rules, their center, webhook sinks and the feeds
    webhook: SignalWebhook | None = None  # signals by webhook, when strategies have webhook secrets
    egresses: EgressMap = field(default_factory=EgressMap)
    membership: Membership | None = None  # the clustered mode's leases, fence and owner lookup
    bus: Bus | None = None  # and its fan-out across replicas (with KITE_GATEWAY_NATS_URL)
    relays: tuple[TickRelay, UpdateRelay] | None = None
    exits: ExitWatch | None = None  # the automatic exits, when the risk file has [exits] rules
    fill_recorder: FillRecorder | None = None  # the fill log's keeper (reports read the log)
    reports: Reports | None = None

    @classmethod
    async def open(cls, settings: Settings, paper: bool = False, now: Callable[[], datetime] | None = None) -> App:
        """Open the database (migrating it), check the sealing key, and load the accounts.
        `now` is the clock that decides token expiry (tests pass the simulator's)."""
        data_dir = settings.gateway_data_dir
        await asyncio.to_thread(private_directory, data_dir)  # the order book and audit trail are the gateway's alone
        keys = load_keys(  # newest first: the newest seals, any unseals (rotation: `kite-gateway rekey`)
            settings.gateway_secret_key.get_secret_value() if settings.gateway_secret_key else None,
            settings.gateway_secret_key_file,
            generate_in=data_dir if paper else None,
        )
        sealer = Sealer(keys)  # a malformed key fails here, before anything is opened
        risk_book = RiskBook.load(settings.gateway_risk_file)  # so does a bad risk file
        exit_book = ExitBook.load(settings.gateway_risk_file)
        strategies = StrategyBook.load(settings.gateway_strategies_file)  # and a bad strategies file
        alert_rules = load_rules(settings.gateway_alerts_file)  # and a bad alerts file, or a sink's missing secret
        alert_sinks = load_sinks(settings.gateway_alerts_file)
        secrets = await asyncio.to_thread(  # and a webhook secrets file that others may read
            WebhookSecrets.load, settings.gateway_webhook_secrets_file, strategies.strategies.keys()
        )
        # and an egress map naming an address this host does not have, or a proxy that does not answer
        egresses = EgressMap.load(settings.gateway_egress_file, settings.gateway_egress_family_size)
        await check_egresses(egresses)
        url = settings.gateway_database_url
        database = open_database(url.get_secret_value() if url else None, data_dir)
        await database.open()
        await _claim(database, settings.clustered)
        credentials = CredentialStore(database, sealer)
        try:
            await credentials.check_key()
            at_rest = AtRest(sealer, await credentials.hashing_key())  # order updates and audit bodies sealed
        except Exception:
            await database.close()
            raise
        clock = now or (lambda: datetime.now(UTC))
        updates = OrderUpdateLog(database, at_rest, clock)
        await updates.rekey()  # updates stored by an older version, under its de-duplication key
        kite = KiteConfig.of(settings)
        executor = ThreadPoolExecutor(max_workers=kite.workers, thread_name_prefix="kite")
        limits = RateLimits(kite.rate_limit_per_second, kite.burst_limit, kite.orders_per_second, kite.order_clock_skew)
        connector = KiteConnector(
            executor, limits, kite.api_endpoint, kite.request_timeout, kite.max_retries, egresses, kite.workers
        )  # the accounts loaded below are each mapped to their egress (and warned about when shared beyond a family)
        accounts = AccountManager(credentials, connector, kite.login_endpoint, clock)
        await accounts.load()
        kill_switches = KillSwitches(database)
        await kill_switches.load()
        instruments = InstrumentMaster()
        tick_streams = TickStreams(
            settings.websocket_endpoint,
            ProtoTickEncoding(),
            stale_after=settings.gateway_stale_after,
            record_dir=settings.gateway_record_dir,
            clock=clock,
        )
        audit = AuditLog(database, sealer, clock)
        alerting = Alerting.build(settings, database, accounts, instruments, tick_streams, clock, alert_rules,
                                  alert_sinks)  # fmt: skip
        marks = needs_marks(alert_rules)  # P&L and margin alerts need the exits' marks
        exits = _exits(exit_book, accounts, instruments, tick_streams, database, audit, kill_switches, clock, marks)
        if settings.clustered:
            order_updates, membership, bus, relays = await _join_cluster(
                settings, database, accounts, kill_switches, instruments, tick_streams, updates, exits
            )
            alerting.owned_by(membership.local)  # each replica alerts about what it owns, not all of them
        else:
            order_updates, membership, bus, relays = OrderUpdates(updates, tick_streams), None, None, None
        idempotency = IdempotencyStore(database, membership.fence if membership else None)
        duplicates = DuplicateOrders(idempotency, DuplicateLog(database), audit, order_updates.report_duplicate)
        order_updates.on_stored.append(
            lambda account_id, order: duplicates.observe(KiteOrders(accounts.get(account_id).active()), order)
        )
        dispatch = OrderDispatch(
            depth=settings.gateway_order_queue_depth,
            max_wait=settings.gateway_order_queue_wait,
            per_second=settings.gateway_orders_per_second,
            per_minute=settings.gateway_orders_per_minute,
            per_day=settings.gateway_orders_per_day,
            clock_skew=settings.gateway_order_clock_skew,
            sent_since=idempotency.sent_since,
            blocked=_blocked(kill_switches, membership),
            now=clock,
            exit_blocked=membership.fence.check if membership else None,  # exits pass kill switches, not the fence
        )
        kill_switches.listeners.append(dispatch.poke)
        if exits is not None:
            order_updates.on_stored.append(exits.order_stored)
        if membership is not None:  # a lost lease: orders queued for its accounts look again (retried on the new owner)
            membership.lost_listeners.append(dispatch.poke)
        placement = IdempotentPlacement(
            idempotency,
            dispatch,
            _blocked(kill_switches, membership),
            settings.request_timeout,
            settings.gateway_order_quarantine,
            clock,
            duplicates.observe_all,
            exit_blocked=membership.fence.check if membership else None,
        )
        order_accounts = OrderAccounts(accounts, instruments, order_updates, idempotency)
        signal_store = SignalStore(database)
        members = strategies.members if strategies.groups else None
        exit_requests = ExitRequests.of(order_accounts, placement, database, audit, settings.gateway_market_protection,
                                        members=members, strategy_orders=signal_store.orders_of_strategy)  # fmt: skip
        risk = PreTradeRisk(risk_book, kill_switches)
        last_prices = LastPrices()
        actions = OrderActions(order_accounts, instruments, placement, risk, last_prices,
                               settings.gateway_market_protection, dispatch.clock)  # fmt: skip
        ports = SignalPorts(signal_store, accounts, order_accounts, actions, instruments, last_prices, audit, clock,
                            exits.strategy_pnl_now if exits is not None else None)  # fmt: skip
        signals = Signals(strategies, signal_store, ports.place, ports.listing, ports.last_price, ports.account_view,
                          ports.usage, members, clock, ports.halted, ports.ready)  # fmt: skip
        signal_feed = SignalFeed(signal_store, clock)
        signals.on_event.append(signal_feed.changed)
        signals.order_book = lambda account_id: order_accounts.reading(account_id).orders()
        if bus is not None and membership is not None:
            await _share_signals(bus, membership, signals)
        alerting.hook(order_updates, duplicates, risk, kill_switches, exits, clock)
        webhook = None
        if secrets.strategies:
            webhook = SignalWebhook(signals.submit, secrets.secret_of, WebhookNonces(database), clock,
                                    settings.gateway_webhook_window)  # fmt: skip
        fill_log = FillLog(database)
        fill_recorder = FillRecorder(fill_log, KiteTrades(accounts), clock, estimate, FILL_READ_COALESCE)
        order_updates.on_stored.append(fill_recorder.order_updated)
        order_updates.on_gap.append(lambda account_id, _gap: order_updates.background(
            _reconcile_fills(fill_recorder, account_id, recharge=False)))  # fmt: skip
        today = lambda: clock().astimezone(IST).date()  # noqa: E731
        reports = Reports(fill_log, lambda: [s.account_id for s in accounts.all()], members,
                          ReportPrices(accounts, instruments, today), StoredDay(updates, audit, alerting.store),
                          clock)  # fmt: skip
        if exits is not None:
            exits.ports.square_off = exit_requests.automatic_exit
            exits.ports.strategy_positions = ports.positions
            exits.ports.halt_strategy = ports.halt
        return cls(
            settings=settings,
            database=database,
            credentials=credentials,
            audit=audit,
            idempotency=idempotency,
            executor=executor,
            limits=limits,
            accounts=accounts,
            instruments=instruments,
            placement=placement,
            dispatch=dispatch,
            duplicates=duplicates,
            tick_streams=tick_streams,
            order_updates=order_updates,
            risk=risk,
            kill_switches=kill_switches,
            last_prices=last_prices,
            egresses=egresses,
            membership=membership,
            bus=bus,
            relays=relays,
            order_accounts=order_accounts,
            exit_requests=exit_requests,
            actions=actions,
            signals=signals,
            signal_feed=signal_feed,
            alerting=alerting,
            webhook=webhook,
            exits=exits,
            fill_recorder=fill_recorder,
            reports=reports,
        )

    def servicers(self) -> dict[str, object]:
        updates, order_accounts, exits = self.order_updates, self.order_accounts, self.exit_requests
        gtts = GttTriggers(self.placement, self.risk.kill_switches.check)
        replay = OrderUpdateReplay(updates, self.idempotency.client_ids_by_tag, updates.upstream_state)
        actions = self.actions
        baskets = Baskets(
            order_accounts.trading,
            actions,
            exits.exits,
            exits.once,
            exits.audit,
            self.settings.gateway_market_protection,
        )
        orders = OrderServicer(
            audit=self.audit,
            master=self.instruments,
            order_accounts=order_accounts,
            actions=actions,
            queries=OrderQueries(order_accounts, self.idempotency, self.duplicates),
            kill_switches=KillSwitchActions(
                self.risk.kill_switches, order_accounts.account_ids, order_accounts.reading
            ),
            gtts=GttRpcs(self.accounts, self.instruments, updates, gtts, self.audit),
            kite_alerts=KiteAlertRpcs(
                self.accounts, self.instruments, KiteAlertBook(self.risk.kill_switches.check), self.audit
            ),
            order_update_rpcs=OrderUpdateRpcs(self.accounts, self.instruments, updates, replay),
            audit_events=AuditRpcs(self.accounts, self.audit),
            algo_id=self.settings.gateway_algo_id,
            square_offs=exits.square_offs, cancel_all=exits.cancel_all, baskets=baskets,
        )  # fmt: skip
        # mypy-protobuf marks every rpc abstract; the registry answers those not implemented yet.
        return {
            "kite_gateway.v1.AccountService": AccountServicer(self.accounts, self.egresses),
            "kite_gateway.v1.OrderService": orders,
            "kite_gateway.v1.PortfolioService": PortfolioServicer(
                self.accounts, self.instruments, ConsolidatedPortfolio(self.accounts), self.audit, self.exits
            ),
            "kite_gateway.v1.MarketDataService": MarketDataServicer(
                self.accounts, self.instruments, self.last_prices, self.tick_streams, self.accounts.now
            ),
            "kite_gateway.v1.SignalService": SignalServicer(
                self.signals, self.signal_feed, self.accounts, self.instruments
            ),
            "kite_gateway.v1.AlertService": AlertServicer(self.alerting.center, self.alerting.store),
            "kite_gateway.v1.ReportService": ReportServicer(self.reports) if self.reports else None,
        }

    async def keep_signals(self, every: float = SIGNAL_UPKEEP_EVERY) -> None:
        """Expire the signals nobody approved in time and carry on those left mid-way (a restart, a
        caller that gave up, an order whose answer never came), every `every` seconds until cancelled."""
        rounds = 0
        while True:
            await asyncio.sleep(every)
            rounds += 1
            try:
                await self.signals.expire_due()
                if rounds % SIGNAL_RESUME_ROUNDS == 0:
                    await self.signals.resume_unfinished(SIGNAL_RESUME_IDLE)
            except GatewayError as exc:
                log.warning("signals.upkeep_failed", error=exc.message)
            except Exception:  # a bug or a storage failure in one round must not end the sweeps for good
                log.exception("signals.upkeep_failed")

    async def keep_fills(self, every: float = FILL_RECONCILE_EVERY) -> None:
        """Reconcile the fill log of every logged-in account this replica owns with Kite's trades,
        every `every` seconds until cancelled (a trade whose update was missed is stored, and the
        accounts' watch marks advance, so a gateway that stops leaves a gap marker, not a silent hole)."""
        while True:
            await asyncio.sleep(every)
            await self.reconcile_fills()

    async def reconcile_fills(self) -> None:
        recorder = self.fill_recorder
        if recorder is None:
            return
        for session in self.accounts.all():
            if session.state()[0] is not SessionState.ACTIVE:
                continue
            if self.membership is not None and not self.membership.local(session.account_id):
                continue
            await _reconcile_fills(recorder, session.account_id)

    async def keep_retention(self) -> None:
        """Prune what is older than its retention window (KITE_GATEWAY_RETENTION_*_DAYS) every
        KITE_GATEWAY_RETENTION_INTERVAL seconds until cancelled, counting the rows in a metric."""
        await keep_pruning(retention_of(self.settings, self.database), self.settings.gateway_retention_interval,
                           count_pruned)  # fmt: skip

    async def watch_order_updates(self) -> None:
        """Start recording the order updates of every active account (and reconcile what happened
        while the gateway was not running); clustered, each owner does it for what it holds."""
        if self.membership is None:
            await _watch(self.instruments, self.order_updates, self.accounts.all(), self.exits)

    def http_endpoints(
        self, host: str, port: int, metrics: bool = False, api: tuple[list[str], str] | None = None
    ) -> HttpEndpoints:
        """The login callback and postback receiver (and /metrics, with `metrics`) on host:port; with
        `api` (the gRPC service names and the gRPC address of the gateway's own server), the API's
        HTTP/JSON bindings and /openapi.json."""
        postbacks = PostbackIntake(self.accounts, self.order_updates)
        state = self.state_collector() if metrics else None
        if api is None:
            return HttpEndpoints(self.accounts, postbacks, host, port, state, webhook=self.webhook)
        names, target = api
        services = [descriptor_pool.Default().FindServiceByName(name) for name in names]
        transcoder = JsonApi(Router(service_bindings(services)), target)
        return HttpEndpoints(
            self.accounts, postbacks, host, port, state, transcoder, published_document(), webhook=self.webhook
        )

    # What health and metrics read at scrape time -----------------------------------------------

    def health_sources(self, serving: tuple[str, ...] = ()) -> HealthSources:
        """`serving`: the API services, which turn NOT_SERVING (with "") while the clustered mode's
        database cannot be reached (no lease can be held or taken)."""
        membership = self.membership
        if membership is None:
            return HealthSources(accounts=self._active_accounts, tickers=self._connected_tickers)
        return HealthSources(
            accounts=self._active_accounts,
            tickers=self._connected_tickers,
            dependencies=self._dependencies,
            serving=serving,
        )

    def state_collector(self) -> StateCollector:
        return StateCollector(
            StateSources(
                tickers=self._ticker_stats,
                order_subscribers=lambda: {a: len(ls) for a, ls in self.order_updates.listeners.items()},
                order_queues=lambda: {a: self.dispatch.waiting(a) for a in self.dispatch.accounts()},
                sessions=lambda: {s.account_id: f"SESSION_STATE_{s.state()[0].name}" for s in self.accounts.all()},
                egresses=self._egress_stats,
                kill_switches=self._kill_switch_states,
                automatic_exits=lambda: dict(self.exits.carried_out) if self.exits is not None else {},
                leases=self._lease_stats,
                session_expiries=self._session_expiries,
                alerts=lambda: (self.alerting.center.queued, dict(self.alerting.center.dropped)),
            )
        )

    def _session_expiries(self) -> dict[str, float]:
        return {
            s.account_id: s.token_expires_at.timestamp()
            for s in self.accounts.all()
            if s.kite is not None and s.token_expires_at is not None
        }

    def _lease_stats(self) -> LeaseStats | None:
        if self.membership is None:
            return None
        keys = {session.api_key for session in self.accounts.all()}
        return LeaseStats(len(self.membership.keeper.held()), len(keys), self.membership.healthy())

    def _kill_switch_states(self) -> dict[str, bool]:
        return {s.account_id or "gateway": s.engaged for s in self.kill_switches.states.values()}

    def _dependencies(self) -> dict[str, bool]:
        found = {"database": self.membership is not None and self.membership.healthy()}
        if self.bus is not None:
            found["nats"] = self.bus.healthy()
        return found

    def _egress_stats(self) -> list[EgressStats]:
        counts = self.egresses.accounts_per_egress((s.account_id, s.api_key) for s in self.accounts.all())
        size = self.egresses.family_size
        return [EgressStats(e.name, e.shared_ip, counts[e.name], size) for e in self.egresses.egresses()]

    def _active_accounts(self) -> dict[str, bool]:
        return {session.account_id: session.state()[0] is SessionState.ACTIVE for session in self.accounts.all()}

    def _connected_tickers(self) -> dict[str, bool]:
        return {s.account_id: s.state is UpstreamState.CONNECTED for s in self.tick_streams.stats()}

    def _ticker_stats(self) -> dict[str, TickerStats]:
        return {
            s.account_id: TickerStats(
                connected=s.state is UpstreamState.CONNECTED,
                connections=[
                    ConnectionStats(c.index, f"UPSTREAM_STATE_{c.state.name}", c.uptime, c.reconnects)
                    for c in s.connections
                ],
                ticks_in=s.ticks_in,
                delivered=s.ticks_delivered,
                conflated=s.ticks_conflated,
                queue_depths=s.queue_depths,
            )
            for s in self.tick_streams.stats()
        }

    async def close(self) -> None:
        if self.membership is not None:  # hand the leases off first: stop owning, then release
            try:
                async with asyncio.timeout(self.settings.gateway_lease_drain_timeout):
                    await self.membership.drain()
            except TimeoutError:  # what was not released expires as after a crash
                log.warning("leases.drain_timed_out", seconds=self.settings.gateway_lease_drain_timeout)
        self.placement.abandon_queued()  # nothing not yet sent is sent while stopping
        await self.placement.drain(self.settings.request_timeout * 2)
        for relay in self.relays or ():
            await relay.stop()
        if self.exits is not None:
            await self.exits.stop()
        await self.alerting.stop()
        await self.tick_streams.stop()
        await self.order_updates.stop()
        if self.fill_recorder is not None:
            await self.fill_recorder.stop()
        await self.accounts.connector.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self.bus is not None:
            await self.bus.close()
        await self.database.close()


async def serve(
    settings: Settings, paper: bool = False, regular_hours: bool = False, reset_paper: bool = False
) -> None:
    """Run the gateway until SIGTERM or SIGINT, then shut down gracefully.

    With `paper`, the embedded Kite simulator runs beside it and stands in for Kite, and its demo
    accounts are logged in; it trades around the clock unless `regular_hours`, and `reset_paper`
    starts its market afresh. Once it serves, one line for a person says where and what to try.
    A second signal during shutdown cuts the grace period short. A listener open to the network
    without caller authentication is refused before anything starts.
    """
    load_caller_principals(settings)
    ensure_data_dir(settings.gateway_data_dir)
    http_host, _, http_port = settings.gateway_http_listen.rpartition(":")
    simulator = None
    async with contextlib.AsyncExitStack() as stack:
        try:
            if paper:
                callback = f"http://{http_host}:{http_port}"
                simulator, settings = await start_simulator(settings, callback, regular_hours, reset_paper)
                stack.push_async_callback(simulator.stop)
            app = await App.open(settings, paper=paper)
            stack.push_async_callback(app.close)
            socket = internal_socket_path(settings.gateway_data_dir)
            stack.callback(remove_internal_socket, socket, settings.gateway_data_dir)
            forwarding = _forwarding(settings, app.membership)
            gateway = Gateway(settings, app.servicers(), internal_socket=socket, forwarding=forwarding)
            if forwarding is not None:
                stack.push_async_callback(forwarding.close)
            refusal = exposure_refusal(
                http_host, gateway.principals is not None, settings.gateway_allow_unauthenticated
            )
            api = (gateway.service_names, f"unix:{socket}") if refusal is None else None
            if refusal is not None:
                log.warning("http.api_not_served", reason=refusal)
            http = app.http_endpoints(http_host.strip("[]"), int(http_port), settings.metrics_enabled, api)
            await http.start()
            stack.push_async_callback(http.stop)
        except (
            SealingError,
            RiskConfigError,
            EgressConfigError,
            StrategyConfigError,
            WebhookConfigError,
            AlertConfigError,
        ) as exc:
            raise StartupError(str(exc)) from None
        except SimulatorStateError as exc:
            raise StartupError(
                f"the paper market's saved state cannot be read back ({exc}); pass --reset-paper to start the "
                f"paper market afresh (it keeps {settings.gateway_data_dir / PAPER_STATE_FILE} beside it as "
                f"{PAPER_STATE_FILE}.before-reset, with the gateway's records of its orders)"
            ) from None
        except OSError as exc:
            raise StartupError(
                f"cannot listen ({exc.strerror}): check --paper-listen / --http-listen (KITE_GATEWAY_PAPER_LISTEN, "
                "KITE_GATEWAY_HTTP_LISTEN) for an address in use"
            ) from None
        demo_accounts = await log_in_demo_accounts(simulator, app.accounts) if simulator is not None else None
        publisher = asyncio.create_task(publish(gateway.health, app.health_sources(("", *gateway.service_names))))
        stack.callback(publisher.cancel)
        watcher = asyncio.create_task(app.watch_order_updates())
        stack.callback(watcher.cancel)
        upkeep = asyncio.create_task(app.keep_signals())
        stack.callback(upkeep.cancel)
        fill_upkeep = asyncio.create_task(app.keep_fills())
        stack.callback(fill_upkeep.cancel)
        pruning = asyncio.create_task(app.keep_retention())
        stack.callback(pruning.cancel)
        await app.alerting.start()
        heap = asyncio.create_task(keep_heap_settled(app.instruments))
        stack.callback(heap.cancel)
        announce = None if demo_accounts is None else _announce_ready(settings, gateway, demo_accounts)
        await run_until_signalled(gateway, _when_serving(settings, app.membership, announce))


async def keep_heap_settled(master: InstrumentMaster, every: float = 60.0) -> None:
    """Settle the heap (kite_gateway/event_loop.py) once serving, and again after each load of the
    instrument master (tens of thousands of listings, kept until the next day's)."""
    loaded: datetime | None = None
    settle_heap()
    while True:
        await asyncio.sleep(every)
        if master.loaded_at != loaded:
            loaded = master.loaded_at
            settle_heap()


def retention_of(settings: Settings, database: Database) -> Retention:
    """The retention windows the settings give, over the gateway's database."""
    windows = retention_windows(
        settings.gateway_retention_order_updates_days,
        settings.gateway_retention_audit_days,
        settings.gateway_retention_fills_days,
    )
    return Retention(database, windows)


def count_pruned(pruned: dict[str, int]) -> None:
    for table, rows in pruned.items():
        RETENTION_PRUNED.labels(table).inc(rows)


def _when_serving(
    settings: Settings, membership: Membership | None, announce: Callable[[int], None] | None
) -> Callable[[int], None] | None:
    """What to do once the server listens: take part in the cluster (reached on the bound port), announce."""
    if membership is None:
        return announce

    def ready(port: int) -> None:
        membership.start(settings.advertise_address(port))
        if announce is not None:
            announce(port)

    return ready


def _forwarding(settings: Settings, membership: Membership | None) -> Forwarding | None:
    if membership is None:
        return None
    secret = settings.gateway_cluster_secret
    assert secret is not None  # the settings require it in the clustered mode
    return Forwarding(membership, secret.get_secret_value().encode(), replica_id=settings.gateway_replica_id)


async def _share_signals(bus: Bus, membership: Membership, signals: Signals) -> None:
    """Clustered: a signal with orders for accounts other replicas own is announced on the bus, and
    each owner sends its own at once (the resume sweep stays the fallback for a lost message)."""
    subject = f"{bus.prefix}.signals.elsewhere"
    signals.owns = membership.local

    def tell(strategy_id: str, signal_id: str) -> None:
        bus.publish(subject, json.dumps([strategy_id, signal_id]).encode())

    signals.on_elsewhere.append(tell)
    running: set[asyncio.Task[bool]] = set()

    def told(_subject: str, payload: bytes) -> None:
        try:
            strategy_id, signal_id = json.loads(payload)
        except (ValueError, TypeError):
            return
        task = asyncio.create_task(signals.resume_owned(str(strategy_id), str(signal_id)))
        running.add(task)
        task.add_done_callback(_finished_resume(running))

    await bus.subscribe(subject, told)


def _finished_resume(running: set[asyncio.Task[bool]]) -> Callable[[asyncio.Task[bool]], None]:
    def done(task: asyncio.Task[bool]) -> None:
        running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("signals.elsewhere_failed", error=str(task.exception())[:200])

    return done


async def _reconcile_fills(recorder: FillRecorder, account_id: str, recharge: bool = True) -> None:
    """One account's fill reconciliation; a failure is logged (the mark stays, the next round retries).
    After a gap (a start, a failover, an outage) only the new fills' orders are charged: re-checking every
    order of the day then would compete with the orders being placed; the keeper's rounds do it."""
    try:
        await recorder.reconcile(account_id, recharge=recharge)
    except GatewayError as exc:
        log.warning("fills.reconcile_failed", account_id=account_id, error=exc.message)
    except Exception:  # a bug or a storage failure must not end the keeper for good
        log.exception("fills.reconcile_failed", account_id=account_id)


def _blocked(kill_switches: KillSwitches, membership: Membership | None) -> Callable[[str], None]:
    """What refuses a send at its moment: a kill switch; clustered, also not owning the account."""
    if membership is None:
        return kill_switches.check
    fence = membership.fence

    def blocked(account_id: str) -> None:
        kill_switches.check(account_id)
        fence.check(account_id)

    return blocked


async def _claim(database: Database, clustered: bool) -> None:
    """A database in PostgreSQL is used by the replicas of one cluster or by one process alone."""
    if not isinstance(database, PostgresDatabase) or await database.claim(shared=clustered):
        return
    await database.close()
    if clustered:
        raise StartupError(
            f"{database.location} is used by a gateway running alone (KITE_GATEWAY_DATABASE_URL without "
            "KITE_GATEWAY_NATS_URL): stop it, or start it with the cluster's NATS URL and secret too"
        )
    raise StartupError(
        f"another gateway process uses {database.location}: with KITE_GATEWAY_DATABASE_URL alone only one may; "
        "for several replicas give every one KITE_GATEWAY_NATS_URL and KITE_GATEWAY_CLUSTER_SECRET as well"
    )


async def _join_cluster(
    settings: Settings,
    database: Database,
    accounts: AccountManager,
    kill_switches: KillSwitches,
    instruments: InstrumentMaster,
    tick_streams: TickStreams,
    updates: OrderUpdateLog,
    exits: ExitWatch | None = None,
) -> tuple[OrderUpdates, Membership, Bus, tuple[TickRelay, UpdateRelay]]:
    """The clustered mode's parts: the bus, the tick and order-update relays over it, and the
    membership whose leases decide what this replica owns (the owner of an account's lease holds
    its ticker and watches its order updates; its owner-only writes are fenced)."""
    assert settings.gateway_nats_url is not None

    async def open_ticks(account_id: str) -> AccountTicks | None:
        """The owner opens an account's ticks for subscribers on other replicas."""
        session = accounts.sessions.get(account_id)
        if session is None or session.state()[0] is not SessionState.ACTIVE:
            return None
        await instruments.ensure(session)
        token = session.active().client.access_token
        return await tick_streams.get(account_id, session.api_key, token, instruments.symbols())

    bus = Bus(settings.gateway_nats_url)
    await bus.start(wait=settings.request_timeout)
    tick_relay = TickRelay(bus, tick_streams, settings.gateway_replica_id, open_ticks=open_ticks)
    order_updates = OrderUpdates(updates, tick_streams, owns=tick_relay.owns)
    relays = (tick_relay, UpdateRelay(bus, order_updates, settings.gateway_replica_id))
    for relay in relays:
        await relay.start()

    async def start_owning(sessions: list[AccountSession]) -> None:
        for session in sessions:  # the ticker moves here; what happened meanwhile is reconciled
            order_updates.outage_began(session.account_id, GapReason.GATEWAY_RESTARTED)
            await tick_relay.acquired(session.account_id)
            await _watch(instruments, order_updates, [session], exits)

    async def stop_owning(account_ids: list[str]) -> None:
        for account_id in account_ids:  # its subscribers here are fed from the new owner
            await tick_relay.lost(account_id)
            if exits is not None:  # the new owner watches its exits
                await exits.deactivate(account_id)

    membership = Membership(
        LeaseStore(database, POSTGRES_CLOCK),
        settings.gateway_replica_id,
        accounts,
        kill_switches,
        ttl=settings.gateway_lease_ttl,
        start_owning=start_owning,
        stop_owning=stop_owning,
    )
    return order_updates, membership, bus, relays


async def _watch(
    instruments: InstrumentMaster,
    order_updates: OrderUpdates,
    sessions: list[AccountSession],
    exits: ExitWatch | None = None,
) -> None:
    for session in sessions:
        if session.state()[0] is not SessionState.ACTIVE:
            continue
        try:
            await instruments.ensure(session)
            await order_updates.watch(session, instruments.symbols())
            if exits is not None:
                await exits.activate(session.account_id)
        except GatewayError as exc:
            log.warning("orders.watch_failed", account_id=session.account_id, error=exc.message)


def _exits(
    book: ExitBook,
    accounts: AccountManager,
    instruments: InstrumentMaster,
    tick_streams: TickStreams,
    database: Database,
    audit: AuditLog,
    kill_switches: KillSwitches,
    clock: Callable[[], datetime],
    marks: bool = False,
) -> ExitWatch | None:
    """The automatic exits (kite_gateway/core/risk/exits.py), when the risk file has [exits] rules
    (or, with `marks`, a watch without rules whose P&L and margin marks feed the alerts):
    Kite's positions and margins through each account's session, live prices from its tick hub.
    The square-off is wired to them in `App.open`; strategy halts and alerts by setting their ports."""
    if not book.configured and not marks:
        return None

    async def ticks_for(account_id: str) -> AccountTicks | None:
        return tick_streams.find(account_id)

    ports = ExitPorts(
        positions=lambda account_id: KitePortfolio(accounts.get(account_id).active()).positions(),
        margins=lambda account_id: KitePortfolio(accounts.get(account_id).active()).margins(),
        prices=PriceWatch(ticks_for, lambda token: instruments.by_token.get(token), tick_price),
    )
    return ExitWatch(book, ports, ExitEventLog(database), audit, kill_switches, clock)


def _announce_ready(settings: Settings, gateway: Gateway, accounts: list[str]) -> Callable[[int], None]:
    """Prints the paper gateway's ready line on stdout, beside the logs (stderr), for the person who ran it."""

    def announce(port: int) -> None:
        line = ready_line(
            settings.gateway_listen,
            port,
            settings.gateway_http_listen,
            accounts,
            gateway_command(),
            needs_token=gateway.principals is not None,
        )
        print(line, flush=True)

    return announce
