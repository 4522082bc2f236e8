"""Every metric the gateway exports, on one registry. gRPC server metrics use the names of
go-grpc-prometheus (what dashboards for gRPC services expect); the rest are prefixed kite_ (Kite
calls and the upstream ticker) or kite_gateway_ (the gateway's own state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

_RPC = ["grpc_type", "grpc_service", "grpc_method"]
# 2 s is a boundary because the order-acceptance SLO (deploy/prometheus-rule.yaml) is "PlaceOrder
# answered within 2 s": a ratio of buckets is exact only at a bucket's edge.
ORDER_ACCEPTANCE_TARGET_SECONDS = 2.0
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10)

RPC_STARTED = Counter("grpc_server_started_total", "RPCs started on the server.", _RPC, registry=REGISTRY)
RPC_HANDLED = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, by status code.",
    [*_RPC, "grpc_code"],
    registry=REGISTRY,
)
RPC_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time from an RPC's start to its completion (streams: their whole life).",
    _RPC,
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
RPC_SENT = Counter("grpc_server_msg_sent_total", "Stream messages sent by the server.", _RPC, registry=REGISTRY)

KITE_SECONDS = Histogram(
    "kite_request_duration_seconds",
    "Kite REST call latency (after rate limiting), by endpoint class and client method.",
    ["endpoint_class", "method"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
KITE_ERRORS = Counter(
    "kite_request_errors_total",
    "Failed Kite REST calls by endpoint class and Kite error type (or transport error).",
    ["endpoint_class", "error_type"],
    registry=REGISTRY,
)
RATE_LIMIT_WAIT = Histogram(
    "kite_rate_limiter_wait_seconds",
    "Time a Kite call waited for its rate limiter.",
    ["endpoint_class"],
    buckets=(0.0001, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
    registry=REGISTRY,
)
ORDER_UPDATES = Counter(
    "kite_gateway_order_updates_total",
    "Order updates stored (de-duplicated), by account and order status.",
    ["account_id", "status"],
    registry=REGISTRY,
)
RISK_REFUSALS = Counter(
    "kite_gateway_risk_refusals_total",
    "Orders refused before Kite, by account and limit (or kill_switch).",
    ["account_id", "limit"],
    registry=REGISTRY,
)
DUPLICATE_ORDERS = Counter(
    "kite_gateway_duplicate_orders_total",
    "Second orders found at Kite for one client_order_id, by account and what the gateway did.",
    ["account_id", "action"],
    registry=REGISTRY,
)
ORDER_QUEUE_REFUSALS = Counter(
    "kite_gateway_order_queue_refusals_total",
    "Placements refused before anything was sent, by account and why (full, wait, day_cap, abandoned).",
    ["account_id", "why"],
    registry=REGISTRY,
)
RETENTION_PRUNED = Counter(
    "kite_gateway_retention_pruned_rows_total",
    "Rows deleted because they were older than their table's retention window, by table.",
    ["table"],
    registry=REGISTRY,
)
