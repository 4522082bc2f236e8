"""Webhook sinks from the alerts file: read beside the rules, their secrets from the environment
(missing: refused, naming the variable only), filtered by kind and severity, never shown."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kite_gateway.core.alerts import (
    Alert,
    AlertConfigError,
    AlertKind,
    Severity,
    load_rules,
    load_sinks,
    sinks_from_document,
)

FILE = """
[[alerts.rules]]
id = "duplicates"
kind = "DUPLICATE_DETECTED"

[[alerts.sinks]]
id = "ops"
url = "https://hooks.example.com/kite"
secret_env = "OPS_SECRET"

[[alerts.sinks]]
id = "pager"
url = "http://pager.internal:8080/in"
secret_env = "PAGER_SECRET"
max_attempts = 3
kinds = ["ORDER_STATUS", "DUPLICATE_DETECTED"]
min_severity = "critical"
"""
ENV = {"OPS_SECRET": "ops-signing-secret", "PAGER_SECRET": "pager-signing-secret"}


def alert(kind: AlertKind, severity: Severity) -> Alert:
    return Alert("r", kind, severity, "ZS0001", "t", "m", {}, datetime(2026, 12, 3, tzinfo=UTC))


def test_the_alerts_file_gives_rules_and_sinks_with_their_secrets_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(FILE)
    assert [rule.id for rule in load_rules(path)] == ["duplicates"]
    ops, pager = load_sinks(path, ENV)
    assert (ops.id, ops.url, ops.secret, ops.max_attempts, ops.kinds, ops.min_severity) == (
        "ops", "https://hooks.example.com/kite", "ops-signing-secret", 8, frozenset(), Severity.INFO)  # fmt: skip
    assert (pager.max_attempts, pager.kinds) == (3, frozenset({AlertKind.ORDER_STATUS, AlertKind.DUPLICATE_DETECTED}))
    assert "signing-secret" not in repr(ops) + repr(pager) and "OPS_SECRET" in repr(ops)
    assert load_sinks(None, ENV) == ()


def test_a_sink_takes_only_the_kinds_and_severities_it_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(FILE)
    ops, pager = load_sinks(path, ENV)
    assert ops.accepts(alert(AlertKind.TICKER, Severity.INFO))
    assert pager.accepts(alert(AlertKind.DUPLICATE_DETECTED, Severity.CRITICAL))
    assert not pager.accepts(alert(AlertKind.DUPLICATE_DETECTED, Severity.WARNING))
    assert not pager.accepts(alert(AlertKind.TICKER, Severity.CRITICAL))


@pytest.mark.parametrize(
    ("sink", "named"),
    [
        ('id = "a"\nurl = "https://h/x"\nsecret_env = "ABSENT"', "ABSENT (its secret_env) is not set"),
        ('id = "a"\nurl = "ftp://h/x"\nsecret_env = "OPS_SECRET"', "url must be an http:// or https:// URL"),
        ('id = "a"\nurl = "https://h/x"', "secret_env must name the environment variable"),
        ('id = "a"\nurl = "https://h/x"\nsecret_env = "OPS_SECRET"\nmax_attempts = 0', "max_attempts must be"),
        ('id = "a"\nurl = "https://h/x"\nsecret_env = "OPS_SECRET"\nkinds = ["PRICE"]', "kinds must be a list"),
        ('id = "a"\nurl = "https://h/x"\nsecret_env = "OPS_SECRET"\nmin_severity = "high"', "min_severity must be"),
        ('id = "a"\nurl = "https://h/x"\nsecret_env = "OPS_SECRET"\nsecret = "inline"', "unknown keys ['secret']"),
    ],
)
def test_a_bad_sink_refuses_the_file_saying_which_sink_and_key(sink: str, named: str) -> None:
    document = tomllib.loads(f"[[alerts.sinks]]\n{sink}\n")
    with pytest.raises(AlertConfigError) as refused:
        sinks_from_document(document, "alerts.toml", ENV)
    assert named in str(refused.value) and "alerts.toml [[alerts.sinks]] #1 (id 'a')" in str(refused.value)
    assert "signing-secret" not in str(refused.value)


def test_two_sinks_of_one_id_are_refused() -> None:
    document = {"alerts": {"sinks": [{"id": "a", "url": "https://h/", "secret_env": "OPS_SECRET"}] * 2}}
    with pytest.raises(AlertConfigError, match="sink id 'a' is used by two sinks"):
        sinks_from_document(document, "alerts.toml", ENV)
