"""ReportService: the fill log's reports (kite_gateway/core/reports/service.py). Each method resolves
its scope to accounts, checks that the caller may read every one of them, and maps the result."""

from __future__ import annotations

from datetime import date

import grpc
from kite_gateway_api.v1 import report_pb2, report_pb2_grpc

from kite_gateway.auth import authorize_read, current_principal
from kite_gateway.core.reports import Reports, Side, check_day, check_range
from kite_gateway.grpc import report_mapping
from kite_gateway.grpc.mapping import calendar_date, date_pb, product_text, transaction_text


class ReportServicer(report_pb2_grpc.ReportServiceServicer):
    def __init__(self, reports: Reports) -> None:
        self.reports = reports

    def accounts(self, scope: report_pb2.ReportScope, method: str) -> tuple[str, ...]:
        principal = current_principal.get()
        readable = principal.may_read if principal is not None else (lambda _: True)
        accounts = self.reports.resolve(report_mapping.scope_of(scope), readable)
        authorize_read(principal, list(accounts), method)
        return accounts

    @staticmethod
    def dates(message: report_pb2.DateRange) -> tuple[date, date]:
        return check_range(calendar_date(message.start), calendar_date(message.end))

    async def GetTradebook(
        self, request: report_pb2.GetTradebookRequest, context: grpc.aio.ServicerContext
    ) -> report_pb2.GetTradebookResponse:
        start, end = self.dates(request.dates)
        accounts = self.accounts(request.scope, "GetTradebook")
        side = (
            Side(transaction_text(request.transaction_type, "transaction_type")) if request.transaction_type else None
        )
        product = product_text(request.product, "product") if request.product else ""
        book = await self.reports.tradebook(
            accounts, start, end, request.symbol, side, product, report_mapping.segment_of(request.segment),
            request.page_size, report_mapping.after_of(request),
        )  # fmt: skip
        response = report_pb2.GetTradebookResponse()
        for fill in book.fills:
            report_mapping.fill_pb(fill, response.fills.add())
        if book.next_after is not None:
            response.next_page_token = report_mapping.page_token(request, book.next_after)
        report_mapping.gaps_pb(book.gaps, response.gaps)
        return response

    async def GetPnlStatement(
        self, request: report_pb2.GetPnlStatementRequest, context: grpc.aio.ServicerContext
    ) -> report_pb2.GetPnlStatementResponse:
        start, end = self.dates(request.dates)
        accounts = self.accounts(request.scope, "GetPnlStatement")
        result = await self.reports.pnl(accounts, start, end)
        return report_mapping.pnl_statement_pb(result.statement, result.gaps)

    async def GetTaxPnl(
        self, request: report_pb2.GetTaxPnlRequest, context: grpc.aio.ServicerContext
    ) -> report_pb2.GetTaxPnlResponse:
        accounts = self.accounts(request.scope, "GetTaxPnl")
        return report_mapping.tax_pnl_pb(await self.reports.tax(accounts, request.financial_year))

    async def GetDailyReport(
        self, request: report_pb2.GetDailyReportRequest, context: grpc.aio.ServicerContext
    ) -> report_pb2.GetDailyReportResponse:
        day = check_day(calendar_date(request.date), "date")
        accounts = self.accounts(request.scope, "GetDailyReport")
        response = report_mapping.daily_report_pb(await self.reports.daily(accounts, day))
        response.date.CopyFrom(date_pb(day))
        return response
