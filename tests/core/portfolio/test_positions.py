"""Portfolio use cases as units over fake Kite sources: P&L totals of positions, the holdings
summary, and the consolidated view across accounts (one unreadable account reported, not fatal)."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import pytest

from kite_gateway.core.accounts.manager import AccountManager
from kite_gateway.core.market.instruments import InstrumentMaster
from kite_gateway.core.portfolio.consolidated import ConsolidatedPortfolio
from kite_gateway.core.portfolio.positions import (
    Conversion,
    PortfolioSource,
    convert_position,
    positions_view,
    summarize,
)
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.portfolio import HoldingRow, Margins, PositionConversion, PositionRow, Positions, SegmentMargins


def position(symbol: str, quantity: int, pnl: str, last: str = "100", multiplier: str = "0") -> PositionRow:
    zero: dict[str, Any] = {f.name: Decimal(0) if f.type == "Decimal" else 0 for f in fields(PositionRow)}
    exchange, tradingsymbol = symbol.split(":")
    zero.update(exchange=exchange, tradingsymbol=tradingsymbol, symbol=symbol, product="MIS", quantity=quantity,
                pnl=Decimal(pnl), m2m=Decimal(pnl) / 2, last_price=Decimal(last), multiplier=Decimal(multiplier),
                instrument_token=len(symbol))  # fmt: skip
    return PositionRow(**zero)


def holding(symbol: str, quantity: int, t1: int, average: str, last: str, close: str, pnl: str = "0") -> HoldingRow:
    zero: dict[str, Any] = {f.name: Decimal(0) if f.type == "Decimal" else 0 for f in fields(HoldingRow)}
    zero.update(symbol=symbol, isin="", product="CNC", quantity=quantity, t1_quantity=t1, pnl=Decimal(pnl),
                average_price=Decimal(average), last_price=Decimal(last), close_price=Decimal(close))  # fmt: skip
    return HoldingRow(**zero)


def test_positions_add_up_the_pnl_and_m2m_of_the_net_ones_only() -> None:
    net = [position("NSE:INFY", 10, "12.5"), position("NSE:TCS", 0, "-2.5")]
    view = positions_view(Positions(net, [position("NSE:INFY", 10, "1000")]))
    assert (view.total_pnl, view.total_m2m, view.open_positions) == (Decimal(10), Decimal(5), 1)


def test_the_holdings_summary_counts_t1_shares_and_rounds_percentages_to_the_paisa() -> None:
    summary = summarize([holding("NSE:INFY", 2, 1, "100", "110", "105"), holding("NSE:TCS", 1, 0, "300", "290", "300")])
    assert (summary.invested_amount, summary.current_value) == (Decimal(600), Decimal(620))
    assert (summary.total_pnl, summary.total_pnl_percent) == (Decimal(20), Decimal("3.33"))
    assert (summary.today_pnl, summary.today_pnl_percent) == (Decimal(5), Decimal("0.81"))


def test_an_empty_portfolio_summarises_to_zeros_without_dividing_by_zero() -> None:
    summary = summarize([])
    assert summary.total_pnl_percent == summary.today_pnl_percent == 0


class Account:
    def __init__(self, net: list[PositionRow], holdings: list[HoldingRow], equity_net: str = "0") -> None:
        self.net, self.rows = net, holdings
        self.equity = SegmentMargins.of({"net": equity_net})
        self.converted: list[PositionConversion] = []

    async def positions(self) -> Positions:
        return Positions(self.net, [])

    async def holdings(self) -> list[HoldingRow]:
        return self.rows

    async def margins(self) -> Margins:
        return Margins(self.equity, SegmentMargins.of(None))

    async def convert_position(self, conversion: PositionConversion) -> None:
        self.converted.append(conversion)


class Refusing(Account):
    async def holdings(self) -> list[HoldingRow]:
        raise GatewayError(Status.UNAUTHENTICATED, Reason.ACCOUNT_NEEDS_LOGIN, "log in again")


def directory(ids: list[str]) -> AccountManager:
    def get(account_id: str) -> Any:
        if account_id not in ids:
            raise GatewayError(Status.NOT_FOUND, Reason.ACCOUNT_NOT_FOUND, account_id)
        return SimpleNamespace(account_id=account_id)

    return cast(AccountManager, SimpleNamespace(get=get, all=lambda: [SimpleNamespace(account_id=a) for a in ids]))


def consolidated(sources: dict[str, PortfolioSource]) -> ConsolidatedPortfolio:
    when = datetime(2026, 1, 2, tzinfo=UTC)
    return ConsolidatedPortfolio(directory(sorted(sources)), sources.__getitem__, lambda: when)


async def test_the_consolidated_view_sums_each_instrument_across_accounts_with_each_accounts_share() -> None:
    view = await consolidated(
        {
            "ZS0002": Account([position("NSE:INFY", 3, "6", multiplier="1")], [], equity_net="50"),
            "ZS0001": Account([position("NSE:INFY", 2, "4")], [holding("NSE:INFY", 10, 0, "90", "100", "95", "100")]),
        }
    ).read([])
    assert [r.account_id for r in view.accounts] == ["ZS0001", "ZS0002"]
    assert view.accounts[1].totals is not None and view.accounts[1].totals.equity_margin_available == 50
    (infy,) = view.instruments
    assert (infy.position_quantity, infy.holding_quantity, infy.pnl, view.total_pnl) == (
        5,
        10,
        Decimal(110),
        Decimal(110),
    )
    assert infy.value == 5 * 100 + 10 * 100  # a missing multiplier counts as 1
    assert [(a.account_id, a.position_quantity, a.holding_quantity, a.pnl) for a in infy.accounts] == [
        ("ZS0001", 2, 10, Decimal(104)),
        ("ZS0002", 3, 0, Decimal(6)),
    ]
    assert view.as_of == datetime(2026, 1, 2, tzinfo=UTC)


async def test_an_account_kite_refuses_is_reported_as_its_failure_and_the_rest_still_add_up() -> None:
    view = await consolidated(
        {"ZS0001": Account([position("NSE:INFY", 2, "4")], []), "ZS0002": Refusing([position("NSE:TCS", 1, "9")], [])}
    ).read(["ZS0002", "ZS0001", "ZS0002"])
    failure = view.accounts[1].failure
    assert failure is not None and failure.code == Status.UNAUTHENTICATED
    assert [i.symbol for i in view.instruments] == ["NSE:INFY"] and view.total_pnl == 4


async def test_an_unknown_account_fails_the_whole_consolidated_call() -> None:
    with pytest.raises(GatewayError) as caught:
        await consolidated({"ZS0001": Account([], [])}).read(["ZS0001", "XX9999"])
    assert caught.value.code == Status.NOT_FOUND


async def test_a_conversion_names_the_resolved_instrument_as_kite_spells_it() -> None:
    master = InstrumentMaster()
    master.load([{"instrument_token": 408065, "tradingsymbol": "INFY", "exchange": "NSE"}])
    account = Account([], [])
    await convert_position(account, master.by_token[408065], Conversion("BUY", "day", 3, "CNC", "MIS"))
    assert account.converted == [PositionConversion("NSE", "INFY", "BUY", "day", 3, "CNC", "MIS")]
