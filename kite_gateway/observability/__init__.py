"""Prometheus metrics: what they are, the RPC interceptor that feeds the gRPC ones, and the collector
that reads streaming and account state at scrape time."""

from kite_gateway.observability.metrics import (
    DUPLICATE_ORDERS,
    KITE_ERRORS,
    KITE_SECONDS,
    ORDER_QUEUE_REFUSALS,
    ORDER_UPDATES,
    RATE_LIMIT_WAIT,
    REGISTRY,
    RETENTION_PRUNED,
    RISK_REFUSALS,
    RPC_HANDLED,
    RPC_SECONDS,
    RPC_SENT,
    RPC_STARTED,
)
from kite_gateway.observability.state_collector import (
    ConnectionStats,
    EgressStats,
    LeaseStats,
    StateCollector,
    StateSources,
    TickerStats,
)

__all__ = [
    "DUPLICATE_ORDERS",
    "KITE_ERRORS",
    "KITE_SECONDS",
    "ORDER_QUEUE_REFUSALS",
    "ORDER_UPDATES",
    "RATE_LIMIT_WAIT",
    "REGISTRY",
    "RETENTION_PRUNED",
    "RISK_REFUSALS",
    "RPC_HANDLED",
    "RPC_SECONDS",
    "RPC_SENT",
    "RPC_STARTED",
    "ConnectionStats",
    "EgressStats",
    "LeaseStats",
    "StateCollector",
    "StateSources",
    "TickerStats",
]
