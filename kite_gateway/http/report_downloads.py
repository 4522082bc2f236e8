"""The reports as files to download: GET /v1/reports/{tradebook,pnl,tax-pnl,daily}.{csv,html,pdf},
with the RPC's request fields as query parameters (as its JSON binding takes them, e.g.
`?scope.account_ids=ZS0001&dates.start=2026-04-01&dates.end=2026-12-03`). Each is the RPC called
through the JSON API (so authentication, authorization and errors are the gRPC ones), laid out as a
document (report_documents) and rendered: CSV of one table (`?table=` names it; the report's main
one by default), a standalone HTML page with charts, or a PDF. A tradebook is read page by page, to
at most MAX_TRADEBOOK_FILLS fills."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web
from kite_gateway_api.v1 import report_pb2

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.http.json_api import JsonApi
from kite_gateway.http.report_documents import daily_document, pnl_document, tax_document, tradebook_document
from kite_gateway.http.statuses import error_response, status_of_gateway_error
from kite_gateway.report_render import Document, to_csv, to_html, to_pdf

DOWNLOAD_PATH = r"/v1/reports/{report:(tradebook|pnl|tax-pnl|daily)}.{format:(csv|html|pdf)}"
MAX_TRADEBOOK_FILLS = 100_000
MAX_PDF_ROWS = 20_000  # a PDF of more is thousands of pages, minutes of drawing: CSV is the form for that
PAGE = 1000
MAIN_TABLE = {"tradebook": "fills", "pnl": "instruments", "tax_pnl": "summary", "daily": "fills"}
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8", "pdf": "application/pdf"}
BUILDERS: dict[str, Callable[[Any, Any], Document]] = {
    "pnl": pnl_document,
    "tax-pnl": tax_document,
    "daily": daily_document,
}


def _refused(message: str) -> web.Response:
    return error_response(status_of_gateway_error(GatewayError(Status.INVALID_ARGUMENT, Reason.UNSPECIFIED, message)))


class ReportDownloads:
    def __init__(self, api: JsonApi) -> None:
        self.api = api

    def mount(self, app: web.Application) -> None:
        """Before the JSON API's routes (which would take /v1/reports/... as an RPC path)."""
        app.router.add_get(DOWNLOAD_PATH, self.download)

    async def download(self, request: web.Request) -> web.StreamResponse:
        report, form = request.match_info["report"], request.match_info["format"]
        built = await (self._tradebook(request) if report == "tradebook" else self._report(request, report))
        if isinstance(built, web.Response):
            return built
        if form == "csv":
            table = request.query.get("table") or MAIN_TABLE[built.kind]
            try:
                body: bytes = to_csv(built, table).encode()
            except LookupError as exc:
                return _refused(f"table: {exc}")
        elif form == "html":
            body = to_html(built).encode()
        else:
            rows = sum(len(table.rows) for table in built.tables())
            if rows > MAX_PDF_ROWS:
                return _refused(f"the report has {rows} rows; a PDF holds at most {MAX_PDF_ROWS}: download it as "
                                "CSV, or narrow the range")  # fmt: skip
            body = await asyncio.to_thread(to_pdf, built)  # drawing a long report takes a while: off the loop
        name = f"{report}.{form}"
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPES[form],
                                                "Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip

    async def _report(self, request: web.Request, report: str) -> Document | web.Response:
        called = await self.api.call_get(request, request.path.rsplit(".", 1)[0])
        if isinstance(called, web.Response):
            return called
        asked, answer = called
        return BUILDERS[report](asked, answer)

    async def _tradebook(self, request: web.Request) -> Document | web.Response:
        fills: list[report_pb2.Fill] = []
        gaps: list[report_pb2.FillGap] = []
        token, asked = "", report_pb2.GetTradebookRequest()
        while True:
            called = await self.api.call_get(request, "/v1/reports/tradebook", page_token=token, page_size=PAGE)
            if isinstance(called, web.Response):
                return called
            message, answer = called
            assert isinstance(message, report_pb2.GetTradebookRequest)
            assert isinstance(answer, report_pb2.GetTradebookResponse)
            asked = message
            fills.extend(answer.fills)
            gaps = list(answer.gaps)
            token = answer.next_page_token
            if not token or len(fills) >= MAX_TRADEBOOK_FILLS:
                break
        return tradebook_document(asked, fills[:MAX_TRADEBOOK_FILLS], gaps, bool(token))
