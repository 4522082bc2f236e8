"""Automatic exits: risk that acts. Each watched account's P&L is marked to live ticks (never polled)
from its positions, read from Kite when the account is activated and again after each fill; its
margin utilisation is read on fills, at most every `margin_refresh_seconds`. Configured strategies'
P&L comes from their own positions (a port: the signals' strategies). When a rule of the exits
book (kite_gateway/core/risk/exits_config.py) is crossed:

1. the crossing is claimed in the exit events table (once per scope, rule and trading day, across
   restarts and replicas: a later tick below the limit does nothing; the next trading day re-arms);
2. an account's kill switch is engaged with the reason (a strategy is halted through its port);
3. the kill switch (or halt) goes into the audit trail (AuditAction SET_KILL_SWITCH, principal
   `gateway:exits`);
4. with `square_off = true`, the scope's positions are squared off (a port: SquareOffs);
5. what was done is recorded on the event, and the event is handed to `on_exit` (alerts).

`on_pnl(account_id, pnl, utilisation)` is told each change of an account's P&L or utilisation, and
each of `mark_listeners` (the gateway alerts) each change of a scope's mark: an account's P&L and
margin utilisation, a strategy's P&L (`PnlMark`). With listeners, margins are read as for a margin
rule (on activation, after fills, at most every margin_refresh_seconds) even when none is configured.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

import structlog

from kite_gateway.core.risk.exit_rules import ACCOUNT, STRATEGY, Crossing, ExitRule, ScopeRules
from kite_gateway.core.risk.exits_config import ExitBook, ExitRules
from kite_gateway.core.risk.kill_switch import KillSwitches
from kite_gateway.core.risk.pnl import AccountPnl, StrategyPosition, Utilisation, strategy_pnl, utilisation
from kite_gateway.errors import GatewayError
from kite_gateway.kite import Margins, Positions
from kite_gateway.storage import AuditLog, ExitEventLog, StoredExit
from kite_wire import IST

log = structlog.get_logger(__name__)

PRINCIPAL = "gateway:exits"
AUDIT_ACTION_SET_KILL_SWITCH = 8  # kite_gateway.v1.AuditAction (a test holds them equal)

PriceSink = Callable[[str, Mapping[int, Decimal]], None]


class PriceFeed(Protocol):
    """Live last prices of an account's instruments (kite_gateway.streaming.price_watch.PriceWatch)."""

    async def follow(self, account_id: str, tokens: set[int], sink: PriceSink) -> None:
        """From now on hand `sink` the newest prices of exactly these instruments of the account
        (conflated: a slow sink gets the newest price of each, never blocking the feed)."""
        ...

    async def stop(self) -> None: ...


# (scope kind: "account" or "strategy", scope id, reason, request id) -> what was sent, as text for
# the record. The request id (`exits-<event id>`) is the same for every attempt at one exit: the
# square-off's idempotency key.
SquareOffPort = Callable[[str, str, str, str], Awaitable[str]]
StrategyPositions = Callable[[str], Awaitable[Sequence[StrategyPosition]]]
HaltStrategy = Callable[[str, str], Awaitable[None]]  # (strategy id, reason)
OnExit = Callable[["ExitEvent"], Awaitable[None] | None]
OnPnl = Callable[[str, Decimal, Decimal | None], None]  # (account id, P&L, utilisation or None)


@dataclass(frozen=True, slots=True)
class PnlMark:
    """A scope's mark-to-market now: its P&L and, for an account whose margins were read, its utilisation."""

    scope: str  # "account" or "strategy"
    scope_id: str
    pnl: Decimal
    utilisation: Utilisation | None
    at: datetime


OnMark = Callable[[PnlMark], None]  # called on the event loop where the tick is handled: quick, never blocking


@dataclass
class ExitPorts:
    """What the exits read and act through (wired in kite_gateway/app.py)."""

    positions: Callable[[str], Awaitable[Positions]]  # Kite's positions of an account
    margins: Callable[[str], Awaitable[Margins]]  # Kite's margins of an account
    prices: PriceFeed
    square_off: SquareOffPort | None = None
    strategy_positions: StrategyPositions | None = None
    halt_strategy: HaltStrategy | None = None
    on_exit: OnExit | None = None
    on_pnl: OnPnl | None = None


@dataclass(frozen=True, slots=True)
class ExitEvent:
    """An automatic exit that fired, and what was done."""

    event_id: int
    scope: str  # "account" or "strategy"
    scope_id: str
    rule: ExitRule
    reason: str
    pnl: Decimal
    threshold: Decimal
    peak: Decimal | None
    utilisation: Decimal | None
    square_off: bool
    outcome: str
    trading_day: date
    at: datetime


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """One scope now: P&L, the profit lock's peak, its rules, utilisation, and what fired today."""

    scope: str
    scope_id: str
    rules: ExitRules
    pnl: Decimal
    peak: Decimal | None
    utilisation: Utilisation | None
    crossed: dict[ExitRule, str]  # rule -> reason, today
    events: list[ExitEvent]
    watching: bool
    trading_day: date


def unwatched(account_id: str, now: datetime) -> ExitStatus:
    """An account of a gateway running no automatic exits: no rules, not watched."""
    day = now.astimezone(IST).date()
    return ExitStatus(ACCOUNT, account_id, ExitRules(), Decimal(0), None, None, {}, [], False, day)


def _event(stored: StoredExit) -> ExitEvent:
    return ExitEvent(
        stored.event_id, stored.scope, stored.scope_id, ExitRule(stored.rule), stored.reason, Decimal(stored.pnl),
        Decimal(stored.threshold), Decimal(stored.peak) if stored.peak else None,
        Decimal(stored.utilisation) if stored.utilisation else None, stored.square_off, stored.outcome,
        stored.trading_day, stored.created_at,
    )  # fmt: skip


@dataclass
class _Account:
    book: AccountPnl
    rules: ScopeRules
    margins: Utilisation | None = None
    margins_read: float = float("-inf")  # monotonic time of the last read
    margins_due: bool = False  # a delayed read is scheduled
    following: set[int] = field(default_factory=set)
    filled: dict[str, int] = field(default_factory=dict)  # order_id -> filled quantity seen
    last_told: tuple[Decimal, Decimal | None] | None = None
    last_marked: tuple[Decimal, Decimal | None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class ExitWatch:
    def __init__(
        self,
        book: ExitBook,
        ports: ExitPorts,
        events: ExitEventLog,
        audit: AuditLog,
        kill_switches: KillSwitches,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.book = book
        self.ports = ports
        self.events = events
        self.audit = audit
        self.kill_switches = kill_switches
        self.clock = clock
        self.monotonic = monotonic
        self.accounts: dict[str, _Account] = {}
        self.strategies: dict[str, ScopeRules] = {}
        self.strategy_positions: dict[str, list[StrategyPosition]] = {}
        self.fired: list[ExitEvent] = []  # today's and earlier events known to this process
        self._tasks: set[asyncio.Task[Any]] = set()
        self._fires: set[asyncio.Task[Any]] = set()  # exits being carried out: finished at stop, never cancelled
        self._restored: date | None = None
        self._activating: dict[str, asyncio.Lock] = {}
        self._carrying: set[int] = set()  # exits being carried out by this process
        # Exits this process carried out, by (scope, rule): what metrics count (a scrape reads it).
        self.carried_out: dict[tuple[str, str], int] = {}
        self.mark_listeners: list[OnMark] = []
        self.exit_listeners: list[Callable[[ExitEvent], None]] = []  # told of each exit carried out (alerts)
        self._strategy_marked: dict[str, Decimal] = {}  # strategy id -> the P&L last told

    def trading_day(self) -> date:
        return self.clock().astimezone(IST).date()

    # Inputs -----------------------------------------------------------------------------------

    async def activate(self, account_id: str) -> None:
        """Start watching an account (again, after a new login): read its positions and margins,
        and follow the prices of what it holds."""
        await self._restore()
        day = self.trading_day()
        state = self.accounts.get(account_id)
        if state is None:
            rules = ScopeRules(ACCOUNT, account_id, self.book.for_account(account_id), day)
            state = self.accounts[account_id] = _Account(AccountPnl(account_id), rules)
            for event in self.fired:
                if event.scope == ACCOUNT and event.scope_id == account_id and event.trading_day == day:
                    rules.crossed[event.rule] = event.reason
        await self._read_positions(account_id, state)
        if self._wants_margins(state):
            await self._read_margins(account_id, state)
        await self._refresh_strategies()
        self._evaluate(account_id)

    async def deactivate(self, account_id: str) -> None:
        """Stop watching an account (clustered: another replica owns it now and watches it)."""
        if self.accounts.pop(account_id, None) is not None:
            await self.ports.prices.follow(account_id, set(), self.prices)

    async def order_stored(self, account_id: str, order: Mapping[str, Any]) -> None:
        """An order update was stored (OrderUpdateFeed.on_stored): after a fill, positions (and,
        at most every margin_refresh_seconds, margins) are read again."""
        state = self.accounts.get(account_id)
        if state is None:  # the first update of an account logged in since the start: watch it from now
            async with self._activating.setdefault(account_id, asyncio.Lock()):
                if account_id not in self.accounts:
                    await self.activate(account_id)
            return
        order_id = str(order.get("order_id") or "")
        filled = int(order.get("filled_quantity") or 0)
        if filled <= state.filled.get(order_id, 0):
            return
        state.filled[order_id] = filled
        await self._read_positions(account_id, state)
        await self._margins_after_fill(account_id, state)
        await self._refresh_strategies()
        self._evaluate(account_id)

    def prices(self, account_id: str, prices: Mapping[int, Decimal]) -> None:
        """Live prices (the feed's sink): mark the account and its strategies, evaluate the rules."""
        state = self.accounts.get(account_id)
        if state is None:
            return
        changed = state.book.update(prices)
        day = self.trading_day()
        if day != state.rules.day:
            state.rules.new_day(day)
            self._background(self._read_positions(account_id, state))  # Kite's day positions start afresh
        if changed or prices:
            self._evaluate(account_id)

    # Reading Kite -----------------------------------------------------------------------------

    async def _read_positions(self, account_id: str, state: _Account) -> None:
        async with state.lock:
            try:
                positions = await self.ports.positions(account_id)
            except GatewayError as exc:
                log.warning("exits.positions_unreadable", account_id=account_id, error=exc.message)
                return
            state.book.reset(positions)
            await self._follow(account_id, state)

    async def _follow(self, account_id: str, state: _Account) -> None:
        tokens = state.book.open_tokens() | {
            p.instrument_token
            for positions in self.strategy_positions.values()
            for p in positions
            if p.account_id == account_id and p.quantity
        }
        await self.ports.prices.follow(account_id, tokens, self.prices)  # also onto a new hub after a login
        state.following = tokens

    def _wants_margins(self, state: _Account) -> bool:
        return (
            state.rules.rules.max_margin_utilisation is not None
            or self.ports.on_pnl is not None
            or bool(self.mark_listeners)
        )

    async def _read_margins(self, account_id: str, state: _Account) -> None:
        state.margins_read = self.monotonic()
        try:
            state.margins = utilisation(await self.ports.margins(account_id))
        except GatewayError as exc:
            log.warning("exits.margins_unreadable", account_id=account_id, error=exc.message)

    async def _margins_after_fill(self, account_id: str, state: _Account) -> None:
        if not self._wants_margins(state):
            return
        wait = state.margins_read + self.book.margin_refresh_seconds - self.monotonic()
        if wait <= 0:
            await self._read_margins(account_id, state)
        elif not state.margins_due:
            state.margins_due = True
            self._background(self._margins_later(account_id, state, wait))

    async def _margins_later(self, account_id: str, state: _Account, wait: float) -> None:
        await asyncio.sleep(wait)
        state.margins_due = False
        await self._read_margins(account_id, state)
        self._evaluate(account_id)

    async def _refresh_strategies(self) -> None:
        port = self.ports.strategy_positions
        if port is None:
            return
        day = self.trading_day()
        for strategy_id, rules in (self.book.strategies or {}).items():
            try:
                self.strategy_positions[strategy_id] = list(await port(strategy_id))
            except GatewayError as exc:
                log.warning("exits.strategy_unreadable", strategy_id=strategy_id, error=exc.message)
                continue
            if strategy_id not in self.strategies:
                scope = self.strategies[strategy_id] = ScopeRules(STRATEGY, strategy_id, rules, day)
                for event in self.fired:
                    if event.scope == STRATEGY and event.scope_id == strategy_id and event.trading_day == day:
                        scope.crossed[event.rule] = event.reason
        for account_id, state in self.accounts.items():
            await self._follow(account_id, state)

    async def _restore(self) -> None:
        """Today's exits as recorded (before a restart): they do not fire again today."""
        day = self.trading_day()
        if self._restored == day:
            return
        self._restored = day
        known = {event.event_id for event in self.fired}
        for stored in await self.events.of_day(day):
            if stored.event_id in known:
                continue
            self.fired.append(_event(stored))
            if not stored.outcome and self._take(stored.event_id):  # claimed, then the process stopped
                log.warning("exits.resumed", scope=stored.scope, scope_id=stored.scope_id, rule=stored.rule)
                self._background(self._carry_out(stored), self._fires)

    # Rules ------------------------------------------------------------------------------------

    def _evaluate(self, account_id: str) -> None:
        state = self.accounts[account_id]
        rules = state.rules
        rules.new_day(self.trading_day())
        pnl = state.book.pnl
        ratio = state.margins.ratio if state.margins is not None else None
        for crossing in rules.evaluate(pnl, ratio if rules.rules.max_margin_utilisation is not None else None):
            self._background(self._fire(rules, crossing, rules.pnl, rules.peak, rules.utilisation), self._fires)
        told = (pnl, ratio)
        if self.ports.on_pnl is not None and told != state.last_told:
            state.last_told = told
            self.ports.on_pnl(account_id, pnl, ratio)
        if self.mark_listeners and told != state.last_marked:
            state.last_marked = told
            self._mark(PnlMark(ACCOUNT, account_id, pnl, state.margins, self.clock()))
        for strategy_id, positions in self.strategy_positions.items():
            scope = self.strategies.get(strategy_id)
            if scope is None or not any(p.account_id == account_id for p in positions):
                continue
            scope.new_day(self.trading_day())
            books = {a: s.book for a, s in self.accounts.items()}
            marked = strategy_pnl(positions, books)
            for crossing in scope.evaluate(marked, None):
                fire = self._fire(scope, crossing, scope.pnl, scope.peak, None)
                self._background(fire, self._fires)
            if self.mark_listeners and self._strategy_marked.get(strategy_id) != marked:
                self._strategy_marked[strategy_id] = marked
                self._mark(PnlMark(STRATEGY, strategy_id, marked, None, self.clock()))

    def _mark(self, mark: PnlMark) -> None:
        for listener in self.mark_listeners:
            try:
                listener(mark)
            except Exception:  # a failing listener must not stop the rules being evaluated
                log.exception("exits.mark_listener_failed", scope=mark.scope, scope_id=mark.scope_id)

    async def _fire(
        self, scope: ScopeRules, crossing: Crossing, pnl: Decimal, peak: Decimal | None, used: Decimal | None
    ) -> None:
        """Claim an exit (the values are the scope's when the rule crossed), then carry it out."""
        claimed = await self.events.claim(
            scope.day, scope.kind, scope.scope_id, crossing.rule.value, crossing.reason, str(pnl),
            str(crossing.threshold), "" if peak is None else str(peak), "" if used is None else str(used),
            scope.rules.square_off,
        )  # fmt: skip
        if claimed is None:
            log.info("exits.already_fired", scope=scope.kind, scope_id=scope.scope_id, rule=crossing.rule.value)
            return
        log.warning("exits.crossed", scope=scope.kind, scope_id=scope.scope_id, reason=crossing.reason)
        if self._take(claimed.event_id):
            await self._carry_out(claimed)

    def _take(self, event_id: int) -> bool:
        """Whether this call is the one to carry the exit out (not already being done here)."""
        if event_id in self._carrying:
            return False
        self._carrying.add(event_id)
        return True

    async def _carry_out(self, claimed: StoredExit) -> None:
        """Stop the scope's trading, square off if configured, record what was done, tell on_exit.
        Also for an exit claimed before a restart but not finished (its outcome empty)."""
        reason = f"automatic exit: {claimed.reason}"
        done = [await self._stop_trading(claimed, reason)]
        if claimed.square_off:
            done.append(await self._square_off(claimed, reason))
        outcome = "; ".join(done)
        try:
            await self.events.finish(claimed.event_id, outcome)
        except GatewayError as exc:
            log.warning("exits.outcome_not_recorded", event_id=claimed.event_id, error=exc.message)
        event = replace(_event(claimed), outcome=outcome)
        key = (event.scope, str(event.rule))
        self.carried_out[key] = self.carried_out.get(key, 0) + 1
        self.fired = [e for e in self.fired if e.event_id != event.event_id] + [event]
        for listener in self.exit_listeners:
            try:
                listener(event)
            except Exception:  # an alert that cannot be raised never stops the exit
                log.exception("exits.listener_failed", event_id=event.event_id)
        if self.ports.on_exit is not None:
            told = self.ports.on_exit(event)
            if inspect.isawaitable(told):
                await told

    async def _stop_trading(self, claimed: StoredExit, reason: str) -> str:
        kind, scope_id = claimed.scope, claimed.scope_id
        request = {"scope": kind, "scope_id": scope_id, "rule": claimed.rule, "engaged": True}
        accounts = [scope_id] if kind == ACCOUNT else self._strategy_accounts(scope_id)
        try:
            if kind == ACCOUNT:
                await self.kill_switches.set(scope_id, True, reason, PRINCIPAL)
                done = f"kill switch of {scope_id} engaged"
            elif self.ports.halt_strategy is not None:
                await self.ports.halt_strategy(scope_id, reason)
                done = f"strategy {scope_id} halted"
            else:
                done = f"strategy {scope_id} not halted: no strategy halt is wired"
        except GatewayError as exc:
            done = f"could not stop trading ({exc.message})"
        for account_id in accounts or [""]:
            try:
                await self.audit.append(
                    self.clock(), PRINCIPAL, account_id, AUDIT_ACTION_SET_KILL_SWITCH, "", "",
                    json.dumps({**request, "reason": reason}), 0, done, 0.0,
                )  # fmt: skip
            except GatewayError as exc:
                log.warning("exits.audit_failed", account_id=account_id, error=exc.message)
        return done

    async def _square_off(self, claimed: StoredExit, reason: str) -> str:
        port = self.ports.square_off
        if port is None:
            return "not squared off: no square-off is wired"
        try:
            return await port(claimed.scope, claimed.scope_id, reason, f"exits-{claimed.event_id}")
        except GatewayError as exc:
            log.warning("exits.square_off_failed", scope=claimed.scope, scope_id=claimed.scope_id, error=exc.message)
            return f"square-off failed: {exc.message}"

    def _strategy_accounts(self, strategy_id: str) -> list[str]:
        return sorted({p.account_id for p in self.strategy_positions.get(strategy_id, [])})

    # Status -----------------------------------------------------------------------------------

    def account_status(self, account_id: str) -> ExitStatus:
        state = self.accounts.get(account_id)
        day = self.trading_day()
        events = [e for e in self.fired if e.scope == ACCOUNT and e.scope_id == account_id and e.trading_day == day]
        if state is None:
            rules = self.book.for_account(account_id)
            crossed = {e.rule: e.reason for e in events}
            return ExitStatus(ACCOUNT, account_id, rules, Decimal(0), None, None, crossed, events, False, day)
        scope = state.rules
        return ExitStatus(
            ACCOUNT, account_id, scope.rules, state.book.pnl, scope.peak, state.margins, dict(scope.crossed),
            events, True, day,
        )  # fmt: skip

    def strategy_pnl_now(self, strategy_id: str) -> Decimal | None:
        """The strategy's P&L as last marked (its own positions at live prices); None: not followed."""
        positions = self.strategy_positions.get(strategy_id)
        if positions is None:
            return None
        return strategy_pnl(positions, {a: s.book for a, s in self.accounts.items()})

    def strategy_statuses(self, account_id: str) -> list[ExitStatus]:
        """The configured strategies holding positions on the account (P&L over all their accounts)."""
        day = self.trading_day()
        found = []
        for strategy_id, positions in sorted(self.strategy_positions.items()):
            scope = self.strategies.get(strategy_id)
            if scope is None or not any(p.account_id == account_id for p in positions):
                continue
            books = {a: s.book for a, s in self.accounts.items()}
            events = [
                e for e in self.fired if e.scope == STRATEGY and e.scope_id == strategy_id and e.trading_day == day
            ]
            pnl = strategy_pnl(positions, books)
            status = ExitStatus(
                STRATEGY, strategy_id, scope.rules, pnl, scope.peak, None, dict(scope.crossed), events, True, day
            )
            found.append(status)
        return found

    # Lifecycle --------------------------------------------------------------------------------

    def _background(self, coroutine: Coroutine[Any, Any, None], tasks: set[asyncio.Task[Any]] | None = None) -> None:
        held = self._tasks if tasks is None else tasks
        task = asyncio.create_task(coroutine)
        held.add(task)

        def done(task: asyncio.Task[Any]) -> None:
            held.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.error("exits.task_failed", error=repr(task.exception()))

        task.add_done_callback(done)

    async def settle(self) -> None:
        """Wait until nothing is being done (tests; shutdown)."""
        while self._tasks or self._fires:
            await asyncio.gather(*self._tasks, *self._fires, return_exceptions=True)

    async def stop(self) -> None:
        """Stop following prices; exits being carried out are finished, delayed reads dropped."""
        for task in list(self._tasks):
            task.cancel()
        await self.settle()
        await self.ports.prices.stop()
