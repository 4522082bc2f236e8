"""PortfolioService: positions with P&L, holdings, conversion, and a view across accounts. Requests
are validated here; the work is kite_gateway.core.portfolio's."""

from __future__ import annotations

import grpc
from kite_gateway_api.v1 import order_pb2, portfolio_pb2, portfolio_pb2_grpc

from kite_gateway.core.accounts import AccountManager
from kite_gateway.core.market import InstrumentMaster
from kite_gateway.core.portfolio import ConsolidatedPortfolio, positions
from kite_gateway.core.risk import ExitWatch, unwatched
from kite_gateway.grpc.context import audited
from kite_gateway.grpc.exit_mapping import exit_status_response
from kite_gateway.grpc.mapping import instrument_ref
from kite_gateway.grpc.portfolio_mapping import consolidated_pb, conversion_of, holding_pb, positions_pb, summary_pb
from kite_gateway.kite import KitePortfolio
from kite_gateway.storage import AuditLog


class PortfolioServicer(portfolio_pb2_grpc.PortfolioServiceServicer):
    def __init__(
        self,
        accounts: AccountManager,
        master: InstrumentMaster,
        consolidated: ConsolidatedPortfolio,
        audit: AuditLog,
        exits: ExitWatch | None = None,
    ) -> None:
        self.accounts = accounts
        self.master = master
        self.consolidated = consolidated
        self.audit = audit
        self.exits = exits  # None: the gateway runs no automatic exits

    def _portfolio(self, account_id: str) -> KitePortfolio:
        return KitePortfolio(self.accounts.get(account_id).active())

    async def GetPositions(
        self, request: portfolio_pb2.GetPositionsRequest, context: grpc.aio.ServicerContext
    ) -> portfolio_pb2.GetPositionsResponse:
        view = await positions.read_positions(self._portfolio(request.account_id))
        return positions_pb(request.account_id, view)

    async def GetHoldings(
        self, request: portfolio_pb2.GetHoldingsRequest, context: grpc.aio.ServicerContext
    ) -> portfolio_pb2.GetHoldingsResponse:
        holdings, summary = await positions.read_holdings(self._portfolio(request.account_id))
        return portfolio_pb2.GetHoldingsResponse(
            holdings=[holding_pb(request.account_id, row) for row in holdings], summary=summary_pb(summary)
        )

    async def ConvertPosition(
        self, request: portfolio_pb2.ConvertPositionRequest, context: grpc.aio.ServicerContext
    ) -> portfolio_pb2.ConvertPositionResponse:
        async def convert_position() -> portfolio_pb2.ConvertPositionResponse:
            session = self.accounts.get(request.account_id)
            portfolio = KitePortfolio(session.active())
            await self.master.ensure(session)
            listing = self.master.resolve(instrument_ref(request.instrument), "instrument")
            await positions.convert_position(portfolio, listing, conversion_of(request))
            return portfolio_pb2.ConvertPositionResponse()

        return await audited(
            self.audit,
            context,
            order_pb2.AUDIT_ACTION_CONVERT_POSITION,
            request.account_id,
            "",
            request,
            convert_position,
            lambda _: "",
        )

    async def GetConsolidatedPortfolio(
        self, request: portfolio_pb2.GetConsolidatedPortfolioRequest, context: grpc.aio.ServicerContext
    ) -> portfolio_pb2.GetConsolidatedPortfolioResponse:
        return consolidated_pb(await self.consolidated.read(request.account_ids))

    async def GetExitStatus(
        self, request: portfolio_pb2.GetExitStatusRequest, context: grpc.aio.ServicerContext
    ) -> portfolio_pb2.GetExitStatusResponse:
        self.accounts.get(request.account_id)  # INVALID_ARGUMENT without one, NOT_FOUND for an unknown one
        if self.exits is None:
            return exit_status_response(unwatched(request.account_id, self.accounts.now()), [])
        return exit_status_response(
            self.exits.account_status(request.account_id), self.exits.strategy_statuses(request.account_id)
        )
