"""deploy/prometheus-rule.yaml against the gateway: a PrometheusRule the operator accepts, alerts a
person on call can act on, and every series, label and label value its expressions read is one the
gateway exports (a typo in a metric name is an alert that silently never fires). The exported
series come from the registry the app serves at /metrics (kite_gateway.observability.REGISTRY, and
the scrape-time StateCollector with every provider giving something)."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import descriptor_pool
from kite_gateway_api.v1 import account_pb2, market_data_pb2, order_pb2, portfolio_pb2  # noqa: F401 (registers services)
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.utils import floatToGoString

from kite_gateway.core.accounts.session import SessionState
from kite_gateway.core.risk.exit_rules import ExitRule
from kite_gateway.kite.limits import EndpointClass
from kite_gateway.observability import (
    REGISTRY,
    ConnectionStats,
    EgressStats,
    LeaseStats,
    StateCollector,
    StateSources,
    TickerStats,
    metrics,
)
from kite_gateway.observability.metrics import LATENCY_BUCKETS, ORDER_ACCEPTANCE_TARGET_SECONDS, RPC_SECONDS
from kite_gateway.streaming.ticks import UpstreamState
from tests.deploy.promql import Selector, selectors

DEPLOY = Path(__file__).parent.parent.parent / "deploy"
SEVERITIES = {"critical", "warning", "info"}
PROBE = "probe"


def document() -> dict[str, Any]:
    (only,) = [doc for doc in yaml.safe_load_all((DEPLOY / "prometheus-rule.yaml").read_text()) if doc]
    assert isinstance(only, dict)
    return only


def le_of(bound: float) -> str:
    """A bucket boundary as the exposition spells its `le` label (2 -> "2.0")."""
    return str(floatToGoString(bound))  # type: ignore[no-untyped-call]


def rules() -> list[dict[str, Any]]:
    return [rule for group in document()["spec"]["groups"] for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def recorded() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


def read_by_rules() -> list[tuple[str, Selector]]:
    """(the rule's name, a selector in its expression) for every selector of every rule."""
    return [(rule.get("alert") or rule["record"], found) for rule in rules() for found in selectors(rule["expr"])]


def populated_sources() -> StateSources:
    """Every provider the app wires, each giving one of what it reports."""
    connection = ConnectionStats(0, "UPSTREAM_STATE_CONNECTED", 12.0, reconnects=1)
    given: dict[str, Any] = {
        "tickers": {"AB1234": TickerStats(True, [connection], ticks_in=1, delivered=1, queue_depths=[1])},
        "order_subscribers": {"AB1234": 1},
        "order_queues": {"AB1234": 0},
        "sessions": {"AB1234": "SESSION_STATE_ACTIVE"},
        "egresses": [EgressStats("family-a", "203.0.113.10", 1, 5)],
        "kill_switches": {"gateway": False},
        "automatic_exits": {("account", "daily_loss_limit"): 1},
        "leases": LeaseStats(held=1, keys=1, database_reachable=True),
        "session_expiries": {"AB1234": 1_780_000_000.0},
        "alerts": (3, {"PriceEvent": 1}),
    }
    assert set(given) == {f.name for f in fields(StateSources)}, "a new provider must be given here"
    return StateSources(**{name: (lambda value=value: value) for name, value in given.items()})


def exported() -> dict[str, set[str]]:
    """Every sample name the gateway exports (with _total, _bucket, _count, _sum...) and its labels.
    Labelled metrics of the registry export nothing before their first use, so each gets a probe
    child for the scrape, removed after."""
    wrappers = [w for w in vars(metrics).values() if isinstance(w, MetricWrapperBase)]
    probes = [(wrapper, (PROBE,) * len(wrapper._labelnames)) for wrapper in wrappers]
    for wrapper, values in probes:
        if values:
            wrapper.labels(*values)
    try:
        families = list(REGISTRY.collect())
    finally:
        for wrapper, values in probes:
            if values:
                wrapper.remove(*values)
    state = CollectorRegistry(auto_describe=True)
    state.register(StateCollector(populated_sources()))
    names: dict[str, set[str]] = {}
    for family in [*families, *state.collect()]:
        assert family.samples, f"{family.name} exported no sample: give its provider something"
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def label_values() -> dict[str, set[str]]:
    """The values the gateway gives labels whose values the rules match exactly."""
    pool = descriptor_pool.Default()
    services = {
        f"kite_gateway.v1.{s}" for s in ("AccountService", "MarketDataService", "OrderService", "PortfolioService")
    }
    methods = {m.name for s in services for m in pool.FindServiceByName(s).methods}
    return {
        "grpc_service": services,
        "grpc_method": methods,
        "grpc_type": {"unary", "server_stream", "client_stream", "bidi_stream"},
        "grpc_code": {code.name for code in grpc.StatusCode},
        "endpoint_class": {e.value for e in EndpointClass},
        "state": {f"UPSTREAM_STATE_{s.name}" for s in UpstreamState}
        | {f"SESSION_STATE_{s.name}" for s in SessionState},
        "rule": {r.value for r in ExitRule},
        "scope": {"gateway", "account", "strategy"},
        "status": {"COMPLETE", "REJECTED", "CANCELLED", "OPEN", "TRIGGER PENDING", "UPDATE"},
        "method": {"place_order", "modify_order", "cancel_order"},
        "error_type": {"InputException", "OrderException", "TokenException", "NetworkException", "GeneralException"},
        "le": {le_of(bound) for bound in LATENCY_BUCKETS},
    }


def test_the_manifest_is_a_prometheus_rule_of_named_groups_each_rule_an_alert_or_a_record_with_an_expression() -> None:
    doc = document()
    assert doc["apiVersion"] == "monitoring.coreos.com/v1" and doc["kind"] == "PrometheusRule"
    assert doc["metadata"]["name"] == "kite-gateway"
    assert doc["metadata"]["labels"]["app.kubernetes.io/name"] == "kite-gateway"
    groups = doc["spec"]["groups"]
    names = [group["name"] for group in groups]
    assert groups and len(names) == len(set(names)), names
    for group in groups:
        assert group["rules"], group["name"]
        for rule in group["rules"]:
            assert ("alert" in rule) != ("record" in rule), rule
            assert isinstance(rule["expr"], str) and rule["expr"].strip(), rule
            assert set(rule) <= {"alert", "record", "expr", "for", "labels", "annotations"}, rule


def test_recorded_series_follow_level_metric_operations_and_are_recorded_once() -> None:
    names = [rule["record"] for rule in rules() if "record" in rule]
    assert len(names) == len(set(names))
    for name in names:
        assert re.fullmatch(r"kite_gateway:[a-z0-9_]+:[a-z0-9_]+", name), name


def test_every_alert_waits_a_duration_and_tells_on_call_how_bad_what_and_where_to_look() -> None:
    names = [alert["alert"] for alert in alerts()]
    assert len(names) == len(set(names))
    for alert in alerts():
        name = alert["alert"]
        assert re.fullmatch(r"\d+[smh]", alert["for"]), name
        assert alert["labels"]["severity"] in SEVERITIES, name
        annotations = alert["annotations"]
        for key in ("summary", "description", "runbook"):
            assert len(annotations[key].strip()) >= 20, (name, key)
        # templates only name labels the alert's series can carry: the check below keeps them honest
        for label in re.findall(r"\$labels\.(\w+)", " ".join(annotations.values())):
            assert label in alert_labels(alert), (name, label)


def alert_labels(alert: dict[str, Any]) -> set[str]:
    """Labels an alert's series carry: those of the series it reads, or an aggregation's `by` list."""
    expr = alert["expr"]
    grouped = re.findall(r"\bby\s*\(([^)]*)\)", expr)
    if grouped:
        return {label.strip() for group in grouped for label in group.split(",")}
    seen = exported()
    labels: set[str] = set()
    for found in selectors(expr):
        labels |= seen.get(found.name, set()) or recorded_labels(found.name)
    return labels


def recorded_labels(name: str) -> set[str]:
    (rule,) = [rule for rule in rules() if rule.get("record") == name]
    return alert_labels(rule)


def test_the_rules_cover_the_gateways_operational_conditions() -> None:
    read = {found.name for _, found in read_by_rules()}
    for needed in (
        "grpc_server_handled_total",  # order failures and the gRPC error rate
        "grpc_server_handling_seconds_bucket",  # the 2 s order-acceptance SLO
        "kite_ticker_up",  # the ticker uptime SLO and ticker down
        "kite_ticker_reconnects_total",
        "kite_gateway_account_session",
        "kite_gateway_session_expiry_timestamp_seconds",
        "kite_gateway_kill_switch_engaged",
        "kite_gateway_automatic_exits_total",
        "kite_gateway_leases_held",
        "kite_gateway_lease_database_reachable",
    ):
        assert needed in read, needed
    severities = {alert["labels"]["severity"] for alert in alerts()}
    assert {"critical", "warning"} <= severities


def test_every_series_the_rules_read_is_exported_by_the_gateway_or_recorded_by_a_rule() -> None:
    known = set(exported()) | recorded()
    unknown = sorted({(rule, found.name) for rule, found in read_by_rules() if found.name not in known})
    assert not unknown, unknown


def test_every_label_a_selector_matches_on_is_one_its_series_carries() -> None:
    seen = exported()
    for rule, found in read_by_rules():
        if found.name in recorded():
            assert not found.matchers, (rule, found)  # recorded series are read whole
        else:
            assert found.labels <= seen[found.name], (rule, found.name, found.labels - seen[found.name])


def test_label_values_the_rules_match_are_values_the_gateway_gives_those_labels() -> None:
    values = label_values()
    for rule, found in read_by_rules():
        for label, op, wanted in found.matchers:
            assert label in values, (rule, label)
            if op in ("=", "!="):
                assert wanted in values[label], (rule, label, wanted)
            else:  # every alternative of a regex names a value the label takes
                for alternative in wanted.split("|"):
                    assert any(re.fullmatch(alternative, value) for value in values[label]), (rule, label, alternative)


def test_the_order_latency_histogram_has_a_bucket_boundary_at_the_2s_target_and_the_slo_reads_it() -> None:
    assert ORDER_ACCEPTANCE_TARGET_SECONDS == 2.0 and ORDER_ACCEPTANCE_TARGET_SECONDS in LATENCY_BUCKETS
    values = ("unary", "kite_gateway.v1.OrderService", PROBE)
    RPC_SECONDS.labels(*values)
    try:
        (family,) = [f for f in REGISTRY.collect() if f.name == "grpc_server_handling_seconds"]
        exposed = {
            s.labels["le"] for s in family.samples if s.name.endswith("_bucket") and s.labels["grpc_method"] == PROBE
        }
    finally:
        RPC_SECONDS.remove(*values)
    spelled = le_of(ORDER_ACCEPTANCE_TARGET_SECONDS)
    assert spelled in exposed, exposed
    slo = [rule for rule in rules() if rule.get("record", "").startswith("kite_gateway:order_acceptance_slow:")]
    assert len(slo) == 4
    for rule in slo:
        matchers = [m for found in selectors(rule["expr"]) for m in found.matchers if m[0] == "le"]
        assert matchers and all(re.fullmatch(value, spelled) for _, _, value in matchers), rule["record"]
        # no other bucket (2.5 s) can satisfy the matcher
        others = {le_of(b) for b in LATENCY_BUCKETS} - {spelled}
        assert not [o for o in others for _, _, value in matchers if re.fullmatch(value, o)], rule["record"]
