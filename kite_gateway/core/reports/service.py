"""The report use cases over the fill log (ReportService and the HTTP downloads call these): the
tradebook a page at a time, the P&L statement over a date range, the daily report, the tax P&L of a
financial year; each with the log's gaps over what it covers. Which accounts a report covers (a
scope of accounts and a group) is resolved here; whether the caller may read them is the caller's
check (the servicer's), on the resolved accounts."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Protocol

from kite_gateway.core.reports.charges import dp_charges
from kite_gateway.core.reports.lots import Book
from kite_gateway.core.reports.model import Charges, Fill, FillGap, Side
from kite_gateway.core.reports.statements import PnlLine, PnlStatement, open_lots, open_mark_symbols, pnl_statement
from kite_gateway.core.reports.tax import TaxPnl, TaxRules, tax_pnl
from kite_gateway.core.reports.tax import rules as tax_rules
from kite_gateway.errors import GatewayError, Reason, Status, invalid
from kite_gateway.storage import FillLog, FillQuery, page_key
from kite_wire import IST

MAX_RANGE_DAYS = 3660
# The most fills a P&L, tax or daily report reads (every fill up to its end, for the lots carried in):
# about 2.6 KiB each in memory while the report is made, so a report holds at most about 500 MiB.
MAX_REPORT_FILLS = 200_000
FIRST_YEAR, LAST_YEAR = 2000, 2999  # dates a report may name (the fill log holds nothing outside them)
MAX_PAGE = 1000
DEFAULT_PAGE = 100


@dataclass(frozen=True, slots=True)
class Scope:
    account_ids: tuple[str, ...] = ()
    group: str = ""


class DayRecords(Protocol):
    """What else happened on a day, from the gateway's other stores (kite_gateway/report_ports.py)."""

    async def order_statuses(self, account_id: str, start: datetime, end: datetime) -> dict[str, str]:
        """The last stored status of each order updated within [start, end), by order id."""
        ...

    async def audit(self, account_id: str, start: datetime, end: datetime) -> list[Any]: ...

    async def alerts(self, start: datetime, end: datetime) -> list[Any]: ...


Marks = Callable[[Collection[str], date], Any]  # (symbols, day) -> awaitable {symbol: price}; missing: unmarked


@dataclass(frozen=True, slots=True)
class Tradebook:
    fills: tuple[Fill, ...]
    next_after: tuple[str, str, str, str] | None
    gaps: tuple[FillGap, ...]


@dataclass(frozen=True, slots=True)
class Statement:
    statement: PnlStatement
    gaps: tuple[FillGap, ...]


@dataclass(frozen=True, slots=True)
class TaxReport:
    financial_year: int
    accounts: tuple[tuple[str, TaxPnl], ...]
    rules: TaxRules
    gaps: tuple[FillGap, ...]


@dataclass(frozen=True, slots=True)
class DailyAccount:
    account_id: str
    orders: dict[str, int]  # status -> how many
    fills: tuple[Fill, ...]
    pnl: PnlLine
    risk_refusals: tuple[Any, ...]
    kill_switch_events: tuple[Any, ...]
    alerts: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class DailyReport:
    day: date
    accounts: tuple[DailyAccount, ...]
    consolidated: DailyAccount
    gaps: tuple[FillGap, ...]


# How the audit trail tells a risk refusal (FAILED_PRECONDITION with the risk checks' or the kill
# switches' message: kite_gateway/core/risk/checks.py, kill_switch.py) and a kill-switch change.
FAILED_PRECONDITION = 9
AUDIT_SET_KILL_SWITCH = 8


def is_risk_refusal(entry: Any) -> bool:
    outcome = str(entry.outcome)
    return int(entry.status_code) == FAILED_PRECONDITION and (
        outcome.startswith("risk limit ") or ("kill switch" in outcome and "is engaged" in outcome)
    )


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), IST)
    return start, start + timedelta(days=1)


def check_day(day: date | None, field: str) -> date:
    if day is None:
        raise invalid(field, "required: an IST trading date")
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise invalid(field, f"{day} is out of range: a date in the years {FIRST_YEAR} to {LAST_YEAR}")
    return day


def check_range(start: date | None, end: date | None) -> tuple[date, date]:
    start, end = check_day(start, "dates.start"), check_day(end, "dates.end")
    if start > end:
        raise invalid("dates", f"the range starts ({start}) after it ends ({end})")
    if (end - start).days > MAX_RANGE_DAYS:
        raise invalid("dates", f"the range is {(end - start).days} days; at most {MAX_RANGE_DAYS}")
    return start, end


class Reports:
    def __init__(
        self,
        fills: FillLog,
        accounts: Callable[[], Sequence[str]],
        members: Callable[[str], Sequence[str]] | None,
        marks: Marks,
        records: DayRecords,
        clock: Callable[[], datetime],
        max_fills: int = MAX_REPORT_FILLS,
    ) -> None:
        self.fills = fills
        self.accounts = accounts
        self.members = members
        self.marks = marks
        self.records = records
        self.clock = clock
        self.max_fills = max_fills

    def resolve(self, scope: Scope, readable: Callable[[str], bool]) -> tuple[str, ...]:
        """The accounts of a scope: those named and the group's; every readable account when empty.
        An unknown account or group is NOT_FOUND."""
        known = set(self.accounts())
        if not scope.account_ids and not scope.group:
            return tuple(sorted(a for a in known if readable(a)))
        chosen = set(scope.account_ids)
        if scope.group:
            chosen |= set(self._group(scope.group))
        for account_id in sorted(chosen):
            if account_id not in known:
                raise GatewayError(Status.NOT_FOUND, Reason.ACCOUNT_NOT_FOUND,
                                   f"account {account_id!r} is not known to this gateway (AccountService.ListAccounts "
                                   "lists them)", {"account_id": account_id})  # fmt: skip
        return tuple(sorted(chosen))

    def _group(self, group: str) -> Sequence[str]:
        try:
            if self.members is None:
                raise KeyError(group)
            return self.members(group)
        except KeyError:
            raise GatewayError(Status.NOT_FOUND, Reason.ACCOUNT_NOT_FOUND,
                               f"account group {group!r} is not known (groups are the strategies file's "
                               "[account_groups])", {"group": group}) from None  # fmt: skip

    def today(self) -> date:
        return self.clock().astimezone(IST).date()

    # Tradebook --------------------------------------------------------------------------------

    async def tradebook(
        self,
        accounts: Sequence[str],
        start: date,
        end: date,
        symbol: str = "",
        side: Side | None = None,
        product: str = "",
        segment: Any = None,
        page_size: int = 0,
        after: tuple[str, str, str, str] | None = None,
    ) -> Tradebook:
        size = page_size or DEFAULT_PAGE
        if not 0 < size <= MAX_PAGE:
            raise invalid("page_size", f"{page_size} is out of range: 1-{MAX_PAGE} (or 0 for {DEFAULT_PAGE})")
        exchange, _, tradingsymbol = symbol.partition(":") if symbol else ("", "", "")
        if symbol and not (exchange and tradingsymbol):
            raise invalid("symbol", f"{symbol!r} is not EXCHANGE:TRADINGSYMBOL")
        query = FillQuery(accounts, start, end, exchange, tradingsymbol, side, product)
        page: list[Fill] = []
        cursor = after
        while len(page) <= size:  # a segment filter is applied here: read on until a page and one more
            batch = await self.fills.fills(query, cursor, size + 1)
            page.extend(f for f in batch if segment is None or f.segment is segment)
            if len(batch) < size + 1:
                break
            cursor = page_key(batch[-1])
        next_after = page_key(page[size - 1]) if len(page) > size else None
        page = page[:size]
        gaps = await self.fills.gaps(accounts, start, end)
        return Tradebook(tuple(page), next_after, tuple(gaps))

    # P&L --------------------------------------------------------------------------------------

    async def history(self, accounts: Sequence[str], end: date) -> list[Fill]:
        """Every fill of the accounts up to `end` (the lots carried into any range come from them);
        RESOURCE_EXHAUSTED past MAX_REPORT_FILLS."""
        query = FillQuery(accounts, None, end)
        found = await self.fills.count(query)
        if found > self.max_fills:
            raise GatewayError(Status.RESOURCE_EXHAUSTED, Reason.GATEWAY_LIMIT_REACHED,
                               f"the report would read {found} fills (every fill of its accounts up to {end}); a "
                               f"report reads at most {self.max_fills}: cover fewer accounts per call",
                               {"fills": str(found), "limit": str(self.max_fills)})  # fmt: skip
        return await self.fills.fills(query)

    async def pnl(self, accounts: Sequence[str], start: date, end: date) -> Statement:
        fills = await self.history(accounts, end)
        charges = await self.fills.charges(accounts, start, end)
        book = open_lots(fills, end)
        marks = await self._marks(book, end)
        dp = {(account_id, f"EQ:{symbol}", day): Charges(dp=amount)
              for (account_id, day, symbol), amount in dp_charges(fills).items()}  # fmt: skip
        statement = pnl_statement(fills, charges, start, end, marks, dp, book)
        gaps = await self.fills.gaps(accounts, None, end)
        return Statement(statement, tuple(gaps))

    async def _marks(self, book: Book, end: date) -> dict[str, Decimal]:
        symbols = open_mark_symbols(book)
        if not symbols:
            return {}
        try:
            found = await self.marks(symbols, min(end, self.today()))
        except GatewayError:
            return {}  # unmarked: the open lots count at cost, and the lines say so (no mark price)
        return dict(found)

    # Daily ------------------------------------------------------------------------------------

    async def daily(self, accounts: Sequence[str], day: date) -> DailyReport:
        start, end = day_bounds(day)
        statement = (await self.pnl(accounts, day, day)).statement
        lines = {a.account_id: a.total for a in statement.accounts}
        alerts = await self.records.alerts(start, end)
        reports = []
        for account_id in accounts:
            statuses, audit = await asyncio.gather(
                self.records.order_statuses(account_id, start, end), self.records.audit(account_id, start, end)
            )
            reports.append(
                DailyAccount(
                    account_id,
                    dict(sorted(Counter(statuses.values()).items())),
                    tuple(await self.fills.of_day(account_id, day)),
                    lines.get(account_id, PnlLine(account_id)),
                    tuple(e for e in audit if is_risk_refusal(e)),
                    tuple(e for e in audit if int(e.action) == AUDIT_SET_KILL_SWITCH),
                    tuple(a for a in alerts if _about(a, account_id)),
                )
            )
        gateway_wide = await self.records.audit("", start, end)  # the gateway-wide kill switch's entries
        consolidated = DailyAccount(
            "",
            dict(sorted(sum((Counter(r.orders) for r in reports), Counter()).items())),
            tuple(sorted((f for r in reports for f in r.fills), key=lambda f: (f.filled_at, f.trade_id))),
            statement.consolidated.total,
            tuple(e for r in reports for e in r.risk_refusals),
            tuple(e for r in reports for e in r.kill_switch_events)
            + tuple(e for e in gateway_wide if int(e.action) == AUDIT_SET_KILL_SWITCH),
            tuple({a.sequence: a for r in reports for a in r.alerts}.values()),
        )
        gaps = await self.fills.gaps(accounts, day, day)
        return DailyReport(day, tuple(reports), consolidated, tuple(gaps))

    # Tax P&L ----------------------------------------------------------------------------------

    async def tax(self, accounts: Sequence[str], financial_year: int) -> TaxReport:
        """Each account's tax P&L of the financial year (FIFO within each account, from every fill
        the log has up to the year's end), with the log's gaps up to then."""
        if not FIRST_YEAR <= financial_year <= self.today().year:
            raise invalid("financial_year", f"{financial_year} is out of range: {FIRST_YEAR} to {self.today().year} "
                                            "(the year the financial year begins: 2025 for FY 2025-26)")  # fmt: skip
        end = date(financial_year + 1, 3, 31)
        fills = await self.history(accounts, end)
        charges = await self.fills.charges(accounts, None, end)
        dp = dp_charges(fills)
        try:
            per_account = tuple(
                (account_id, tax_pnl([f for f in fills if f.account_id == account_id], charges, financial_year, dp=dp))
                for account_id in accounts
            )
        except LookupError as exc:  # a year the shipped rules do not cover
            label = f"FY {financial_year}-{(financial_year + 1) % 100:02d}"
            raise GatewayError(Status.FAILED_PRECONDITION, Reason.UNSPECIFIED,
                               f"the gateway's tax rules do not cover {label}: {exc}",
                               {"financial_year": str(financial_year)}) from None  # fmt: skip
        gaps = await self.fills.gaps(accounts, None, end)
        return TaxReport(financial_year, per_account, tax_rules(), tuple(gaps))


def _about(alert: Any, account_id: str) -> bool:
    fields = getattr(alert, "fields", {}) or {}
    return bool(alert.scope == account_id or fields.get("account_id") == account_id)
