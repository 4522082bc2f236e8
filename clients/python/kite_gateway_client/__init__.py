"""kite-gateway's Python client: `AsyncGatewayClient` (asyncio) and `GatewayClient` (blocking).

Both authenticate with a bearer token, retry what is safe to retry (reads, and order placement,
which carries an idempotency key), and resume the order-update stream from the last sequence seen.
"""

from kite_gateway_client.aio import AsyncGatewayClient, OrderUpdateEvent
from kite_gateway_client.decimals import from_decimal, to_decimal
from kite_gateway_client.retry import RetryPolicy
from kite_gateway_client.sync import GatewayClient

__all__ = ["AsyncGatewayClient", "GatewayClient", "OrderUpdateEvent", "RetryPolicy", "from_decimal", "to_decimal"]
