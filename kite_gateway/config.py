"""The gateway's configuration: one typed, validated settings object.

Values come from environment variables (the `KITE_*` names below) and can be overridden by
command-line flags; both are validated at start, and a bad value stops the gateway with a
message naming the variable, the flag and what is wrong.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, Field, SecretStr, ValidationError, model_validator
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


NATS_SCHEMES = ("nats", "tls", "ws", "wss")
CLUSTER_SECRET_MIN_LENGTH = 32
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "[::]", "::"})


def _nats_urls(value: str) -> str:
    urls = [part.strip() for part in value.split(",")]
    for url in urls:
        scheme, sep, rest = url.partition("://")
        if not sep or scheme not in NATS_SCHEMES or not rest:
            raise ValueError(
                f"{url!r} is not a NATS server URL: give nats:// (or tls://, ws://, wss://) URLs separated by "
                "commas, e.g. nats://nats.trading.svc:4222"
            )
    return ",".join(urls)


def _cluster_secret(value: SecretStr) -> SecretStr:
    if len(value.get_secret_value()) < CLUSTER_SECRET_MIN_LENGTH:
        raise ValueError(
            f"must be at least {CLUSTER_SECRET_MIN_LENGTH} characters (e.g. the output of `openssl rand -hex 32`), "
            "the same on every replica: it signs the callers' principals forwarded between replicas"
        )
    return value


def _replica_id(value: str) -> str:
    if not value or len(value) > 253 or not all(c.isascii() and (c.isalnum() or c in "._-") for c in value):
        raise ValueError("must be 1-253 characters of letters, digits and . _ - (in Kubernetes: the pod's name)")
    return value


def _ip(value: str) -> str:
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("must be an IP address, e.g. 10.1.2.3 (in Kubernetes: status.podIP)") from None
    return value


def _lease_ttl(value: float) -> float:
    if not value > 1:
        raise ValueError(
            "must be more than 1 second: the owner renews its leases every ttl/3, and a shorter lease would "
            "expire between two renewals under ordinary scheduling and database latency"
        )
    return value


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
    gateway_kite_workers: int = Field(32, ge=1, le=256, description="Kite requests in flight at once (per egress)")
    gateway_stale_after: float = Field(30.0, gt=0, le=3600, description="seconds of silence that flag a feed stale")
    gateway_record_dir: Path | None = None  # when set, every account's upstream ticker frames are recorded here
    gateway_risk_file: Path | None = None  # TOML risk limits (kite_gateway/core/risk/limits.py)
    # TOML strategies and account groups (kite_gateway/core/signals/strategies.py)
    gateway_strategies_file: Path | None = None
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

    # The clustered mode (deploy/REPLICAS.md): replicas sharing PostgreSQL (the database URL above),
    # owning accounts by lease, forwarding owner-bound calls and fanning out through NATS.
    gateway_nats_url: Annotated[str, AfterValidator(_nats_urls)] | None = None  # NATS servers, comma-separated
    # signs the principals forwarded between replicas; required with the database or NATS URL; never logged
    gateway_cluster_secret: Annotated[SecretStr, AfterValidator(_cluster_secret)] | None = None
    gateway_replica_id: Annotated[str, AfterValidator(_replica_id)] = Field(
        default_factory=socket.gethostname, description="this replica's name in leases and logs (the pod name)"
    )
    gateway_pod_ip: Annotated[str, AfterValidator(_ip)] | None = None  # the pod's IP (downward API status.podIP)
    # HOST:PORT at which the other replicas reach this one's gRPC listener; see advertise_address()
    gateway_advertise_address: Annotated[str, AfterValidator(_host_port)] | None = None
    gateway_lease_ttl: Annotated[float, AfterValidator(_lease_ttl)] = Field(
        6.0, le=120, description="seconds an account's lease lasts unless its owner renews it (every ttl/3)"
    )
    gateway_lease_drain_timeout: float = Field(
        15.0, ge=0, le=300, description="seconds a stopping replica spends handing its leases to the others"
    )

    # Strategy signals by webhook (POST /signals/webhook; kite_gateway/core/signals/webhook.py): each
    # strategy's webhook secret in a TOML file of its own (strategy id = "secret", mode 0600), and how far
    # a webhook's timestamp may be from the gateway's clock (a replay older than that is refused).
    gateway_webhook_secrets_file: Path | None = None
    gateway_webhook_window: float = Field(
        300.0, ge=1, le=3600, description="seconds a webhook's timestamp may be from the gateway's clock"
    )

    # Gateway alerts (kite_gateway/core/alerts): the file of rules and webhook sinks, the bound of the
    # queue in front of the engine, how often the time-based rules are checked, and webhook delivery.
    gateway_alerts_file: Path | None = None  # TOML [[alerts.rules]] and [[alerts.sinks]] (core/alerts)
    gateway_alerts_queue: int = Field(
        10_000, ge=1, le=1_000_000, description="events waiting for the alert engine; more are dropped and counted"
    )
    gateway_alerts_tick_interval: float = Field(
        5.0, gt=0, le=300, description="seconds between two checks of the rules that fire on time passing"
    )
    gateway_alerts_webhook_timeout: float = Field(10.0, gt=0, le=120, description="seconds per webhook POST")
    gateway_alerts_retry_base: float = Field(
        2.0, gt=0, le=3600, description="seconds: the first retry of a failed webhook waits up to this, doubling"
    )
    gateway_alerts_retry_cap: float = Field(
        300.0, gt=0, le=86_400, description="seconds: the longest a webhook retry waits"
    )

    # Data retention (kite_gateway/storage/retention.py): days each kind of record is kept, 0 for ever,
    # and how often the gateway prunes what is older. A broker's records are kept for years (SEBI).
    gateway_retention_order_updates_days: int = Field(
        90, ge=0, le=36_500, description="days order updates are kept for StreamOrderUpdates resumes (0: forever)"
    )
    gateway_retention_audit_days: int = Field(
        2922, ge=0, le=36_500, description="days audit entries are kept (default 8 years; 0: forever)"
    )
    gateway_retention_fills_days: int = Field(
        2922, ge=0, le=36_500, description="days fills are kept (default 8 years; 0: forever)"
    )
    gateway_retention_interval: float = Field(3600.0, ge=1, le=86_400, description="seconds between two pruning rounds")

    @model_validator(mode="after")
    def _alert_retries_agree(self) -> Self:
        if self.gateway_alerts_retry_cap < self.gateway_alerts_retry_base:
            raise ValueError(
                f"{env_name('gateway_alerts_retry_cap')} ({self.gateway_alerts_retry_cap}) is below "
                f"{env_name('gateway_alerts_retry_base')} ({self.gateway_alerts_retry_base}): the cap bounds the "
                "doubling retries, so it must be at least the first wait"
            )
        return self

    @model_validator(mode="after")
    def _cluster_settings_agree(self) -> Self:
        database_url = self.gateway_database_url
        if self.gateway_nats_url is not None and database_url is None:
            raise ValueError(
                f"{env_name('gateway_nats_url')} is set without {env_name('gateway_database_url')}: the clustered "
                "mode keeps its state and leases in PostgreSQL; set both, or neither for the embedded mode"
            )
        if self.gateway_nats_url is not None and self.gateway_cluster_secret is None:
            raise ValueError(
                f"{env_name('gateway_cluster_secret')} is required with {env_name('gateway_nats_url')} (the clustered "
                f"mode): the same secret of at least {CLUSTER_SECRET_MIN_LENGTH} characters "
                "on every replica (e.g. `openssl rand -hex 32`), which signs the principals forwarded between replicas"
            )
        return self

    @property
    def clustered(self) -> bool:
        """Whether this replica runs in the clustered mode: the database URL (state and leases in
        PostgreSQL) and the NATS URL (the live fan-out between replicas) both set; accounts owned by
        lease, owner-bound calls forwarded. Otherwise one process: its state in SQLite or, with only
        the database URL, in PostgreSQL (then run exactly one replica)."""
        return self.gateway_database_url is not None and self.gateway_nats_url is not None

    @property
    def lease_renew_interval(self) -> float:
        """Seconds between two renewals of this replica's leases: a third of the lease's time to live."""
        return self.gateway_lease_ttl / 3

    def advertise_address(self, bound_port: int | None = None) -> str:
        """HOST:PORT at which the other replicas reach this one's gRPC listener: the advertise address
        when set; else the pod IP (or the listen host when it is not a wildcard, or the host name) with
        the listen port, or `bound_port` when the listener took a free port (`:0`)."""
        if self.gateway_advertise_address is not None:
            return self.gateway_advertise_address
        listen_host, _, listen_port = self.gateway_listen.rpartition(":")
        port = bound_port if bound_port is not None and listen_port == "0" else int(listen_port)
        host = self.gateway_pod_ip
        if host is None:
            host = listen_host if listen_host not in _WILDCARD_HOSTS else socket.gethostname()
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{port}"


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


class ConfigError(Exception):
    """The configuration is invalid; the message says which setting and why."""


def env_name(field: str) -> str:
    """The environment variable of a settings field."""
    return f"KITE_{field.upper()}"


def _shown(field: str, value: Any) -> Any:
    """A rejected value as an error message may show it: a secret's never, a URL's without its password."""
    info = Settings.model_fields.get(field)
    if info is not None and "SecretStr" in repr(info.annotation):
        return "**********"
    if isinstance(value, str) and "://" in value and "@" in value:
        scheme, _, rest = value.partition("://")
        userinfo, _, host = rest.rpartition("@")
        if ":" in userinfo:
            return f"{scheme}://{userinfo.partition(':')[0]}:****@{host}"
    return value


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
            if not error["loc"]:  # a rule between settings: its message names them
                lines.append(f"  {error['msg'].removeprefix('Value error, ')}")
                continue
            field = str(error["loc"][0])
            source = flags.get(field, field) if field in given else env_name(field)
            lines.append(f"  {source}={_shown(field, error.get('input'))!r}: {error['msg']}")
        raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from None
