"""Mark-to-market P&L: Kite's positions revalued at live prices (the totals GetPositions gives at the
same prices), a strategy's from its net quantities and average prices, margin utilisation."""

from __future__ import annotations

from decimal import Decimal

from kite_gateway.core.risk.pnl import AccountPnl, StrategyPosition, mark, strategy_pnl, utilisation
from kite_gateway.kite.portfolio import Positions
from tests.core.risk.exit_fakes import margins, row


def test_a_live_price_moves_pnl_by_the_quantity_times_the_change_and_the_multiplier() -> None:
    marked = mark(row(1, 50, "120", "100.50", multiplier="2"), Decimal("99.25"))
    assert (marked.pnl, marked.m2m, marked.unrealised) == (Decimal("-5.00"),) * 3  # 120 + 50 * -1.25 * 2
    assert marked.last_price == Decimal("99.25")


def test_a_short_position_gains_when_the_price_falls() -> None:
    assert mark(row(1, -10, "0", "200"), Decimal("190")).pnl == Decimal(100)


def test_the_account_pnl_is_the_sum_over_net_positions_closed_ones_keeping_their_realised_pnl() -> None:
    book = AccountPnl("ZS0001", Positions([row(1, 10, "0", "100"), row(2, 0, "-40", "50")], []))
    assert book.open_tokens() == {1}
    assert book.pnl == Decimal(-40)
    assert book.update({1: Decimal("101.5")})
    assert book.pnl == Decimal(-25)
    assert not book.update({2: Decimal(60)})  # a closed position's price changes nothing
    assert book.pnl == Decimal(-25)


def test_positions_read_again_keep_the_newer_live_prices() -> None:
    book = AccountPnl("ZS0001", Positions([row(1, 10, "0", "100")], []))
    book.update({1: Decimal(103)})
    book.reset(Positions([row(1, 20, "30", "101")], []))  # a fill, valued by Kite at 101
    assert book.pnl == Decimal(70)  # 30 + 20 * (103 - 101)


def test_a_strategy_pnl_is_realised_plus_open_quantity_at_the_live_price_against_its_average() -> None:
    books = {"ZS0001": AccountPnl("ZS0001", Positions([row(1, 10, "0", "100")], []))}
    books["ZS0001"].update({1: Decimal(110)})
    positions = [
        StrategyPosition("ZS0001", 1, 4, Decimal(105), realised=Decimal(7)),
        StrategyPosition("ZS0002", 9, 3, Decimal(50)),  # no price known yet: at its average
    ]
    assert strategy_pnl(positions, books) == Decimal(27)


def test_utilisation_is_the_debits_over_what_the_enabled_segments_had() -> None:
    used = utilisation(margins("600", "400", commodity=("0", "0")))
    assert (used.used, used.total, used.ratio) == (Decimal(400), Decimal(1000), Decimal("0.4"))
    assert utilisation(margins("0", "0")).ratio == 0
    assert utilisation(margins("-10", "10")).ratio == 1  # nothing left and something used
