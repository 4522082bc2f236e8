"""The strategies file: each strategy's accounts and groups, product, sizing with per-account
overrides (a new mode starts afresh, otherwise key by key), budget and approval; every mistake is
named by the file, the table and the key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kite_gateway.core.signals.strategies import (
    Approval,
    Budget,
    Sizing,
    SizingMode,
    Strategy,
    StrategyBook,
    StrategyConfigError,
)
from kite_gateway.errors import GatewayError, Status

FILE = """
[account_groups]
family-a = ["ZS0004", "ZS0001"]

[strategies.momentum]
accounts = ["ZS0001", "ZS0002", "ZS0003"]
groups = ["family-a"]
product = "nrml"

[strategies.momentum.sizing]
mode = "multiplier"
multiplier = "2.5"
max_quantity = 1800

[strategies.momentum.sizing.accounts.ZS0002]
mode = "capital_share"
fraction = "0.10"

[strategies.momentum.sizing.accounts.ZS0003]
max_quantity = 600

[strategies.momentum.budget]
max_capital = "2500000"
max_orders_per_day = 200
max_loss_per_day = 25000

[strategies.momentum.approval]
required = true
timeout_seconds = 120

[strategies.plain]
accounts = ["ZS0009"]
"""


def test_a_full_strategy_reads_every_table() -> None:
    momentum = StrategyBook.from_toml(FILE, "strategies.toml").get("momentum")
    assert momentum is not None
    assert momentum.accounts == ("ZS0001", "ZS0002", "ZS0003") and momentum.groups == ("family-a",)
    assert momentum.product == "NRML"
    assert momentum.sizing == Sizing(SizingMode.MULTIPLIER, multiplier=Decimal("2.5"), max_quantity=1800)
    assert momentum.budget == Budget(Decimal(2500000), 200, Decimal(25000))
    assert momentum.approval == Approval(True, 120)


def test_an_account_override_with_a_mode_starts_afresh() -> None:
    momentum = StrategyBook.from_toml(FILE, "strategies.toml").get("momentum")
    assert momentum is not None
    assert momentum.sizing_for("ZS0002") == Sizing(SizingMode.CAPITAL_SHARE, multiplier=None, fraction=Decimal("0.10"))


def test_an_account_override_without_a_mode_changes_the_default_key_by_key() -> None:
    momentum = StrategyBook.from_toml(FILE, "strategies.toml").get("momentum")
    assert momentum is not None
    assert momentum.sizing_for("ZS0003") == Sizing(SizingMode.MULTIPLIER, multiplier=Decimal("2.5"), max_quantity=600)
    assert momentum.sizing_for("ZS0001") == momentum.sizing  # not overridden


def test_a_strategy_with_only_accounts_has_the_defaults() -> None:
    plain = StrategyBook.from_toml(FILE, "strategies.toml").get("plain")
    assert plain is not None
    assert plain.product == "MIS" and plain.sizing == Sizing(SizingMode.MULTIPLIER, multiplier=Decimal(1))
    assert plain.budget == Budget() and plain.approval == Approval(False, 300)


def test_no_file_means_no_strategies_and_an_unknown_strategy_is_none() -> None:
    assert StrategyBook.load(None).get("momentum") is None
    assert StrategyBook.from_toml(FILE, "s.toml").get("nope") is None


def test_a_file_is_read_from_disk_and_a_missing_one_is_named(tmp_path: Path) -> None:
    path = tmp_path / "strategies.toml"
    path.write_text(FILE)
    assert set(StrategyBook.load(path).strategies) == {"momentum", "plain"}
    with pytest.raises(StrategyConfigError, match=r"missing\.toml: cannot read it"):
        StrategyBook.load(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[strategies.a\n", r"s.toml: not valid TOML"),
        ("[limits]\n", r"s.toml: unknown sections \['limits'\]"),
        ("strategies = 1\n", r"s.toml: strategies must be tables"),
        ('[strategies."bad id"]\naccounts = ["A"]\n', r"\[strategies.bad id\]: a strategy id is"),
        ("[strategies.s]\n", r"\[strategies.s\]: name the accounts it trades"),
        ('[strategies.s]\naccounts = "ZS0001"\n', r"\[strategies.s\]: accounts must be a list of names"),
        ('[strategies.s]\naccounts = ["A", "A"]\n', r"\[strategies.s\]: accounts lists a name twice"),
        ('[strategies.s]\ngroups = [""]\n', r"\[strategies.s\]: groups must be a list of names"),
        ('[strategies.s]\naccounts = ["A"]\nproduct = "BO"\n', r"\[strategies.s\]: product must be one of"),
        ('[strategies.s]\naccounts = ["A"]\ncolour = 1\n', r"\[strategies.s\]: unknown keys \['colour'\]"),
        ('[strategies.s]\naccounts = ["A"]\nsizing = 3\n', r"\[strategies.s.sizing\]: must be a table"),
    ],
)
def test_a_bad_strategy_is_named(text: str, message: str) -> None:
    with pytest.raises(StrategyConfigError, match=message):
        StrategyBook.from_toml(text, "s.toml")


def _sizing_error(sizing: str, accounts: str = "") -> str:
    text = f'[strategies.s]\naccounts = ["A"]\n[strategies.s.sizing]\n{sizing}\n{accounts}'
    with pytest.raises(StrategyConfigError) as caught:
        StrategyBook.from_toml(text, "s.toml")
    return str(caught.value)


@pytest.mark.parametrize(
    ("sizing", "key"),
    [
        ('mode = "lots"', "mode must be one of"),
        ('mode = "fixed"', "mode 'fixed' needs quantity"),
        ('mode = "fixed"\nquantity = 0', "quantity must be a whole number above 0"),
        ('mode = "fixed"\nquantity = "10"', "quantity must be a whole number above 0"),
        ('mode = "fixed"\nquantity = true', "quantity must be a whole number above 0"),
        ('mode = "multiplier"\nmultiplier = 1.5', "multiplier must be an amount like"),  # a float is not exact
        ('mode = "multiplier"\nmultiplier = "0"', "multiplier must be above 0"),
        ('mode = "multiplier"\nmultiplier = "x"', "multiplier must be an amount like"),
        ('mode = "capital_share"\nfraction = "1.5"', "fraction must be above 0 and at most 1"),
        ('mode = "capital_share"\nfraction = "-0.1"', "fraction must be above 0"),
        ('mode = "risk"\nstop_distance = "2"', "mode 'risk' needs risk_amount"),
        ('mode = "risk"\nrisk_amount = "NaN"', "risk_amount must be above 0"),
        ('mode = "fixed"\nquantity = 5\nmultiplier = "2"', "['multiplier'] do not apply to mode 'fixed'"),
        ('multiplier = "2"\nmax_quantity = -1', "max_quantity must be a whole number above 0"),
        ("lots = 2", "unknown keys ['lots']"),
    ],
)
def test_a_bad_sizing_value_names_the_table_and_the_key(sizing: str, key: str) -> None:
    message = _sizing_error(sizing)
    assert "s.toml [strategies.s.sizing]" in message and key in message


def test_a_bad_account_override_names_the_account_table() -> None:
    message = _sizing_error('multiplier = "2"', '[strategies.s.sizing.accounts.A]\nfraction = "0.1"\n')
    assert "[strategies.s.sizing.accounts.A]" in message and "['fraction'] do not apply to mode 'multiplier'" in message


def test_an_override_for_an_account_the_strategy_does_not_trade_is_refused() -> None:
    message = _sizing_error('multiplier = "2"', "[strategies.s.sizing.accounts.B]\nmax_quantity = 5\n")
    assert "[strategies.s.sizing.accounts.B]: B is not one of the strategy's accounts" in message


def test_an_override_for_an_account_outside_the_list_is_allowed_when_groups_may_hold_it() -> None:
    text = (
        '[account_groups]\ng = ["B"]\n[strategies.s]\ngroups = ["g"]\n'
        "[strategies.s.sizing.accounts.B]\nmax_quantity = 5\n"
    )
    strategy = StrategyBook.from_toml(text, "s.toml").get("s")
    assert strategy is not None and strategy.sizing_for("B").max_quantity == 5


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[strategies.s.budget]\nmax_capital = -5", r"\[strategies.s.budget\]: max_capital must be above 0"),
        ('[strategies.s.budget]\nmax_orders_per_day = "10"', r"\[strategies.s.budget\]: max_orders_per_day must be"),
        ("[strategies.s.budget]\nmax_loss_per_day = 0.5", r"\[strategies.s.budget\]: max_loss_per_day must be an"),
        ("[strategies.s.budget]\nmax_trades = 5", r"\[strategies.s.budget\]: unknown keys \['max_trades'\]"),
        ('[strategies.s.approval]\nrequired = "yes"', r"\[strategies.s.approval\]: required must be true or false"),
        ("[strategies.s.approval]\ntimeout_seconds = 0", r"\[strategies.s.approval\]: timeout_seconds must be"),
        ("[strategies.s.approval]\ntimeout_seconds = 86401", r"\[strategies.s.approval\]: timeout_seconds must be"),
        ("[strategies.s.approval]\ntimeout_seconds = 1.5", r"\[strategies.s.approval\]: timeout_seconds must be"),
    ],
)
def test_a_bad_budget_or_approval_names_the_table_and_the_key(table: str, message: str) -> None:
    with pytest.raises(StrategyConfigError, match=r"s\.toml " + message):
        StrategyBook.from_toml(f'[strategies.s]\naccounts = ["A"]\n{table}\n', "s.toml")


def test_a_strategy_trades_its_named_accounts_then_its_groups_members_each_once() -> None:
    strategy = Strategy("s", accounts=("A", "B"), groups=("g1", "g2"))
    groups = {"g1": ["B", "C"], "g2": ["D", "A"]}
    assert strategy.accounts_of(groups.__getitem__) == ("A", "B", "C", "D")
    assert Strategy("s", accounts=("A",)).accounts_of(None) == ("A",)


def test_an_unknown_group_is_a_failed_precondition_naming_strategy_and_group() -> None:
    strategy = Strategy("s", accounts=("A",), groups=("ghost",))
    nothing: dict[str, list[str]] = {}
    for members in (nothing.__getitem__, None):
        with pytest.raises(GatewayError) as caught:
            strategy.accounts_of(members)
        assert caught.value.code is Status.FAILED_PRECONDITION
        assert "strategy 's' trades account group 'ghost', which is not known" in caught.value.message


def test_a_strategy_naming_an_undefined_account_group_is_refused_at_load() -> None:
    with pytest.raises(StrategyConfigError, match=r"groups \['nope'\] are not defined under \[account_groups\]"):
        StrategyBook.from_toml('[strategies.s]\ngroups = ["nope"]\n', "s.toml")


def test_account_groups_resolve_to_their_members_and_an_unknown_group_is_a_key_error() -> None:
    book = StrategyBook.from_toml('[account_groups]\nfamily = ["A", "B"]\n', "s.toml")
    assert book.members("family") == ("A", "B")
    with pytest.raises(KeyError):
        book.members("other")


def test_an_account_group_listing_an_account_twice_is_refused() -> None:
    with pytest.raises(StrategyConfigError, match="lists a name twice"):
        StrategyBook.from_toml('[account_groups]\nfamily = ["A", "A"]\n', "s.toml")
