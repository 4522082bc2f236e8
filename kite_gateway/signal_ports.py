"""The signals use case's ports over the running gateway (kite_gateway/core/signals/service.py),
built by the composition root (kite_gateway/app.py): placing through OrderActions (the PlaceOrder
path: idempotency, risk limits, kill switches) with an audit entry per order, instruments from the
master, last prices and margins and positions from Kite through each account's session, the
strategy's day budget from its stored orders, its halts, and its own positions for the automatic
exits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from datetime import time as wall_time
from decimal import Decimal

from kite_gateway.core.accounts import AccountManager, AccountSession, SessionState
from kite_gateway.core.market import InstrumentMaster, InstrumentRef, LastPrices, Listing
from kite_gateway.core.orders import AUDIT_ACTION_PLACE_ORDER, Audit, NewOrder, OrderAccounts, OrderActions
from kite_gateway.core.risk import StrategyPosition
from kite_gateway.core.signals import AccountView, Usage, strategy_positions
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite import KiteMarket, KitePortfolio
from kite_gateway.storage import AuditLog, SignalStore
from kite_wire import IST, kite_decimal

StrategyPnl = Callable[[str], Decimal | None]  # strategy id -> its P&L today as the exits mark it


class SignalPorts:
    def __init__(
        self,
        store: SignalStore,
        accounts: AccountManager,
        order_accounts: OrderAccounts,
        actions: OrderActions,
        master: InstrumentMaster,
        last_prices: LastPrices,
        audit: AuditLog,
        clock: Callable[[], datetime],
        strategy_pnl: StrategyPnl | None = None,
    ) -> None:
        self.store = store
        self.accounts = accounts
        self.order_accounts = order_accounts
        self.actions = actions
        self.master = master
        self.last_prices = last_prices
        self.audit = Audit(audit, clock)
        self.clock = clock
        self.strategy_pnl = strategy_pnl

    def trading_day(self) -> str:
        return self.clock().astimezone(IST).date().isoformat()

    async def place(self, order: NewOrder, principal: str) -> str:
        started = time.perf_counter()
        body = {"client_order_id": order.client_order_id, "signal_order": True}
        try:
            kite = await self.order_accounts.trading(order.account_id)
            placed = await self.actions.place(kite, order, None)  # no deadline: the signal outlives its caller
        except GatewayError as exc:
            await self.audit.append(principal, order.account_id, AUDIT_ACTION_PLACE_ORDER, body, exc,
                                    client_order_id=order.client_order_id, started=started)  # fmt: skip
            raise
        if not placed.replayed:
            await self.audit.append(principal, order.account_id, AUDIT_ACTION_PLACE_ORDER, body,
                                    outcome=f"order {placed.order_id}", client_order_id=order.client_order_id,
                                    order_id=placed.order_id, started=started)  # fmt: skip
        return placed.order_id

    async def ready(self) -> None:
        """The instrument master loaded (or refreshed for the day) through a logged-in account, so that
        `listing` answers for every intake (the webhook, the resume sweep, an approval after a restart)."""
        for session in self.accounts.all():
            if session.state()[0] is SessionState.ACTIVE:
                await self.master.ensure(session)
                return
        if not self.master.by_symbol:
            raise GatewayError(
                Status.FAILED_PRECONDITION,
                Reason.ACCOUNT_NEEDS_LOGIN,
                "no account is logged in, so the instruments cannot be read: log one in (GetLoginUrl)",
            )

    def listing(self, exchange: str, tradingsymbol: str) -> Listing:
        return self.master.resolve(InstrumentRef(symbol=f"{exchange}:{tradingsymbol}"), "instrument")

    def _any_session(self) -> AccountSession:
        for session in self.accounts.all():
            if session.state()[0] is SessionState.ACTIVE:
                return session
        raise GatewayError(
            Status.FAILED_PRECONDITION,
            Reason.ACCOUNT_NEEDS_LOGIN,
            "no account is logged in, so no last price can be read: log one in (GetLoginUrl)",
        )

    async def last_price(self, listing: Listing) -> Decimal:
        kite = self._any_session().active()
        prices = await self.last_prices.get(KiteMarket(kite), [listing.symbol])
        if listing.symbol not in prices:
            raise GatewayError(Status.UNAVAILABLE, Reason.KITE_UNAVAILABLE,
                               f"Kite gave no last price for {listing.symbol}: give the signal a price_hint, or retry",
                               {"instrument": listing.symbol})  # fmt: skip
        return kite_decimal(prices[listing.symbol])

    async def account_view(
        self, account_id: str, listing: Listing, product: str, margin: bool, position: bool
    ) -> AccountView:
        """The segment's available margin and the net position in the instrument in `product` (a target
        position is the strategy's product's: a CNC position is not an MIS strategy's to flatten), each
        read from Kite only when asked for, both at once."""
        portfolio = KitePortfolio(self.accounts.get(account_id).active())
        available, held = None, 0

        async def read_margin() -> None:
            nonlocal available
            margins = await portfolio.margins()
            segment = margins.commodity if listing.exchange == "MCX" else margins.equity
            available = segment.net if segment.enabled else None

        async def read_position() -> None:
            nonlocal held
            net = (await portfolio.positions()).net
            held = sum(
                p.quantity for p in net if p.instrument_token == listing.instrument_token and p.product == product
            )

        await asyncio.gather(*([read_margin()] if margin else []), *([read_position()] if position else []))
        return AccountView(account_id, available, held)

    async def usage(self, strategy_id: str) -> Usage:
        day_start = datetime.combine(self.clock().astimezone(IST).date(), wall_time(0), IST)
        count, notionals = await self.store.usage_since(strategy_id, day_start)
        pnl = self.strategy_pnl(strategy_id) if self.strategy_pnl is not None else None
        return Usage(sum((Decimal(n) for n in notionals), Decimal(0)), count, pnl or Decimal(0))

    async def halted(self, strategy_id: str) -> str | None:
        return await self.store.halted(strategy_id, self.trading_day())

    async def halt(self, strategy_id: str, reason: str) -> None:
        """The automatic exits' strategy halt: its signals are refused for the rest of the trading day."""
        await self.store.halt(strategy_id, self.trading_day(), reason, self.clock())

    async def positions(self, strategy_id: str) -> list[StrategyPosition]:
        """The strategy's own positions on each account, from Kite's order book and its orders."""
        by_account: dict[str, set[str]] = {}
        for account_id, order_id in await self.store.orders_of_strategy(strategy_id):
            by_account.setdefault(account_id, set()).add(order_id)
        found: list[StrategyPosition] = []
        for account_id, order_ids in sorted(by_account.items()):
            rows = await self.order_accounts.reading(account_id).orders()
            found.extend(strategy_positions(account_id, rows, frozenset(order_ids)))
        return found
