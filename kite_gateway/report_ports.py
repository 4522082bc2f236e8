"""The reports' ports over the running gateway (kite_gateway/core/reports), built by the composition
root: Kite's trades and contract notes through each account's session, prices to mark open lots
(today's last price, or a past day's close from Kite's daily candles), and the day's order
statuses, audit entries and alerts from the gateway's own stores."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from kite_gateway.core.accounts import AccountManager, AccountSession, SessionState
from kite_gateway.core.market import InstrumentMaster, InstrumentRef
from kite_gateway.core.reports import Charges, NoteOrder
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite import ContractNoteOrder, KiteMarket, KiteOrders
from kite_gateway.storage import AlertStore, AuditEntry, AuditLog, OrderUpdateLog, StoredAlert
from kite_wire import IST, kite_decimal, kite_number

AUDIT_PAGE = 1000


def charges_of(row: Mapping[str, Any]) -> Charges:
    """Kite's contract-note charges (one ChargesRow) as the fill log keeps them."""
    gst = row.get("gst") or {}
    return Charges(
        brokerage=kite_decimal(row.get("brokerage")),
        transaction_tax=kite_decimal(row.get("transaction_tax")),
        transaction_tax_type=str(row.get("transaction_tax_type") or "stt"),
        exchange_turnover_charge=kite_decimal(row.get("exchange_turnover_charge")),
        sebi_turnover_charge=kite_decimal(row.get("sebi_turnover_charge")),
        stamp_duty=kite_decimal(row.get("stamp_duty")),
        gst=kite_decimal(gst.get("total") if isinstance(gst, Mapping) else gst),
    )


class KiteTrades:
    """The fill recorder's TradeSource: Kite's trades and charges API of each account."""

    def __init__(self, accounts: AccountManager) -> None:
        self.accounts = accounts

    def _orders(self, account_id: str) -> KiteOrders:
        return KiteOrders(self.accounts.get(account_id).active())

    async def day_trades(self, account_id: str) -> list[Mapping[str, Any]]:
        return [dict(row) for row in await self._orders(account_id).trades()]

    async def order_trades(self, account_id: str, order_id: str) -> list[Mapping[str, Any]]:
        return [dict(row) for row in await self._orders(account_id).order_trades(order_id)]

    async def contract_notes(self, account_id: str, orders: Sequence[NoteOrder]) -> dict[str, Charges]:
        """Kite's virtual contract note of each order (matched back by position: notes_by_order)."""
        if not orders:
            return {}
        asked: list[ContractNoteOrder] = [
            {
                "order_id": o.order_id,
                "exchange": o.exchange,
                "tradingsymbol": o.tradingsymbol,
                "transaction_type": o.side.value,
                "variety": "regular",
                "product": o.product,
                "order_type": "MARKET",
                "quantity": o.quantity,
                "average_price": kite_number(o.average_price),
            }
            for o in orders
        ]
        return notes_by_order(orders, await self._orders(account_id).virtual_contract_note(asked))


def notes_by_order(orders: Sequence[NoteOrder], notes: Sequence[Mapping[str, Any]]) -> dict[str, Charges]:
    """Kite's notes matched back to the orders asked: Kite answers in the order asked and names no
    order id, so a note is taken for the order at its position only when it is of that order
    (exchange, symbol, side, quantity); an order without its note is estimated and asked again."""
    found: dict[str, Charges] = {}
    for order, note in zip(orders, notes, strict=False):
        same = (
            str(note.get("exchange") or "") == order.exchange
            and str(note.get("tradingsymbol") or "") == order.tradingsymbol
            and str(note.get("transaction_type") or "") == order.side.value
            and int(kite_decimal(note.get("quantity"))) == order.quantity
        )
        if same:
            found[order.order_id] = charges_of(note.get("charges") or {})
    return found


class ReportPrices:
    """Marks for open lots: today's last prices, or a past day's closing prices."""

    def __init__(self, accounts: AccountManager, master: InstrumentMaster, today: Any) -> None:
        self.accounts = accounts
        self.master = master
        self.today = today  # () -> the IST date today

    def _session(self) -> AccountSession:
        for session in self.accounts.all():
            if session.state()[0] is SessionState.ACTIVE:
                return session
        raise GatewayError(Status.UNAVAILABLE, Reason.ACCOUNT_NEEDS_LOGIN,
                           "no account is logged in to read prices with; open lots are counted at cost")  # fmt: skip

    async def __call__(self, symbols: Collection[str], day: date) -> dict[str, Decimal]:
        session = self._session()
        market = KiteMarket(session.active())
        if day >= self.today():
            return await market.ltp(sorted(symbols))
        await self.master.ensure(session)
        closes = await asyncio.gather(*(self._close(market, s, day) for s in sorted(symbols)))
        return {s: c for s, c in zip(sorted(symbols), closes, strict=True) if c is not None}

    async def _close(self, market: KiteMarket, symbol: str, day: date) -> Decimal | None:
        listing = self.master.find(InstrumentRef(symbol=symbol))
        if listing is None:
            return None  # an expired contract the master no longer lists
        start = datetime.combine(day, time(0), IST)
        try:
            candles = await market.historical_data(listing.instrument_token, start, start.replace(hour=23, minute=59),
                                                   "day", False, False)  # fmt: skip
        except GatewayError:
            return None
        return candles[-1].ohlc.close if candles else None


class StoredDay:
    """The daily report's DayRecords from the gateway's order-update log, audit trail and alerts."""

    def __init__(self, updates: OrderUpdateLog, audit: AuditLog, alerts: AlertStore | None) -> None:
        self.updates = updates
        self.audit_log = audit
        self.alert_store = alerts

    async def order_statuses(self, account_id: str, start: datetime, end: datetime) -> dict[str, str]:
        statuses: dict[str, str] = {}
        for update in await self.updates.received_between(account_id, start, end):
            order_id, status = str(update.order.get("order_id") or ""), str(update.order.get("status") or "")
            if order_id and status:
                statuses[order_id] = status
        return statuses

    async def audit(self, account_id: str, start: datetime, end: datetime) -> list[AuditEntry]:
        entries: list[AuditEntry] = []
        after = 0
        while True:
            page = await self.audit_log.query(account_id, start, end, "", "", after, AUDIT_PAGE)
            entries.extend(page)
            if len(page) < AUDIT_PAGE:
                return entries
            after = page[-1].event_id

    async def alerts(self, start: datetime, end: datetime) -> list[StoredAlert]:
        return await self.alert_store.between(start, end) if self.alert_store is not None else []
