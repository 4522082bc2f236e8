"""The asyncio client: every RPC of the API's services as a typed method (one module per service)."""

from __future__ import annotations

from kite_gateway_client.accounts import AccountMethods
from kite_gateway_client.alerts import AlertMethods
from kite_gateway_client.market_data import MarketDataMethods
from kite_gateway_client.orders import OrderMethods, OrderUpdateEvent
from kite_gateway_client.portfolio import PortfolioMethods
from kite_gateway_client.reports import ReportMethods
from kite_gateway_client.signals import SignalMethods

__all__ = ["AsyncGatewayClient", "OrderUpdateEvent"]


class AsyncGatewayClient(
    AccountMethods, OrderMethods, PortfolioMethods, MarketDataMethods, SignalMethods, AlertMethods, ReportMethods
):
    """A connection to one gateway. Use as `async with AsyncGatewayClient(...) as client:`.

    `token`: the bearer token (None when the gateway runs without caller authentication).
    `tls_ca`: PEM of the CA (or the gateway's certificate) to connect with TLS; with `tls_cert` and
    `tls_key`, a client certificate for gateways that require one. `timeout`: seconds per call
    (each method also takes `timeout=`). `retry`: how safe calls are retried.

    Each RPC is the method of its snake_case name (GetOrderHistory: `get_order_history`), taking the
    request message as `request=` or its fields as arguments (prices as decimal.Decimal, times as
    datetime, instruments as "NSE:INFY" or a token), and returning the response message. Server
    streams are async iterators that resume after transient failures; `ticks` and `order_updates`
    yield just the ticks and the order updates. A failed call raises GatewayCallError.
    """

    async def __aenter__(self) -> AsyncGatewayClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()
