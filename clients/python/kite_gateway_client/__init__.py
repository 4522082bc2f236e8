"""kite-gateway's Python client: `AsyncGatewayClient` (asyncio) and `GatewayClient` (blocking).

Every RPC of the gateway's four services is a method of both. They authenticate with a bearer
token, retry what is safe to retry (reads, and order placement, which carries an idempotency key),
resume the order-update stream from the last sequence seen, and raise `GatewayCallError` (with the
gateway's ErrorInfo reason, field violations and RetryInfo) when a call fails.
"""

from kite_gateway_client.aio import AsyncGatewayClient, OrderUpdateEvent
from kite_gateway_client.decimals import from_decimal, to_decimal
from kite_gateway_client.errors import FieldViolation, GatewayCallError
from kite_gateway_client.params import instrument, order_params, to_date
from kite_gateway_client.retry import RetryPolicy
from kite_gateway_client.sync import GatewayClient

__all__ = [
    "AsyncGatewayClient",
    "FieldViolation",
    "GatewayCallError",
    "GatewayClient",
    "OrderUpdateEvent",
    "RetryPolicy",
    "from_decimal",
    "instrument",
    "order_params",
    "to_date",
    "to_decimal",
]
