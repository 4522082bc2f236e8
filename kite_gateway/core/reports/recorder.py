"""Keeping the fill log: Kite's trades stored once each, with each executed order's charges, and
gap markers where the log cannot be complete.

Two paths feed it. An order update that shows more filled quantity than the log holds for the order
reads that order's trades at once (so the day's reports are current). A reconciliation reads the
day's whole trade book (Kite's /trades lists today's trades only): when the gateway starts, after
every outage of the order-update stream, and every few minutes while the account is logged in
(kite_gateway/app.py), so that a trade whose update was missed, or whose read failed, is still
stored. Every successful reconciliation marks the account watched until its time. When the mark is
from an earlier IST day than a reconciliation, the trades after the mark on that day and every day
between are gone from Kite: the log records a gap over those days instead of pretending they had no
trades. Storing is idempotent, so the two paths, a retry, or two replicas never duplicate a fill.

Charges come from Kite's charges API (the virtual contract note) for each order's filled quantity at
its average price; when Kite's note cannot be had the gateway's own dated rate table estimates them
(marked ESTIMATED, and tried again from Kite at the next reconciliation)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Protocol

import structlog

from kite_gateway.core.reports.model import Charges, ChargeSource, Fill, FillGap, OrderCharges, Side
from kite_gateway.errors import GatewayError
from kite_gateway.storage import FillLog
from kite_wire import IST, kite_decimal, parse_kite_timestamp

log = structlog.get_logger(__name__)
# A watch mark this late in its IST day missed nothing of it (MCX's evening session ends 23:55).
DAY_END = time(23, 56)


def instrument_type_of(exchange: str, tradingsymbol: str) -> str:
    """EQ, FUT, CE or PE from Kite's trading symbol (derivative symbols end in FUT, CE or PE)."""
    if exchange in ("NSE", "BSE"):
        return "EQ"
    for suffix in ("FUT", "CE", "PE"):
        if tradingsymbol.endswith(suffix):
            return suffix
    return ""


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=IST)
    if isinstance(value, str) and value.strip():
        try:
            return parse_kite_timestamp(value)
        except ValueError:
            return None
    return None


def fill_of(account_id: str, row: Mapping[str, Any]) -> Fill | None:
    """A fill from one row of Kite's trades; None for a row that is not a complete trade."""
    side, quantity = str(row.get("transaction_type") or ""), int(row.get("quantity") or 0)
    filled_at = _moment(row.get("fill_timestamp")) or _moment(row.get("exchange_timestamp"))
    trade_id, order_id = str(row.get("trade_id") or ""), str(row.get("order_id") or "")
    if side not in ("BUY", "SELL") or quantity <= 0 or filled_at is None or not trade_id or not order_id:
        return None
    exchange, symbol = str(row.get("exchange") or ""), str(row.get("tradingsymbol") or "")
    return Fill(
        account_id=account_id,
        trade_id=trade_id,
        order_id=order_id,
        exchange=exchange,
        tradingsymbol=symbol,
        instrument_token=int(row.get("instrument_token") or 0),
        instrument_type=instrument_type_of(exchange, symbol),
        side=Side(side),
        product=str(row.get("product") or ""),
        quantity=quantity,
        price=kite_decimal(row.get("average_price")),
        filled_at=filled_at,
    )


@dataclass(frozen=True, slots=True)
class NoteOrder:
    """One executed order to ask Kite's contract note for: its filled quantity at its average price."""

    order_id: str
    exchange: str
    tradingsymbol: str
    side: Side
    product: str
    quantity: int
    average_price: Decimal


class TradeSource(Protocol):
    """Kite's trades and charges of an account (kite_gateway/report_ports.py)."""

    async def day_trades(self, account_id: str) -> list[Mapping[str, Any]]: ...

    async def order_trades(self, account_id: str, order_id: str) -> list[Mapping[str, Any]]: ...

    async def contract_notes(self, account_id: str, orders: Sequence[NoteOrder]) -> dict[str, Charges]: ...


Estimate = Callable[[Sequence[Fill]], Charges]  # one order's fills -> the dated rate table's charges


def note_order(fills: Sequence[Fill]) -> NoteOrder:
    first = fills[0]
    quantity = sum(f.quantity for f in fills)
    average = sum((f.price * f.quantity for f in fills), Decimal(0)) / quantity
    return NoteOrder(first.order_id, first.exchange, first.tradingsymbol, first.side, first.product, quantity,
                     average)  # fmt: skip


class FillRecorder:
    def __init__(
        self,
        fills: FillLog,
        source: TradeSource,
        clock: Callable[[], datetime],
        estimate: Estimate | None = None,
        coalesce: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`coalesce`: seconds the fills of a burst of updates wait, so that one read of the day's
        trades (and one contract-note call) stores them all; 0 reads each order's trades at once.
        The reads share the account's Kite rate budget with its orders, so a burst of fills must not
        spend it two calls per order."""
        self.fills = fills
        self.source = source
        self.clock = clock
        self.estimate = estimate
        self.coalesce = coalesce
        self._sleep = sleep
        self._reading: dict[str, asyncio.Task[None]] = {}
        self._dirty: set[str] = set()

    async def order_updated(self, account_id: str, order: Mapping[str, Any]) -> None:
        """An order-update hook (OrderUpdateFeed.on_stored): store the order's new fills. Never raises:
        what it could not read, the next reconciliation stores."""
        order_id = str(order.get("order_id") or "")
        filled = int(kite_decimal(order.get("filled_quantity")))
        if not order_id or filled <= 0:
            return
        try:
            known = await self.fills.of_order(account_id, order_id)
            if sum(f.quantity for f in known) >= filled:
                return
            if self.coalesce > 0:
                self._read_soon(account_id)
                return
            rows = await self.source.order_trades(account_id, order_id)
            await self._store(account_id, rows, "order_update")
        except GatewayError as exc:
            log.warning("fills.order_read_failed", account_id=account_id, order_id=order_id, error=exc.message)
        except Exception:  # a hook must not die; the reconciliation catches up
            log.exception("fills.order_update_failed", account_id=account_id, order_id=order_id)

    def _read_soon(self, account_id: str) -> None:
        """Read the account's day of trades `coalesce` seconds from now (once for however many updates
        arrive meanwhile; again after it, when more arrived while it read)."""
        self._dirty.add(account_id)
        if account_id not in self._reading:
            self._reading[account_id] = asyncio.create_task(self._read_later(account_id))

    async def _read_later(self, account_id: str) -> None:
        try:
            while account_id in self._dirty:
                await self._sleep(self.coalesce)
                self._dirty.discard(account_id)
                try:
                    await self.reconcile(account_id, recharge=False)  # new fills' orders only: the keeper re-charges
                except GatewayError as exc:  # the next update, or the keeper's round, reads again
                    log.warning("fills.read_failed", account_id=account_id, error=exc.message)
                except Exception:
                    log.exception("fills.read_failed", account_id=account_id)
        finally:
            self._reading.pop(account_id, None)

    async def stop(self) -> None:
        """Cancel the reads waiting to coalesce (the reconciliation at the next start stores their fills)."""
        for task in list(self._reading.values()):
            task.cancel()
        await asyncio.gather(*self._reading.values(), return_exceptions=True)

    async def reconcile(self, account_id: str, recharge: bool = True) -> int:
        """Store the day's trades the log lacks, charge their orders (with `recharge`, also bring every
        order of the day's estimated or stale charges up to date), and mark the account watched
        (recording a gap when the last mark was on an earlier day); how many fills were new. A failed
        read raises GatewayError and leaves the mark where it was."""
        now = self.clock()
        rows = await self.source.day_trades(account_id)
        new = await self._store(account_id, rows, "reconciliation", refresh_estimates=recharge)
        await self._gap_since_mark(account_id, now)
        await self.fills.watched(account_id, now)
        if new:
            log.info("fills.reconciled", account_id=account_id, new_fills=new)
        return new

    async def _gap_since_mark(self, account_id: str, now: datetime) -> None:
        mark = await self.fills.watched_at(account_id)
        if mark is None:
            return  # the log begins now
        mark_ist, today = mark.astimezone(IST), now.astimezone(IST).date()
        start = mark_ist.date() if mark_ist.time() < DAY_END else mark_ist.date() + timedelta(days=1)
        if start >= today:
            return
        end = today - timedelta(days=1)
        reason = (
            f"the gateway did not see this account's trades from {mark_ist:%Y-%m-%d %H:%M} IST until "
            f"{now.astimezone(IST):%Y-%m-%d %H:%M} IST, and Kite only lists the current day's trades: fills of "
            f"{_days(start, end)} may be missing"
        )
        await self.fills.add_gap(FillGap(account_id, start, end, reason, now))
        log.warning("fills.gap", account_id=account_id, start=start.isoformat(), end=end.isoformat())

    async def _store(
        self, account_id: str, rows: Iterable[Mapping[str, Any]], source: str, refresh_estimates: bool = False
    ) -> int:
        fills = [f for f in (fill_of(account_id, row) for row in rows) if f is not None]
        new = await self.fills.record(fills, source, self.clock())
        orders = {f.order_id for f in new}
        if refresh_estimates:
            orders |= {f.order_id for f in fills}
        await self._charge(account_id, sorted(orders))
        return len(new)

    async def _charge(self, account_id: str, order_ids: Sequence[str]) -> None:
        """Bring the charges of `order_ids` up to their filled quantity: Kite's note, else an estimate."""
        stale: dict[str, list[Fill]] = {}
        for order_id in order_ids:
            fills = await self.fills.of_order(account_id, order_id)
            if not fills:
                continue
            have = await self.fills.charges_of(account_id, order_id)
            filled = sum(f.quantity for f in fills)
            if have is None or have.quantity != filled or have.source is not ChargeSource.CONTRACT_NOTE:
                stale[order_id] = fills
        if not stale:
            return
        notes: dict[str, Charges] = {}
        try:
            notes = await self.source.contract_notes(account_id, [note_order(f) for f in stale.values()])
        except GatewayError as exc:
            log.warning("fills.contract_note_failed", account_id=account_id, orders=len(stale), error=exc.message)
        now = self.clock()
        priced: list[OrderCharges] = []
        for order_id, fills in stale.items():
            trade_date = min(f.trade_date for f in fills)
            filled = sum(f.quantity for f in fills)
            if order_id in notes:
                charges, source = notes[order_id], ChargeSource.CONTRACT_NOTE
            elif self.estimate is not None:
                try:
                    charges, source = self.estimate(fills), ChargeSource.ESTIMATED
                except LookupError:  # no rate in the table for it (before it begins): none stored
                    continue
            else:
                continue
            priced.append(OrderCharges(account_id, order_id, trade_date, charges, source, filled))
        await self.fills.save_charges(priced, now)  # one commit for the lot


def _days(start: date, end: date) -> str:
    return start.isoformat() if start == end else f"{start.isoformat()} to {end.isoformat()}"


def by_order(fills: Iterable[Fill]) -> dict[str, list[Fill]]:
    grouped: dict[str, list[Fill]] = defaultdict(list)
    for f in fills:
        grouped[f.order_id].append(f)
    return grouped
