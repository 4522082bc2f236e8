"""Configuration: defaults, environment variables, flag overrides and clear errors."""

from __future__ import annotations

from pathlib import Path

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
