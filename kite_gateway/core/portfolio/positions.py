"""One account's positions (with P&L totals), holdings (with a summary) and position conversion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Literal, Protocol

from kite_gateway.core.market import Listing
from kite_gateway.kite import HoldingRow, Margins, PositionConversion, PositionRow, Positions

ZERO = Decimal(0)
CENT = Decimal("0.01")


class PortfolioSource(Protocol):
    """Kite's portfolio endpoints (kite_gateway.kite.portfolio.KitePortfolio)."""

    async def positions(self) -> Positions: ...

    async def holdings(self) -> list[HoldingRow]: ...

    async def margins(self) -> Margins: ...

    async def convert_position(self, conversion: PositionConversion) -> None: ...


@dataclass(frozen=True, slots=True)
class PositionsView:
    net: list[PositionRow]
    day: list[PositionRow]
    total_pnl: Decimal
    total_m2m: Decimal

    @property
    def open_positions(self) -> int:
        return sum(1 for row in self.net if row.quantity)


def positions_view(positions: Positions) -> PositionsView:
    """The positions with the P&L and M2M of the net ones added up."""
    return PositionsView(
        positions.net,
        positions.day,
        sum((row.pnl for row in positions.net), ZERO),
        sum((row.m2m for row in positions.net), ZERO),
    )


@dataclass(frozen=True, slots=True)
class HoldingsSummary:
    invested_amount: Decimal
    current_value: Decimal
    total_pnl: Decimal
    total_pnl_percent: Decimal
    today_pnl: Decimal
    today_pnl_percent: Decimal


def held(row: HoldingRow) -> int:
    """The quantity a holding counts for: settled plus T1."""
    return row.quantity + row.t1_quantity


def summarize(holdings: Sequence[HoldingRow]) -> HoldingsSummary:
    """Invested, current and previous-close values of the holdings, and the P&L between them (percentages
    to the paisa; 0 when there is nothing to divide by)."""
    invested = current = previous = ZERO
    for row in holdings:
        quantity = held(row)
        invested += row.average_price * quantity
        current += row.last_price * quantity
        previous += row.close_price * quantity
    today = current - previous
    total = current - invested
    return HoldingsSummary(
        invested_amount=invested,
        current_value=current,
        total_pnl=total,
        total_pnl_percent=(total * 100 / invested).quantize(CENT) if invested else ZERO,
        today_pnl=today,
        today_pnl_percent=(today * 100 / previous).quantize(CENT) if previous else ZERO,
    )


async def read_positions(source: PortfolioSource) -> PositionsView:
    return positions_view(await source.positions())


async def read_holdings(source: PortfolioSource) -> tuple[list[HoldingRow], HoldingsSummary]:
    holdings = await source.holdings()
    return holdings, summarize(holdings)


@dataclass(frozen=True, slots=True)
class Conversion:
    """A change of product of (part of) an open position."""

    transaction_type: str
    position_type: Literal["day", "overnight"]
    quantity: int
    old_product: str
    new_product: str


async def convert_position(source: PortfolioSource, listing: Listing, conversion: Conversion) -> None:
    await source.convert_position(PositionConversion(listing.exchange, listing.tradingsymbol, **asdict(conversion)))
