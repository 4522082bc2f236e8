"""The gateway alerts, assembled (part of the composition root, kite_gateway/app.py): the alert
center over its store (kite_gateway/core/alerts/center.py), its rules and webhook sinks from
KITE_GATEWAY_ALERTS_FILE, the deliverer that posts each alert to every sink (signed, retried with
backoff, dead-lettered), and the feeds that turn the running gateway's happenings into the
center's events (kite_gateway/alert_feeds). `hook` attaches the feeds to the parts that report;
`start` and `stop` run and end the loops. The center always runs: rules may also come by RPC."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from kite_gateway.alert_feeds import (
    DuplicateAlerts,
    ExitAlerts,
    OrderAlerts,
    PnlAlerts,
    PriceAlerts,
    RefusalAlerts,
    SessionAlerts,
    TickerAlerts,
    price_instruments,
)
from kite_gateway.config import Settings
from kite_gateway.core.accounts import AccountManager
from kite_gateway.core.alerts import AlertCenter, AlertKind, AlertRule, WebhookDeliverer, WebhookSink
from kite_gateway.core.market import InstrumentMaster
from kite_gateway.core.orders import DuplicateOrders
from kite_gateway.core.risk import ExitWatch, KillSwitches, PreTradeRisk
from kite_gateway.grpc import tick_quote
from kite_gateway.http import AiohttpPoster
from kite_gateway.storage import AlertStore, Database
from kite_gateway.streaming import OrderUpdates, TickStreams

log = structlog.get_logger(__name__)
MARK_KINDS = frozenset({AlertKind.PNL_DRAWDOWN, AlertKind.MARGIN_UTILISATION})


def needs_marks(rules: Sequence[AlertRule]) -> bool:
    """Whether the rules need the automatic exits' P&L and margin marks (a watch runs for them even
    without [exits] rules)."""
    return any(rule.kind in MARK_KINDS for rule in rules)


@dataclass
class Alerting:
    center: AlertCenter
    store: AlertStore
    deliverer: WebhookDeliverer
    poster: AiohttpPoster
    prices: PriceAlerts
    sessions: SessionAlerts
    tickers: TickerAlerts
    tick_interval: float  # seconds between checks of the rules that fire on time passing
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        settings: Settings,
        database: Database,
        accounts: AccountManager,
        instruments: InstrumentMaster,
        tick_streams: TickStreams,
        clock: Callable[[], datetime],
        rules: Sequence[AlertRule],
        sinks: Sequence[WebhookSink],
    ) -> Alerting:
        """Over the alerts file's `rules` and `sinks` (load_rules, load_sinks: read before anything opens)."""
        store = AlertStore(database)
        poster = AiohttpPoster(timeout=settings.gateway_alerts_webhook_timeout)
        deliverer = WebhookDeliverer(store, sinks, poster, clock=clock, retry_base=settings.gateway_alerts_retry_base,
                                     retry_cap=settings.gateway_alerts_retry_cap)  # fmt: skip
        center = AlertCenter(store, rules, clock=clock, sinks=sinks, max_queue=settings.gateway_alerts_queue,
                             state_key=settings.gateway_replica_id or "gateway", on_stored=deliverer.wake)  # fmt: skip
        emit = center.offer
        prices = PriceAlerts(accounts, instruments, tick_streams, tick_quote, emit, clock)
        tickers = TickerAlerts(tick_streams.stats, emit, clock)
        interval = settings.gateway_alerts_tick_interval
        alerting = cls(center, store, deliverer, poster, prices, SessionAlerts(accounts, emit), tickers, interval)
        center.rule_listeners.append(alerting._follow)
        return alerting

    def hook(
        self,
        order_updates: OrderUpdates,
        duplicates: DuplicateOrders,
        risk: PreTradeRisk,
        kill_switches: KillSwitches,
        exits: ExitWatch | None,
        clock: Callable[[], datetime],
    ) -> None:
        emit = self.center.offer
        order_updates.on_stored.append(OrderAlerts(emit, clock).stored)
        duplicates.listeners.append(DuplicateAlerts(emit, clock).found)
        refusals = RefusalAlerts(emit, clock)
        risk.refusal_listeners.append(refusals.refused)
        kill_switches.refusal_listeners.append(refusals.refused)
        if exits is not None:
            exits.mark_listeners.append(PnlAlerts(emit).marked)
            exits.exit_listeners.append(ExitAlerts(emit).carried_out)

    def owned_by(self, owns: Callable[[str], bool]) -> None:
        """Clustered: sessions are alerted by their account's owner, prices by one replica."""
        self.sessions.owns = owns
        self.prices.owns = owns

    async def _follow(self, rules: Sequence[AlertRule]) -> None:
        await self.prices.follow(price_instruments(rules))

    async def start(self) -> None:
        await self.center.start()
        await self._follow([sourced.rule for sourced in self.center.rules()])
        for loop in (self.center.run(), self.center.run_ticks(self.tick_interval), self.deliverer.run(),
                     self.prices.run(), self.sessions.run(), self.tickers.run()):  # fmt: skip
            self.tasks.append(asyncio.create_task(loop))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        try:
            await self.center.process_pending()  # what was offered before stopping is stored
        except Exception:
            log.exception("alerts.pending_not_stored")
        await self.prices.stop()
        await self.poster.close()
