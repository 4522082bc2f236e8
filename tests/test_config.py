"""Configuration: defaults, environment variables, flag overrides and clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kite_gateway.config import ConfigError, load_settings


def test_defaults_are_kites_production_endpoints_on_a_loopback_listener(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("KITE_API_ENDPOINT", "KITE_GATEWAY_LISTEN", "KITE_REQUEST_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.api_endpoint == "https://api.kite.trade"
    assert settings.websocket_endpoint == "wss://ws.kite.trade"
    assert settings.gateway_listen == "127.0.0.1:50051"
    assert settings.request_timeout == 7.0


def test_every_seed_setting_is_read_from_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "KITE_API_ENDPOINT": "http://127.0.0.1:9000/",
        "KITE_WEBSOCKET_ENDPOINT": "ws://127.0.0.1:9001",
        "KITE_REQUEST_TIMEOUT": "2.5",
        "KITE_MAX_RETRIES": "5",
        "KITE_RATE_LIMIT_PER_SECOND": "3",
        "KITE_BURST_LIMIT": "6",
        "KITE_METRICS_ENABLED": "false",
        "KITE_LOG_LEVEL": "DEBUG",
        "KITE_GATEWAY_LISTEN": "[::]:6000",
        "KITE_GATEWAY_DATA_DIR": "/var/lib/kite-gateway",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.api_endpoint == "http://127.0.0.1:9000"
    assert settings.websocket_endpoint == "ws://127.0.0.1:9001"
    assert (settings.request_timeout, settings.max_retries) == (2.5, 5)
    assert (settings.rate_limit_per_second, settings.burst_limit) == (3.0, 6)
    assert settings.metrics_enabled is False
    assert settings.log_level == "DEBUG"
    assert settings.gateway_listen == "[::]:6000"
    assert settings.gateway_data_dir == Path("/var/lib/kite-gateway")


def test_an_override_beats_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITE_MAX_RETRIES", "5")
    assert load_settings(max_retries=1).max_retries == 1
    assert load_settings(max_retries=None).max_retries == 5


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("api_endpoint", "api.kite.trade", "must be a http or https URL"),
        ("websocket_endpoint", "http://ws", "must be a ws or wss URL"),
        ("request_timeout", 0, "greater than 0"),
        ("max_retries", -1, "greater than or equal to 0"),
        ("gateway_listen", "127.0.0.1:99999", "must be HOST:PORT"),
        ("log_level", "verbose", "'DEBUG', 'INFO'"),
        ("gateway_market_protection", "0", "Kite refuses MARKET and SL-M orders without market protection"),
        ("gateway_market_protection", "-0.5", "must be -1 (automatic) or a percent above 0"),
        ("gateway_algo_id", "algo id!", "the exchange-issued algo ID"),
    ],
)
def test_a_bad_value_names_its_flag_and_says_what_is_wrong(field: str, value: object, expected: str) -> None:
    flag = "--" + field.replace("_", "-")
    with pytest.raises(ConfigError) as caught:
        load_settings(flags={field: flag}, **{field: value})
    assert f"{flag}={value!r}" in str(caught.value)
    assert expected in str(caught.value)


def test_the_kite_adapters_config_is_read_from_the_settings_it_derives_from() -> None:
    from kite_gateway.config import KiteConfig

    settings = load_settings(api_endpoint="http://127.0.0.1:1", max_retries="5", gateway_kite_workers="4")
    kite = KiteConfig.of(settings)
    assert (kite.api_endpoint, kite.max_retries, kite.workers) == ("http://127.0.0.1:1", 5, 4)
    paced = KiteConfig.of(load_settings(gateway_orders_per_second="5", gateway_order_clock_skew="0.25"))
    assert (paced.orders_per_second, paced.order_clock_skew) == (5, 0.25)
    assert (kite.request_timeout, kite.burst_limit) == (settings.request_timeout, settings.burst_limit)


# The clustered mode's settings (deploy/REPLICAS.md).

SECRET = "0123456789abcdef0123456789abcdef"  # 32 characters, the shortest accepted
DATABASE = "postgresql://gateway:hunter2@db.trading.svc:5432/gateway"


def test_without_cluster_settings_the_gateway_is_the_embedded_single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    for name in ("KITE_GATEWAY_NATS_URL", "KITE_GATEWAY_REPLICA_ID", "KITE_GATEWAY_POD_IP", "KITE_GATEWAY_LEASE_TTL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.clustered is False
    assert settings.gateway_nats_url is None and settings.gateway_cluster_secret is None
    assert settings.gateway_replica_id == socket.gethostname()
    assert (settings.gateway_lease_ttl, settings.lease_renew_interval) == (6.0, 2.0)
    assert settings.gateway_lease_drain_timeout == 15.0
    assert settings.advertise_address() == "127.0.0.1:50051"


def test_every_cluster_setting_is_read_from_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "KITE_GATEWAY_DATABASE_URL": DATABASE,
        "KITE_GATEWAY_NATS_URL": "nats://nats-0.nats:4222, nats://nats-1.nats:4222",
        "KITE_GATEWAY_CLUSTER_SECRET": SECRET,
        "KITE_GATEWAY_REPLICA_ID": "kite-gateway-7d9f8-abcde",
        "KITE_GATEWAY_POD_IP": "10.4.0.17",
        "KITE_GATEWAY_LISTEN": "0.0.0.0:50051",
        "KITE_GATEWAY_LEASE_TTL": "9",
        "KITE_GATEWAY_LEASE_DRAIN_TIMEOUT": "20",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.clustered is True
    assert settings.gateway_nats_url == "nats://nats-0.nats:4222,nats://nats-1.nats:4222"
    assert settings.gateway_cluster_secret is not None and settings.gateway_cluster_secret.get_secret_value() == SECRET
    assert settings.gateway_replica_id == "kite-gateway-7d9f8-abcde"
    assert settings.advertise_address() == "10.4.0.17:50051"
    assert (settings.gateway_lease_ttl, settings.lease_renew_interval) == (9.0, 3.0)
    assert settings.gateway_lease_drain_timeout == 20.0
    assert SECRET not in repr(settings) and SECRET not in str(settings)


def test_the_clustered_mode_without_the_cluster_secret_stops_the_gateway_naming_the_secret() -> None:
    given: dict[str, Any] = {"gateway_database_url": DATABASE, "gateway_nats_url": "nats://n:4222"}
    with pytest.raises(ConfigError) as caught:
        load_settings(**given)
    assert "KITE_GATEWAY_CLUSTER_SECRET is required" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert load_settings(gateway_cluster_secret=SECRET, **given).clustered is True


def test_a_database_url_alone_is_one_process_on_postgresql_not_the_clustered_mode() -> None:
    settings = load_settings(gateway_database_url=DATABASE)
    assert settings.clustered is False and settings.gateway_cluster_secret is None


def test_a_nats_url_without_the_database_url_is_refused_since_leases_live_in_postgresql(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KITE_GATEWAY_DATABASE_URL", raising=False)  # the suite's PostgreSQL run sets it
    with pytest.raises(ConfigError) as caught:
        load_settings(gateway_nats_url="nats://n:4222", gateway_cluster_secret=SECRET)
    assert "KITE_GATEWAY_NATS_URL is set without KITE_GATEWAY_DATABASE_URL" in str(caught.value)


def test_a_short_cluster_secret_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(gateway_cluster_secret="short-secret-value")
    assert "at least 32 characters" in str(caught.value)
    assert "short-secret-value" not in str(caught.value)


def test_a_rejected_urls_password_is_not_shown_in_the_error() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(api_endpoint="ftp://user:hunter2@kite.example")
    assert "hunter2" not in str(caught.value) and "ftp://user:****@kite.example" in str(caught.value)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"gateway_listen": "0.0.0.0:6000", "gateway_pod_ip": "10.1.2.3"}, "10.1.2.3:6000"),
        ({"gateway_listen": "[::]:50051", "gateway_pod_ip": "fd00::17"}, "[fd00::17]:50051"),
        ({"gateway_listen": "10.9.9.9:50051"}, "10.9.9.9:50051"),
        ({"gateway_pod_ip": "10.1.2.3", "gateway_advertise_address": "gw-0.peers:7000"}, "gw-0.peers:7000"),
    ],
)
def test_the_advertise_address_comes_from_the_pod_ip_and_the_listen_port_unless_set(
    given: dict[str, Any], expected: str
) -> None:
    assert load_settings(**given).advertise_address() == expected


def test_a_listener_on_a_free_port_advertises_the_port_it_bound() -> None:
    settings = load_settings(gateway_listen="127.0.0.1:0")
    assert settings.advertise_address(bound_port=43123) == "127.0.0.1:43123"
    assert load_settings(gateway_listen="127.0.0.1:50051").advertise_address(bound_port=43123) == "127.0.0.1:50051"


def test_a_wildcard_listener_without_a_pod_ip_advertises_the_host_name() -> None:
    import socket

    assert load_settings(gateway_listen="0.0.0.0:50051").advertise_address() == f"{socket.gethostname()}:50051"


def test_a_lease_just_over_a_second_is_renewed_every_third_of_it() -> None:
    settings = load_settings(gateway_lease_ttl="1.5")
    assert settings.lease_renew_interval == 0.5


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("gateway_nats_url", "http://nats:4222", "is not a NATS server URL"),
        ("gateway_nats_url", "nats://a:4222,", "is not a NATS server URL"),
        ("gateway_replica_id", "pod name", "in Kubernetes: the pod's name"),
        ("gateway_replica_id", "", "1-253 characters"),
        ("gateway_pod_ip", "kite-gateway-0", "must be an IP address"),
        ("gateway_advertise_address", "10.1.2.3", "must be HOST:PORT"),
        ("gateway_lease_ttl", "1", "must be more than 1 second"),
        ("gateway_lease_ttl", "0.5", "renews its leases every ttl/3"),
        ("gateway_lease_ttl", "600", "less than or equal to 120"),
        ("gateway_lease_drain_timeout", "-1", "greater than or equal to 0"),
    ],
)
def test_a_bad_cluster_setting_names_its_variable_and_says_what_is_wrong(
    monkeypatch: pytest.MonkeyPatch, field: str, value: str, expected: str
) -> None:
    from kite_gateway.config import env_name

    monkeypatch.setenv(env_name(field), value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert f"{env_name(field)}={value!r}" in str(caught.value)
    assert expected in str(caught.value)


def test_every_setting_has_a_row_in_the_readmes_configuration_table() -> None:
    import re

    from kite_gateway.config import Settings, env_name

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented: set[str] = set()
    for row in table.splitlines():
        if not row.startswith("| `"):
            continue
        first, *short = re.findall(r"`([A-Z_]+)`", row.split("|")[1])
        documented.add(first)
        for suffix in short:  # `KITE_X_PER_SECOND`, `_PER_MINUTE`: the suffix replaces as many parts
            parts = first.split("_")
            documented.add("_".join(parts[: len(parts) - suffix.count("_")]) + suffix)
    missing = {env_name(name) for name in Settings.model_fields} - documented
    assert not missing, f"README.md's Configuration table lacks {sorted(missing)}"


def test_the_alerts_file_setting_is_the_variable_the_alert_rules_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from kite_gateway.config import env_name
    from kite_gateway.core.alerts import ALERTS_FILE_ENV

    assert env_name("gateway_alerts_file") == ALERTS_FILE_ENV
    monkeypatch.setenv(ALERTS_FILE_ENV, "/etc/kite-gateway/alerts.toml")
    assert load_settings().gateway_alerts_file == Path("/etc/kite-gateway/alerts.toml")


def test_a_webhook_retry_cap_below_its_base_is_refused_naming_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITE_GATEWAY_ALERTS_RETRY_BASE", "30")
    monkeypatch.setenv("KITE_GATEWAY_ALERTS_RETRY_CAP", "10")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert "KITE_GATEWAY_ALERTS_RETRY_CAP (10.0) is below KITE_GATEWAY_ALERTS_RETRY_BASE (30.0)" in str(refused.value)
