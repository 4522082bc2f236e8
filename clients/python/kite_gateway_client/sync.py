"""The blocking client: the asyncio client run on a private event loop in a background thread, so
scripts and synchronous services get the same retries and resumable streams."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

from kite_gateway_api.v1 import account_pb2, market_data_pb2, order_pb2, portfolio_pb2

from kite_gateway_client.aio import AsyncGatewayClient, OrderUpdateEvent

T = TypeVar("T")


class GatewayClient:
    """Blocking twin of AsyncGatewayClient (same arguments). Use as `with GatewayClient(...) as client:`."""

    def __init__(self, target: str = "127.0.0.1:50051", token: str | None = None, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kite-gateway-client", daemon=True)
        self._thread.start()

        async def connect() -> AsyncGatewayClient:
            return AsyncGatewayClient(target, token, **options)

        self._client = self._run(connect())

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def _iterate(self, stream: AsyncIterator[T]) -> Iterator[T]:
        try:
            while True:
                try:
                    yield self._run(anext(stream))  # type: ignore[arg-type]
                except StopAsyncIteration:
                    return
        finally:
            self._run(stream.aclose())  # type: ignore[attr-defined]

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._run(self._client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    @property
    def last_sequence(self) -> dict[str, int]:
        return self._client.last_sequence

    def list_accounts(self) -> list[account_pb2.Account]:
        return self._run(self._client.list_accounts())

    def positions(self, account_id: str) -> portfolio_pb2.GetPositionsResponse:
        return self._run(self._client.positions(account_id))

    def holdings(self, account_id: str) -> portfolio_pb2.GetHoldingsResponse:
        return self._run(self._client.holdings(account_id))

    def ltp(self, account_id: str, symbols: Sequence[str]) -> market_data_pb2.GetLtpResponse:
        return self._run(self._client.ltp(account_id, symbols))

    def quotes(self, account_id: str, symbols: Sequence[str]) -> market_data_pb2.GetQuoteResponse:
        return self._run(self._client.quotes(account_id, symbols))

    def place_order(
        self, account_id: str, params: order_pb2.OrderParams, client_order_id: str | None = None
    ) -> order_pb2.PlaceOrderResponse:
        return self._run(self._client.place_order(account_id, params, client_order_id))

    def cancel_order(self, account_id: str, order_id: str) -> order_pb2.CancelOrderResponse:
        return self._run(self._client.cancel_order(account_id, order_id))

    def ticks(
        self, account_id: str, symbols: Sequence[str], mode: int = market_data_pb2.TICK_MODE_QUOTE
    ) -> Iterator[market_data_pb2.Tick]:
        return self._iterate(self._client.ticks(account_id, symbols, mode))

    def order_updates(self, account_id: str, after_sequence: int | None = None) -> Iterator[OrderUpdateEvent]:
        return self._iterate(self._client.order_updates(account_id, after_sequence))
