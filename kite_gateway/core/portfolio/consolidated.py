"""A view across accounts: each account's totals (or why it could not be read), and every
instrument held anywhere with each account's share, read from Kite concurrently."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from kite_gateway.core.accounts import AccountManager
from kite_gateway.core.portfolio.positions import (
    ZERO,
    HoldingsSummary,
    PortfolioSource,
    PositionsView,
    held,
    positions_view,
    summarize,
)
from kite_gateway.errors import GatewayError
from kite_gateway.kite import HoldingRow, KitePortfolio, Margins


@dataclass(frozen=True, slots=True)
class AccountTotals:
    positions_pnl: Decimal
    positions_m2m: Decimal
    open_positions: int
    holdings: HoldingsSummary
    equity_margin_available: Decimal
    commodity_margin_available: Decimal


@dataclass(frozen=True, slots=True)
class AccountResult:
    account_id: str
    totals: AccountTotals | None = None
    failure: GatewayError | None = None


@dataclass(slots=True)
class Exposure:
    """One account's part of an instrument."""

    account_id: str
    position_quantity: int = 0
    holding_quantity: int = 0
    pnl: Decimal = ZERO


@dataclass(slots=True)
class InstrumentExposure:
    symbol: str
    instrument_token: int = 0
    position_quantity: int = 0
    holding_quantity: int = 0
    last_price: Decimal = ZERO
    value: Decimal = ZERO
    pnl: Decimal = ZERO
    by_account: dict[str, Exposure] = field(default_factory=dict)

    def share(self, account_id: str) -> Exposure:
        return self.by_account.setdefault(account_id, Exposure(account_id))

    @property
    def accounts(self) -> list[Exposure]:
        return [self.by_account[a] for a in sorted(self.by_account)]


@dataclass(frozen=True, slots=True)
class Consolidated:
    as_of: datetime
    accounts: list[AccountResult]
    instruments: list[InstrumentExposure]  # by symbol
    total_pnl: Decimal


Read = tuple[PositionsView, list[HoldingRow], Margins]


async def _read(source: PortfolioSource) -> Read:
    positions, holdings, margins = await asyncio.gather(source.positions(), source.holdings(), source.margins())
    return positions_view(positions), holdings, margins


class ConsolidatedPortfolio:
    """Positions, holdings and margins of many accounts at once."""

    def __init__(
        self,
        accounts: AccountManager,
        source: Callable[[str], PortfolioSource] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.accounts = accounts
        self._source = source or (lambda account_id: KitePortfolio(self.accounts.get(account_id).active()))
        self._clock = clock

    async def _one(self, account_id: str) -> Read | GatewayError:
        try:
            return await _read(self._source(account_id))
        except GatewayError as exc:
            return exc

    async def read(self, account_ids: Sequence[str]) -> Consolidated:
        """The accounts named (every account when none is); an unknown one is NOT_FOUND for the whole
        call, one Kite cannot answer for is reported as its failure."""
        ids = sorted(set(account_ids)) or [s.account_id for s in self.accounts.all()]
        for account_id in ids:
            self.accounts.get(account_id)
        as_of = self._clock()
        by_symbol: dict[str, InstrumentExposure] = {}
        results: list[AccountResult] = []
        total = ZERO
        for account_id, read in zip(ids, await asyncio.gather(*(self._one(a) for a in ids)), strict=True):
            if isinstance(read, GatewayError):
                results.append(AccountResult(account_id, failure=read))
                continue
            positions, holdings, margins = read
            results.append(AccountResult(account_id, _totals(positions, holdings, margins)))
            for row in positions.net:
                item = by_symbol.setdefault(row.symbol, InstrumentExposure(row.symbol))
                item.instrument_token, item.last_price = row.instrument_token, row.last_price
                item.position_quantity += row.quantity
                item.value += row.quantity * row.last_price * (row.multiplier or Decimal(1))
                item.pnl += row.pnl
                share = item.share(account_id)
                share.position_quantity += row.quantity
                share.pnl += row.pnl
                total += row.pnl
            for holding in holdings:
                item = by_symbol.setdefault(holding.symbol, InstrumentExposure(holding.symbol))
                item.instrument_token, item.last_price = holding.instrument_token, holding.last_price
                item.holding_quantity += held(holding)
                item.value += held(holding) * holding.last_price
                item.pnl += holding.pnl
                share = item.share(account_id)
                share.holding_quantity += held(holding)
                share.pnl += holding.pnl
                total += holding.pnl
        return Consolidated(as_of, results, [by_symbol[s] for s in sorted(by_symbol)], total)


def _totals(positions: PositionsView, holdings: list[HoldingRow], margins: Margins) -> AccountTotals:
    return AccountTotals(
        positions_pnl=positions.total_pnl,
        positions_m2m=positions.total_m2m,
        open_positions=positions.open_positions,
        holdings=summarize(holdings),
        equity_margin_available=margins.equity.net,
        commodity_margin_available=margins.commodity.net,
    )
