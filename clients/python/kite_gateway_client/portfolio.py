"""PortfolioService: positions, holdings, product conversion and the cross-account portfolio."""

from __future__ import annotations

from collections.abc import Sequence

from kite_gateway_api.v1 import common_pb2, portfolio_pb2

from kite_gateway_client.calls import Connection
from kite_gateway_client.params import Instrument, instrument


class PortfolioMethods(Connection):
    """Every PortfolioService RPC. Reads are retried; ConvertPosition is not (a repeat would
    convert twice). Each method takes the request message as `request=` instead of the other
    arguments."""

    async def get_positions(
        self,
        account_id: str = "",
        *,
        request: portfolio_pb2.GetPositionsRequest | None = None,
        call_timeout: float | None = None,
    ) -> portfolio_pb2.GetPositionsResponse:
        request = request or portfolio_pb2.GetPositionsRequest(account_id=account_id)
        return await self._call(self.portfolio.GetPositions, request, retried=True, call_timeout=call_timeout)

    async def get_holdings(
        self,
        account_id: str = "",
        *,
        request: portfolio_pb2.GetHoldingsRequest | None = None,
        call_timeout: float | None = None,
    ) -> portfolio_pb2.GetHoldingsResponse:
        request = request or portfolio_pb2.GetHoldingsRequest(account_id=account_id)
        return await self._call(self.portfolio.GetHoldings, request, retried=True, call_timeout=call_timeout)

    async def get_exit_status(
        self,
        account_id: str = "",
        *,
        request: portfolio_pb2.GetExitStatusRequest | None = None,
        call_timeout: float | None = None,
    ) -> portfolio_pb2.GetExitStatusResponse:
        """The account's automatic exits: live P&L, thresholds, utilisation, what fired today."""
        request = request or portfolio_pb2.GetExitStatusRequest(account_id=account_id)
        return await self._call(self.portfolio.GetExitStatus, request, retried=True, call_timeout=call_timeout)

    async def convert_position(
        self,
        account_id: str = "",
        symbol: Instrument = "",
        transaction_type: common_pb2.TransactionType.ValueType = common_pb2.TRANSACTION_TYPE_UNSPECIFIED,
        quantity: int = 0,
        old_product: common_pb2.Product.ValueType = common_pb2.PRODUCT_UNSPECIFIED,
        new_product: common_pb2.Product.ValueType = common_pb2.PRODUCT_UNSPECIFIED,
        position_type: portfolio_pb2.PositionType.ValueType = portfolio_pb2.POSITION_TYPE_DAY,
        *,
        request: portfolio_pb2.ConvertPositionRequest | None = None,
        call_timeout: float | None = None,
    ) -> portfolio_pb2.ConvertPositionResponse:
        """Not retried: an unknown outcome comes back for you to check (get_positions)."""
        request = request or portfolio_pb2.ConvertPositionRequest(
            account_id=account_id,
            instrument=instrument(symbol),
            transaction_type=transaction_type,
            position_type=position_type,
            quantity=quantity,
            old_product=old_product,
            new_product=new_product,
        )
        return await self._call(self.portfolio.ConvertPosition, request, retried=False, call_timeout=call_timeout)

    async def get_consolidated_portfolio(
        self,
        account_ids: Sequence[str] = (),
        *,
        request: portfolio_pb2.GetConsolidatedPortfolioRequest | None = None,
        call_timeout: float | None = None,
    ) -> portfolio_pb2.GetConsolidatedPortfolioResponse:
        """Every readable account when `account_ids` is empty."""
        request = request or portfolio_pb2.GetConsolidatedPortfolioRequest(account_ids=account_ids)
        return await self._call(
            self.portfolio.GetConsolidatedPortfolio, request, retried=True, call_timeout=call_timeout
        )
