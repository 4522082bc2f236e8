"""The [exits] tables of the risk file: defaults overridden per account key by key, strategies on
their own, the profit lock's keys together, and every mistake named by section and key."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kite_gateway.core.risk import ExitBook, ExitConfigError, ExitRules, RiskBook, RiskConfigError

FILE = """
[default]
max_order_value = "500000"

[exits]
margin_refresh_seconds = 5

[exits.default]
daily_loss_limit = "5000"
max_margin_utilisation = "0.9"

[exits.accounts.ZS0001]
daily_loss_limit = "2000"
square_off = false

[exits.strategies.momentum]
profit_lock_activate = "3000"
profit_lock_trail_fraction = "0.25"
"""


def test_an_account_section_overrides_the_default_key_by_key_and_strategies_stand_alone() -> None:
    book = ExitBook.from_toml(FILE, "risk.toml")
    assert book.margin_refresh_seconds == 5.0
    ceiling = Decimal("0.9")
    assert book.for_account("ZS0001") == ExitRules(Decimal(2000), max_margin_utilisation=ceiling, square_off=False)
    assert book.for_account("ZS0002") == ExitRules(Decimal(5000), max_margin_utilisation=Decimal("0.9"))
    momentum = book.for_strategy("momentum")
    assert momentum is not None and momentum.daily_loss_limit is None
    assert momentum.lock_floor(Decimal(4000)) == Decimal(3000)
    assert book.configured


def test_the_limits_still_load_from_a_risk_file_with_exits_in_it() -> None:
    assert RiskBook.from_toml(FILE, "risk.toml").for_account("ZS0009").max_order_value == Decimal(500000)


def test_a_risk_file_without_exits_configures_none() -> None:
    book = ExitBook.from_toml('[default]\nmax_order_value = "1"\n', "risk.toml")
    assert not book.configured and not book.for_account("ZS0001").any


def test_with_both_trails_the_profit_lock_keeps_the_higher_floor() -> None:
    rules = ExitRules(profit_lock_activate=Decimal(100), profit_lock_trail=Decimal(50),
                      profit_lock_trail_fraction=Decimal("0.1"))  # fmt: skip
    assert rules.lock_floor(Decimal(1000)) == Decimal(950)  # peak - 50 beats peak * 0.9
    assert rules.lock_floor(Decimal(200)) == Decimal(180)  # peak * 0.9 beats peak - 50


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[exits.default]\ndaily_loss_limit = "-1"', "[exits.default]: daily_loss_limit must be a non-negative"),
        ("[exits.default]\ndaily_loss_limit = 1.5", 'daily_loss_limit must be an amount like "2500.50"'),
        ('[exits.default]\nmax_margin_utilisation = "1.5"', "max_margin_utilisation must be a fraction"),
        ('[exits.default]\nprofit_lock_activate = "10"', "needs profit_lock_activate and profit_lock_trail"),
        ('[exits.default]\nsquare_off = "yes"', "square_off must be true or false"),
        ('[exits.accounts.ZS0001]\nloss = "1"', "[exits.accounts.ZS0001]: unknown keys ['loss']"),
        ('[exits.strategies.s]\nmax_margin_utilisation = "0.5"', "unknown keys ['max_margin_utilisation']"),
        ("[exits]\nmargin_refresh_seconds = 0", "margin_refresh_seconds must be a positive number"),
        ("[exits.defaults]\n", "unknown keys in [exits] ['defaults']"),
    ],
)
def test_a_bad_exits_table_is_refused_naming_the_section_and_key(text: str, message: str) -> None:
    with pytest.raises(ExitConfigError, match=None) as raised:
        ExitBook.from_toml(text, "risk.toml")
    assert message in str(raised.value)
    assert isinstance(raised.value, RiskConfigError)  # so the gateway refuses to start with it
