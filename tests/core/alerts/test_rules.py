"""The alerts file: every kind loads from its [[alerts.rules]] table, the module docstring's example
is a valid file, and every mistake is named by file, rule and key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kite_gateway.core.alerts import (
    AlertConfigError,
    AlertKind,
    Direction,
    MoveDirection,
    OrderAlertStatus,
    OrderStatusRule,
    PercentMoveRule,
    PnlDrawdownRule,
    PnlOf,
    PriceCrossRule,
    Reference,
    RiskRefusalRateRule,
    SessionRule,
    Severity,
    TickerRule,
    load_rules,
    rules_from_toml,
)
from kite_gateway.core.alerts import rules as rules_module

SOURCE = "alerts.toml"


def one(table: str) -> str:
    return "[[alerts.rules]]\n" + table


def error_of(text: str) -> str:
    with pytest.raises(AlertConfigError) as caught:
        rules_from_toml(text, SOURCE)
    return str(caught.value)


def test_the_docstring_example_loads_one_rule_of_every_kind() -> None:
    doc = rules_module.__doc__ or ""
    example = doc.split("\n\n", 1)[1].split("\n\nEvery rule")[0]
    rules = rules_from_toml(example, SOURCE)
    assert {rule.kind for rule in rules} == set(AlertKind)
    assert all(rule.enabled for rule in rules)


def test_a_price_cross_rule_reads_its_level_as_an_exact_decimal() -> None:
    (rule,) = rules_from_toml(
        one('id = "a"\nkind = "PRICE_CROSS"\nscope = "NSE:INFY"\ndirection = "below"\nlevel = "1500.05"\n'), SOURCE
    )
    assert rule == PriceCrossRule(id="a", scope="NSE:INFY", direction=Direction.BELOW, level=Decimal("1500.05"))
    assert rule.severity is Severity.WARNING


def test_percent_move_defaults_to_the_previous_close_in_either_direction() -> None:
    (rule,) = rules_from_toml(one('id = "m"\nkind = "PERCENT_MOVE"\nscope = "NSE:INFY"\npercent = "2.5"\n'), SOURCE)
    assert isinstance(rule, PercentMoveRule)
    assert (rule.percent, rule.reference, rule.direction) == (Decimal("2.5"), Reference.CLOSE, MoveDirection.EITHER)


def test_filled_in_the_file_means_kites_complete_status() -> None:
    (rule,) = rules_from_toml(one('id = "o"\nkind = "ORDER_STATUS"\nstatuses = ["filled", "REJECTED"]\n'), SOURCE)
    assert isinstance(rule, OrderStatusRule) and rule.scope == "*"
    assert rule.statuses == frozenset({OrderAlertStatus.COMPLETE, OrderAlertStatus.REJECTED})


def test_account_rules_default_to_every_account_and_can_be_disabled() -> None:
    rules = rules_from_toml(
        one('id = "t"\nkind = "TICKER"\nstale_seconds = 10\nenabled = false\n')
        + one('id = "r"\nkind = "RISK_REFUSAL_RATE"\nmax_refusals = 3\nwindow_seconds = 30\nscope = "ZS0001"\n'),
        SOURCE,
    )
    assert rules[0] == TickerRule(id="t", scope="*", enabled=False, down=True, stale_seconds=10)
    assert rules[1] == RiskRefusalRateRule(id="r", scope="ZS0001", max_refusals=3, window_seconds=30)


def test_a_strategy_drawdown_and_a_session_rule_load() -> None:
    rules = rules_from_toml(
        one('id = "d"\nkind = "PNL_DRAWDOWN"\nscope = "momentum"\npnl_of = "strategy"\namount = "5000"\n')
        + one('id = "s"\nkind = "SESSION"\nexpiring_within_minutes = 15\nneeds_login = false\n'),
        SOURCE,
    )
    assert rules[0] == PnlDrawdownRule(id="d", scope="momentum", pnl_of=PnlOf.STRATEGY, amount=Decimal(5000))
    assert rules[1] == SessionRule(id="s", scope="*", expiring_within_minutes=15, needs_login=False)


def test_no_file_means_no_rules_and_an_empty_file_too(tmp_path: Path) -> None:
    assert load_rules(None) == ()
    empty = tmp_path / "alerts.toml"
    empty.write_text("")
    assert load_rules(empty) == ()


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(AlertConfigError, match=f"{missing}: cannot read it"):
        load_rules(missing)


def test_a_bad_file_names_the_path_rule_and_key(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(one('id = "x"\nkind = "PRICE_CROSS"\nscope = "NSE:INFY"\nlevel = 1600.5\n'))
    with pytest.raises(AlertConfigError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert str(path) in message and "#1" in message and "'x'" in message and "level" in message


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ('kind = "PRICE_CROSS"\nscope = "NSE:INFY"\nlevel = "1"\n', "id must be"),
        ('id = "x"\nscope = "NSE:INFY"\n', "kind is required"),
        ('id = "x"\nkind = "PRICE_JUMP"\n', "kind must be one of"),
        ('id = "x"\nkind = "PRICE_CROSS"\nscope = "INFY"\nlevel = "1"\n', "scope must be an instrument"),
        ('id = "x"\nkind = "PRICE_CROSS"\nlevel = "1"\n', "scope must be a non-empty string"),
        ('id = "x"\nkind = "PRICE_CROSS"\nscope = "NSE:INFY"\n', "level is required"),
        ('id = "x"\nkind = "PRICE_CROSS"\nscope = "NSE:INFY"\nlevel = "-1"\n', "level must be a positive"),
        ('id = "x"\nkind = "PRICE_CROSS"\nscope = "NSE:INFY"\nlevel = "1"\ndirection = "up"\n', "direction must"),
        (
            'id = "x"\nkind = "PRICE_CROSS"\nscope = "NSE:INFY"\nlevel = "1"\nceiling = "1"\n',
            "unknown keys ['ceil",
        ),
        ('id = "x"\nkind = "PERCENT_MOVE"\nscope = "NSE:INFY"\npercent = "1"\nreference = "open"\n', "reference must"),
        ('id = "x"\nkind = "ORDER_STATUS"\nstatuses = ["CANCELLED"]\n', "statuses must be"),
        ('id = "x"\nkind = "ORDER_STATUS"\nstatuses = []\n', "statuses must be"),
        ('id = "x"\nkind = "PNL_DRAWDOWN"\npnl_of = "strategy"\namount = "1"\n', "scope must name the strategy"),
        ('id = "x"\nkind = "MARGIN_UTILISATION"\nceiling = "1.5"\n', "ceiling must be a fraction"),
        ('id = "x"\nkind = "MARGIN_UTILISATION"\nceiling = "0.9"\nenabled = "yes"\n', "enabled must be true or false"),
        ('id = "x"\nkind = "SESSION"\nneeds_login = false\n', "set expiring_within_minutes or needs_login"),
        ('id = "x"\nkind = "SESSION"\nexpiring_within_minutes = 0\n', "expiring_within_minutes must be a whole"),
        ('id = "x"\nkind = "TICKER"\ndown = false\n', "set stale_seconds or down"),
        ('id = "x"\nkind = "RISK_REFUSAL_RATE"\nwindow_seconds = 60\n', "max_refusals is required"),
        ('id = "x"\nkind = "RISK_REFUSAL_RATE"\nmax_refusals = 3\nwindow_seconds = true\n', "window_seconds must"),
        ('id = "x"\nkind = "DUPLICATE_DETECTED"\nseverity = "page"\n', "severity must be one of"),
    ],
)
def test_each_mistake_in_a_rule_is_named_by_its_key(table: str, named: str) -> None:
    message = error_of(one(table))
    assert message.startswith(f"{SOURCE} [[alerts.rules]] #1")
    assert named in message


def test_two_rules_with_one_id_are_refused() -> None:
    table = 'id = "dup"\nkind = "DUPLICATE_DETECTED"\n'
    assert "id 'dup' is used by two rules" in error_of(one(table) + one(table))


def test_the_second_rule_is_named_by_its_place() -> None:
    text = one('id = "ok"\nkind = "DUPLICATE_DETECTED"\n') + one('id = "bad"\nkind = "MARGIN_UTILISATION"\n')
    message = error_of(text)
    assert "#2 (id 'bad')" in message and "ceiling is required" in message


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[alert]\n", "unknown sections ['alert']"),
        ("[alerts]\nrule = 1\n", "[alerts] holds only rules"),
        ("[alerts]\nrules = 1\n", "alerts.rules must be"),
        ("[alerts\n", "not valid TOML"),
    ],
)
def test_a_badly_shaped_file_is_named(text: str, named: str) -> None:
    assert named in error_of(text)
