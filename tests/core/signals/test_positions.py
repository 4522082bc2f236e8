"""A strategy's own positions from its orders' fills: average cost, realised P&L, flips, and only
the strategy's orders counted."""

from decimal import Decimal

from kite_gateway.core.signals.positions import strategy_positions


def row(order_id: str, side: str, filled: int, price: str, token: int = 408065) -> dict[str, object]:
    return {"order_id": order_id, "transaction_type": side, "filled_quantity": filled, "average_price": price,
            "instrument_token": token}  # fmt: skip


def test_two_buys_average_their_prices_and_realise_nothing() -> None:
    [p] = strategy_positions("A", [row("1", "BUY", 10, "100"), row("2", "BUY", 30, "104")], frozenset({"1", "2"}))
    assert (p.quantity, p.average_price, p.realised) == (40, Decimal(103), Decimal(0))


def test_a_partial_sell_realises_against_the_average_and_keeps_it() -> None:
    rows = [row("1", "BUY", 10, "100"), row("2", "SELL", 4, "110.5")]
    [p] = strategy_positions("A", rows, frozenset({"1", "2"}))
    assert (p.quantity, p.average_price, p.realised) == (6, Decimal(100), Decimal("42.0"))


def test_a_sell_through_zero_opens_the_short_at_its_own_price() -> None:
    rows = [row("1", "BUY", 10, "100"), row("2", "SELL", 15, "90")]
    [p] = strategy_positions("A", rows, frozenset({"1", "2"}))
    assert (p.quantity, p.average_price, p.realised) == (-5, Decimal(90), Decimal(-100))


def test_a_short_covered_higher_is_a_loss() -> None:
    rows = [row("1", "SELL", 10, "200"), row("2", "BUY", 10, "205")]
    [p] = strategy_positions("A", rows, frozenset({"1", "2"}))
    assert (p.quantity, p.average_price, p.realised) == (0, Decimal(0), Decimal(-50))


def test_orders_of_other_strategies_and_unfilled_orders_are_not_counted() -> None:
    rows = [row("1", "BUY", 10, "100"), row("9", "BUY", 500, "1"), row("2", "BUY", 0, "0", token=5)]
    [p] = strategy_positions("A", rows, frozenset({"1", "2"}))
    assert (p.instrument_token, p.quantity) == (408065, 10)
