"""The gateway's parts, built once from the settings and wired together: storage, the Kite adapter,
accounts, the instrument master, order placement, and the servicers over them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from kite_gateway_api.v1 import account_pb2

from kite_gateway.config import Settings
from kite_gateway.core.accounts.manager import AccountManager
from kite_gateway.core.market.instruments import InstrumentMaster
from kite_gateway.core.market.quotes import LastPrices
from kite_gateway.core.order_updates import OrderUpdateReplay
from kite_gateway.core.orders.dispatch import OrderDispatch
from kite_gateway.core.orders.duplicates import DuplicateOrders
from kite_gateway.core.orders.gtt import GttTriggers
from kite_gateway.core.orders.placement import IdempotentPlacement
from kite_gateway.core.risk.checks import PreTradeRisk
from kite_gateway.core.risk.kill_switch import KillSwitches
from kite_gateway.core.risk.limits import RiskBook
from kite_gateway.errors import GatewayError
from kite_gateway.kite.limits import RateLimits
from kite_gateway.storage.audit import AuditLog
from kite_gateway.storage.credentials import CredentialStore
from kite_gateway.storage.database import Database
from kite_gateway.storage.duplicates import DuplicateLog
from kite_gateway.storage.idempotency import IdempotencyStore
from kite_gateway.storage.order_updates import OrderUpdateLog
from kite_gateway.storage.private_files import private_directory
from kite_gateway.storage.sealing import Sealer, load_key
from kite_gateway.streaming.order_streams import OrderUpdates
from kite_gateway.streaming.tick_streams import TickStreams

log = structlog.get_logger(__name__)


@dataclass
class Runtime:
    settings: Settings
    database: Database
    credentials: CredentialStore
    audit: AuditLog
    idempotency: IdempotencyStore
    executor: ThreadPoolExecutor
    accounts: AccountManager
    instruments: InstrumentMaster
    placement: IdempotentPlacement
    dispatch: OrderDispatch
    duplicates: DuplicateOrders
    tick_streams: TickStreams
    order_updates: OrderUpdates
    risk: PreTradeRisk
    last_prices: LastPrices

    @classmethod
    async def open(cls, settings: Settings, paper: bool = False, now: Callable[[], datetime] | None = None) -> Runtime:
        """Open the database (migrating it), check the sealing key, and load the accounts.
        `now` is the clock that decides token expiry (tests pass the simulator's)."""
        data_dir = settings.gateway_data_dir
        await asyncio.to_thread(private_directory, data_dir)  # the order book and audit trail are the gateway's alone
        key = load_key(
            settings.gateway_secret_key.get_secret_value() if settings.gateway_secret_key else None,
            settings.gateway_secret_key_file,
            generate_in=data_dir if paper else None,
        )
        sealer = Sealer(key)  # a malformed key fails here, before anything is opened
        risk_book = RiskBook.load(settings.gateway_risk_file)  # so does a bad risk file
        database = Database(data_dir / "gateway.db")
        await database.open()
        credentials = CredentialStore(database, sealer)
        try:
            await credentials.check_key()
        except Exception:
            await database.close()
            raise
        updates = OrderUpdateLog(database)
        await updates.rekey()  # updates stored by an older version, under its de-duplication key
        executor = ThreadPoolExecutor(max_workers=settings.gateway_kite_workers, thread_name_prefix="kite")
        accounts = AccountManager(
            credentials,
            executor,
            RateLimits(settings.rate_limit_per_second, settings.burst_limit),
            settings.api_endpoint,
            settings.login_endpoint,
            settings.request_timeout,
            settings.max_retries,
            now or (lambda: datetime.now(UTC)),
        )
        await accounts.load()
        idempotency = IdempotencyStore(database)
        kill_switches = KillSwitches(database)
        await kill_switches.load()
        clock = now or (lambda: datetime.now(UTC))
        tick_streams = TickStreams(
            settings.websocket_endpoint,
            stale_after=settings.gateway_stale_after,
            record_dir=settings.gateway_record_dir,
            clock=clock,
        )
        audit = AuditLog(database)
        order_updates = OrderUpdates(updates, tick_streams)
        duplicates = DuplicateOrders(idempotency, DuplicateLog(database), audit, order_updates.report_duplicate)
        order_updates.on_stored.append(
            lambda account_id, order: duplicates.observe(accounts.get(account_id).active(), order)
        )
        dispatch = OrderDispatch(
            depth=settings.gateway_order_queue_depth,
            max_wait=settings.gateway_order_queue_wait,
            per_second=settings.gateway_orders_per_second,
            per_minute=settings.gateway_orders_per_minute,
            per_day=settings.gateway_orders_per_day,
            sent_since=idempotency.sent_since,
            blocked=kill_switches.check,
            now=clock,
        )
        kill_switches.listeners.append(dispatch.poke)
        placement = IdempotentPlacement(
            idempotency,
            dispatch,
            kill_switches.check,
            settings.request_timeout,
            settings.gateway_order_quarantine,
            clock,
            duplicates.observe_all,
        )
        return cls(
            settings=settings,
            database=database,
            credentials=credentials,
            audit=audit,
            idempotency=idempotency,
            executor=executor,
            accounts=accounts,
            instruments=InstrumentMaster(),
            placement=placement,
            dispatch=dispatch,
            duplicates=duplicates,
            tick_streams=tick_streams,
            order_updates=order_updates,
            risk=PreTradeRisk(risk_book, kill_switches),
            last_prices=LastPrices(),
        )

    def servicers(self) -> dict[str, object]:
        from kite_gateway.grpc.account_servicer import AccountServicer
        from kite_gateway.grpc.audit_rpcs import AuditRpcs
        from kite_gateway.grpc.gtt_rpcs import GttRpcs
        from kite_gateway.grpc.market_data_servicer import MarketDataServicer
        from kite_gateway.grpc.order_servicer import OrderServicer
        from kite_gateway.grpc.order_update_rpcs import OrderUpdateRpcs
        from kite_gateway.grpc.portfolio_servicer import PortfolioServicer

        updates = self.order_updates
        gtts = GttTriggers(self.placement, self.risk.kill_switches.check)
        replay = OrderUpdateReplay(updates, self.idempotency.client_ids_by_tag, updates.upstream_state)
        orders = OrderServicer(
            self,
            gtts=GttRpcs(self.accounts, self.instruments, updates, gtts, self.audit),
            order_update_rpcs=OrderUpdateRpcs(self.accounts, self.instruments, updates, replay),
            audit_events=AuditRpcs(self.accounts, self.audit),
        )
        # mypy-protobuf marks every rpc abstract; the registry answers those not implemented yet.
        return {
            "kite_gateway.v1.AccountService": AccountServicer(self),
            "kite_gateway.v1.OrderService": orders,
            "kite_gateway.v1.PortfolioService": PortfolioServicer(self),
            "kite_gateway.v1.MarketDataService": MarketDataServicer(self),
        }

    async def watch_order_updates(self) -> None:
        """Start recording the order updates of every active account (and reconcile what happened
        while the gateway was not running)."""
        for session in self.accounts.all():
            if session.state()[0] != account_pb2.SESSION_STATE_ACTIVE:
                continue
            try:
                await self.instruments.ensure(session)
                await self.order_updates.watch(session, self.instruments.symbols())
            except GatewayError as exc:
                log.warning("orders.watch_failed", account_id=session.account_id, error=exc.message)

    async def close(self) -> None:
        self.placement.abandon_queued()  # nothing not yet sent is sent while stopping
        await self.placement.drain(self.settings.request_timeout * 2)
        await self.tick_streams.stop()
        await self.order_updates.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)
        await self.database.close()
