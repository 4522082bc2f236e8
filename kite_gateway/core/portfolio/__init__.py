"""Portfolio use cases: positions with P&L, holdings and their summary, position conversion, and a
view across accounts."""

from kite_gateway.core.portfolio.consolidated import AccountResult, Consolidated, ConsolidatedPortfolio
from kite_gateway.core.portfolio.positions import Conversion, HoldingsSummary, PositionsView, positions_view

__all__ = [
    "AccountResult",
    "Consolidated",
    "ConsolidatedPortfolio",
    "Conversion",
    "HoldingsSummary",
    "PositionsView",
    "positions_view",
]
