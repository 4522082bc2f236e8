"""The gateway's configuration: one typed, validated settings object.

Values come from environment variables (the `KITE_*` names below) and can be overridden by
command-line flags; both are validated at start, and a bad value stops the gateway with a
message naming the variable, the flag and what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def _host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:50051 or [::]:50051")
    return value


def _ip_list(value: str) -> str:
    import ipaddress

    for item in filter(None, (part.strip() for part in value.split(","))):
        try:
            ipaddress.ip_address(item)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address: give IPs separated by commas, e.g. 127.0.0.2") from None
    return value


def _database_url(value: SecretStr | None) -> SecretStr | None:
    if value is None:
        return None
    scheme, sep, rest = value.get_secret_value().partition("://")
    if not sep or scheme not in ("postgresql", "postgres") or not rest:
        raise ValueError("must be a postgresql:// URL, e.g. postgresql://user:password@host:5432/kite_gateway")
    return value


def _url(*schemes: str) -> Any:
    def check(value: str) -> str:
        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in schemes or not rest:
            raise ValueError(f"must be a {' or '.join(schemes)} URL, e.g. {schemes[-1]}://host")
        return value.rstrip("/")

    return AfterValidator(check)


def _market_protection(value: Decimal) -> Decimal:
    if value != -1 and not 0 < value <= 100:
        raise ValueError(
            "must be -1 (automatic) or a percent above 0 and at most 100: Kite refuses MARKET and SL-M orders "
            "without market protection (0) since 2026-04-01"
        )
    return value


def _algo_id(value: str) -> str:
    if (value and not all(c.isascii() and (c.isalnum() or c in "._-") for c in value)) or len(value) > 64:
        raise ValueError("must be 1-64 characters of letters, digits and . _ - (the exchange-issued algo ID), or empty")
    return value


class Settings(BaseSettings):
    """Every setting of the gateway. Field names map to `KITE_<NAME>` environment variables."""

    model_config = SettingsConfigDict(env_prefix="KITE_", frozen=True, extra="ignore")

    # Kite Connect (the seed design's names).
    api_endpoint: Annotated[str, _url("http", "https")] = "https://api.kite.trade"
    websocket_endpoint: Annotated[str, _url("ws", "wss")] = "wss://ws.kite.trade"
    login_endpoint: Annotated[str, _url("http", "https")] = "https://kite.zerodha.com"
    request_timeout: float = Field(7.0, gt=0, le=120, description="seconds per Kite REST call")
    max_retries: int = Field(3, ge=0, le=10, description="retries of idempotent Kite reads")
    rate_limit_per_second: float = Field(10.0, gt=0, le=100_000, description="Kite calls per second")
    burst_limit: int = Field(10, ge=1, le=100_000, description="Kite calls allowed in a burst")
    metrics_enabled: bool = True
    log_level: LogLevel = "INFO"

    # The gateway's own.
    gateway_listen: Annotated[str, AfterValidator(_host_port)] = "127.0.0.1:50051"
    gateway_data_dir: Path = Path("./data")
    # PostgreSQL for the gateway's state (the clustered mode), e.g. postgresql://user:password@host:5432/db;
    # unset: the embedded SQLite file in the data directory. It carries a password: never logged.
    gateway_database_url: Annotated[SecretStr | None, AfterValidator(_database_url)] = None
    gateway_shutdown_grace: float = Field(10.0, ge=0, le=300, description="seconds to drain RPCs")
    gateway_log_format: Literal["json", "console"] = "json"
    gateway_paper_listen: Annotated[str, AfterValidator(_host_port)] = "127.0.0.1:8765"
    gateway_paper_seed: int = 1
    # IPs the paper market's demo app takes order calls from (as Kite's IP whitelist); "" takes any
    gateway_paper_ip_whitelist: Annotated[str, AfterValidator(_ip_list)] = ""
    gateway_http_listen: Annotated[str, AfterValidator(_host_port)] = "127.0.0.1:8080"
    gateway_secret_key: SecretStr | None = None
    gateway_secret_key_file: Path | None = None
    gateway_market_protection: Annotated[Decimal, AfterValidator(_market_protection)] = Field(
        Decimal(-1), description="-1 automatic, or a percent above 0"
    )
    gateway_algo_id: Annotated[str, AfterValidator(_algo_id)] = ""  # the algo ID of orders whose principal has none
    gateway_order_quarantine: float = Field(
        120.0, ge=0, le=3600, description="seconds after an unanswered order attempt's timeout before it may be re-sent"
    )
    gateway_order_queue_depth: int = Field(100, ge=1, le=100_000, description="placements waiting per account")
    gateway_order_queue_wait: float = Field(10.0, gt=0, le=600, description="seconds a placement may wait to be sent")
    gateway_orders_per_second: int = Field(10, ge=1, le=1000, description="Kite's order cap per user per second")
    gateway_orders_per_minute: int = Field(400, ge=1, le=60_000, description="Kite's order cap per user per minute")
    gateway_orders_per_day: int = Field(5000, ge=1, le=10_000_000, description="Kite's order cap per user per day")
    gateway_order_clock_skew: float = Field(
        0.1, ge=0, le=5, description="seconds two orders' delays from the gateway to Kite's clock may differ"
    )
    gateway_kite_workers: int = Field(32, ge=1, le=256, description="threads calling Kite")
    gateway_stale_after: float = Field(30.0, gt=0, le=3600, description="seconds of silence that flag a feed stale")
    gateway_record_dir: Path | None = None  # when set, every account's upstream ticker frames are recorded here
    gateway_risk_file: Path | None = None  # TOML risk limits (kite_gateway/core/risk/limits.py)
    gateway_egress_file: Path | None = None  # TOML egress per account group (kite_gateway/kite/egress.py)
    gateway_egress_family_size: int = Field(
        4, ge=1, le=1000, description="accounts that may share one egress IP before the gateway warns"
    )
    gateway_auth_file: Path | None = None  # TOML principals (kite_gateway/auth/principals.py)
    gateway_auth_principals: SecretStr | None = None  # the same TOML, inline
    gateway_auth_open_health: bool = True  # health and reflection answer callers without a token
    gateway_allow_unauthenticated: bool = False  # serve a non-loopback address with no principals
    gateway_tls_cert_file: Path | None = None
    gateway_tls_key_file: Path | None = None
    gateway_tls_client_ca_file: Path | None = None  # require client certificates signed by this CA (mTLS)


@dataclass(frozen=True)
class KiteConfig:
    """What the Kite adapter needs: where Kite is, how long a call may take, how often a read is
    retried, the apps' rate limits, each account's order pacing and how many threads call Kite."""

    api_endpoint: str
    login_endpoint: str
    request_timeout: float
    max_retries: int
    rate_limit_per_second: float
    burst_limit: int
    workers: int
    orders_per_second: int = 10
    order_clock_skew: float = 0.1

    @classmethod
    def of(cls, settings: Settings) -> KiteConfig:
        return cls(
            api_endpoint=settings.api_endpoint,
            login_endpoint=settings.login_endpoint,
            request_timeout=settings.request_timeout,
            max_retries=settings.max_retries,
            rate_limit_per_second=settings.rate_limit_per_second,
            burst_limit=settings.burst_limit,
            workers=settings.gateway_kite_workers,
            orders_per_second=settings.gateway_orders_per_second,
            order_clock_skew=settings.gateway_order_clock_skew,
        )


SECRET_FIELDS = frozenset(name for name, info in Settings.model_fields.items() if "SecretStr" in str(info.annotation))


class ConfigError(Exception):
    """The configuration is invalid; the message says which setting and why."""


def env_name(field: str) -> str:
    """The environment variable of a settings field."""
    return f"KITE_{field.upper()}"


def load_settings(flags: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read the environment, apply overrides (from CLI flags; None means "not given"), validate.

    `flags` names the command-line flag of each overridable field, for error messages.
    """
    given = {name: value for name, value in overrides.items() if value is not None}
    flags = flags or {}
    try:
        return Settings(**given)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            source = flags.get(field, field) if field in given else env_name(field)
            shown = "'<hidden>'" if field in SECRET_FIELDS else repr(error.get("input"))  # a URL's password too
            lines.append(f"  {source}={shown}: {error['msg']}")
        raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from None
