"""ReportService: the gateway's fill log as reports (tradebook, P&L statement, tax P&L, daily report)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from google.type.date_pb2 import Date
from kite_gateway_api.v1 import report_pb2

from kite_gateway_client.calls import Connection


def _date(day: date) -> Date:
    return Date(year=day.year, month=day.month, day=day.day)


def _scope(account_ids: Sequence[str], account_group: str) -> report_pb2.ReportScope:
    return report_pb2.ReportScope(account_ids=list(account_ids), account_group=account_group)


def _range(start: date, end: date) -> report_pb2.DateRange:
    return report_pb2.DateRange(start=_date(start), end=_date(end))


class ReportMethods(Connection):
    """Every ReportService RPC; all are reads, and retried. Each method takes the request message as
    `request=` instead. Dates are IST trading dates; an empty scope is every account the caller may read."""

    async def get_tradebook(
        self,
        start: date | None = None,
        end: date | None = None,
        account_ids: Sequence[str] = (),
        *,
        account_group: str = "",
        symbol: str = "",
        page_size: int = 0,
        page_token: str = "",
        request: report_pb2.GetTradebookRequest | None = None,
        call_timeout: float | None = None,
    ) -> report_pb2.GetTradebookResponse:
        """A page of fills over [start, end], oldest first; pass next_page_token back for the next."""
        if request is None:
            assert start is not None and end is not None, "start and end (or request=) are required"
            request = report_pb2.GetTradebookRequest(scope=_scope(account_ids, account_group),
                                                     dates=_range(start, end), symbol=symbol, page_size=page_size,
                                                     page_token=page_token)  # fmt: skip
        return await self._call(self.reports.GetTradebook, request, retried=True, call_timeout=call_timeout)

    async def get_pnl_statement(
        self,
        start: date | None = None,
        end: date | None = None,
        account_ids: Sequence[str] = (),
        *,
        account_group: str = "",
        request: report_pb2.GetPnlStatementRequest | None = None,
        call_timeout: float | None = None,
    ) -> report_pb2.GetPnlStatementResponse:
        """Realised and unrealised P&L over [start, end], per account and consolidated."""
        if request is None:
            assert start is not None and end is not None, "start and end (or request=) are required"
            request = report_pb2.GetPnlStatementRequest(scope=_scope(account_ids, account_group),
                                                        dates=_range(start, end))  # fmt: skip
        return await self._call(self.reports.GetPnlStatement, request, retried=True, call_timeout=call_timeout)

    async def get_tax_pnl(
        self,
        financial_year: int = 0,
        account_ids: Sequence[str] = (),
        *,
        account_group: str = "",
        request: report_pb2.GetTaxPnlRequest | None = None,
        call_timeout: float | None = None,
    ) -> report_pb2.GetTaxPnlResponse:
        """The tax P&L of the financial year beginning 1 April of `financial_year` (2025: FY 2025-26)."""
        request = request or report_pb2.GetTaxPnlRequest(
            scope=_scope(account_ids, account_group), financial_year=financial_year
        )
        return await self._call(self.reports.GetTaxPnl, request, retried=True, call_timeout=call_timeout)

    async def get_daily_report(
        self,
        day: date | None = None,
        account_ids: Sequence[str] = (),
        *,
        account_group: str = "",
        request: report_pb2.GetDailyReportRequest | None = None,
        call_timeout: float | None = None,
    ) -> report_pb2.GetDailyReportResponse:
        """One trading day: orders by status, fills, P&L, charges, risk refusals, alerts, kill switches."""
        if request is None:
            assert day is not None, "day (or request=) is required"
            request = report_pb2.GetDailyReportRequest(scope=_scope(account_ids, account_group), date=_date(day))
        return await self._call(self.reports.GetDailyReport, request, retried=True, call_timeout=call_timeout)
