"""The asyncio client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from kite_gateway_api.v1 import (
    account_pb2,
    account_pb2_grpc,
    common_pb2,
    market_data_pb2,
    market_data_pb2_grpc,
    order_pb2,
    order_pb2_grpc,
    portfolio_pb2,
    portfolio_pb2_grpc,
)

from kite_gateway_client.retry import DEFAULT_RETRY, TRANSIENT, RetryPolicy


@dataclass(frozen=True)
class OrderUpdateEvent:
    """One event of the order-update stream: an update, or a gap the gateway reports."""

    update: order_pb2.OrderUpdate | None = None
    gap: order_pb2.OrderUpdateGap | None = None


def instruments(symbols: Iterable[str]) -> list[common_pb2.InstrumentRef]:
    return [common_pb2.InstrumentRef(symbol=s) for s in symbols]


class AsyncGatewayClient:
    """A connection to one gateway. Use as `async with AsyncGatewayClient(...) as client:`.

    `token`: the bearer token (None when the gateway runs without caller authentication).
    `tls_ca`: PEM of the CA (or the gateway's certificate) to connect with TLS; with `tls_cert` and
    `tls_key`, a client certificate for gateways that require one.
    """

    def __init__(
        self,
        target: str = "127.0.0.1:50051",
        token: str | None = None,
        *,
        tls_ca: bytes | Path | None = None,
        tls_cert: bytes | Path | None = None,
        tls_key: bytes | Path | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout: float = 10.0,
    ) -> None:
        options = [("grpc.max_receive_message_length", 64 << 20), ("grpc.keepalive_time_ms", 30_000)]
        if tls_ca is None:
            self.channel = grpc.aio.insecure_channel(target, options=options)
        else:
            read = [p.read_bytes() if isinstance(p, Path) else p for p in (tls_ca, tls_key, tls_cert)]
            credentials = grpc.ssl_channel_credentials(*read)
            self.channel = grpc.aio.secure_channel(target, credentials, options=options)
        self.metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()
        self.retry = retry
        self.timeout = timeout
        self.accounts = account_pb2_grpc.AccountServiceStub(self.channel)
        self.orders = order_pb2_grpc.OrderServiceStub(self.channel)
        self.portfolio = portfolio_pb2_grpc.PortfolioServiceStub(self.channel)
        self.market = market_data_pb2_grpc.MarketDataServiceStub(self.channel)
        self.last_sequence: dict[str, int] = {}  # account -> last order-update sequence received

    async def __aenter__(self) -> AsyncGatewayClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.channel.close()

    async def _read(self, method: Any, request: Any) -> Any:
        """A call that is safe to repeat, retried on transient failures."""
        return await self.retry.run(lambda: method(request, metadata=self.metadata, timeout=self.timeout))

    # Accounts and portfolio -------------------------------------------------------------------

    async def list_accounts(self) -> list[account_pb2.Account]:
        reply = await self._read(self.accounts.ListAccounts, account_pb2.ListAccountsRequest())
        return list(reply.accounts)

    async def positions(self, account_id: str) -> portfolio_pb2.GetPositionsResponse:
        reply: portfolio_pb2.GetPositionsResponse = await self._read(
            self.portfolio.GetPositions, portfolio_pb2.GetPositionsRequest(account_id=account_id)
        )
        return reply

    async def holdings(self, account_id: str) -> portfolio_pb2.GetHoldingsResponse:
        reply: portfolio_pb2.GetHoldingsResponse = await self._read(
            self.portfolio.GetHoldings, portfolio_pb2.GetHoldingsRequest(account_id=account_id)
        )
        return reply

    # Market data ------------------------------------------------------------------------------

    async def ltp(self, account_id: str, symbols: Sequence[str]) -> market_data_pb2.GetLtpResponse:
        request = market_data_pb2.GetLtpRequest(account_id=account_id, instruments=instruments(symbols))
        reply: market_data_pb2.GetLtpResponse = await self._read(self.market.GetLtp, request)
        return reply

    async def quotes(self, account_id: str, symbols: Sequence[str]) -> market_data_pb2.GetQuoteResponse:
        request = market_data_pb2.GetQuoteRequest(account_id=account_id, instruments=instruments(symbols))
        reply: market_data_pb2.GetQuoteResponse = await self._read(self.market.GetQuote, request)
        return reply

    async def ticks(
        self, account_id: str, symbols: Sequence[str], mode: int = market_data_pb2.TICK_MODE_QUOTE
    ) -> AsyncIterator[market_data_pb2.Tick]:
        """Live ticks, re-subscribing after a transient failure (ticks in between are not replayed:
        a new subscription starts with the current tick of every instrument)."""
        request = market_data_pb2.StreamTicksRequest(
            account_id=account_id,
            instruments=instruments(symbols),
            mode=mode,  # type: ignore[arg-type]
        )
        async for message in self._resumable(lambda: self.market.StreamTicks(request, metadata=self.metadata)):
            if message.WhichOneof("event") == "ticks":
                for tick in message.ticks.ticks:
                    yield tick

    # Orders -----------------------------------------------------------------------------------

    async def place_order(
        self, account_id: str, params: order_pb2.OrderParams, client_order_id: str | None = None
    ) -> order_pb2.PlaceOrderResponse:
        """Place an order, retrying transient failures with the same client_order_id (the gateway
        places it at most once). Pass your own id to make retries across restarts of your process
        safe too."""
        request = order_pb2.PlaceOrderRequest(
            account_id=account_id, client_order_id=client_order_id or uuid.uuid4().hex, params=params
        )
        reply: order_pb2.PlaceOrderResponse = await self._read(self.orders.PlaceOrder, request)
        return reply

    async def cancel_order(self, account_id: str, order_id: str) -> order_pb2.CancelOrderResponse:
        """Not retried: an unknown outcome is reported for you to check (ListOrders)."""
        request = order_pb2.CancelOrderRequest(account_id=account_id, order=order_pb2.OrderTarget(order_id=order_id))
        reply: order_pb2.CancelOrderResponse = await self.orders.CancelOrder(
            request, metadata=self.metadata, timeout=self.timeout
        )
        return reply

    async def order_updates(
        self, account_id: str, after_sequence: int | None = None, heartbeat_seconds: int = 5
    ) -> AsyncIterator[OrderUpdateEvent]:
        """Every order update of the account after `after_sequence` (default: where this client
        left off, else from now), then live; reconnects after transient failures and resumes from
        the last sequence received, so nothing is missed or repeated."""
        if after_sequence is not None:
            self.last_sequence[account_id] = after_sequence

        def resume() -> Any:
            request = order_pb2.StreamOrderUpdatesRequest(
                account_id=account_id, heartbeat_interval=Duration(seconds=heartbeat_seconds)
            )
            if account_id in self.last_sequence:
                request.after_sequence = self.last_sequence[account_id]
            return self.orders.StreamOrderUpdates(request, metadata=self.metadata)

        async for message in self._resumable(resume):
            kind = message.WhichOneof("event")
            if kind == "update":
                self.last_sequence[account_id] = message.update.sequence
                yield OrderUpdateEvent(update=message.update)
            elif kind == "gap":
                yield OrderUpdateEvent(gap=message.gap)
            elif kind == "replay_complete" and account_id not in self.last_sequence:
                self.last_sequence[account_id] = message.replay_complete.last_sequence

    async def _resumable(self, open_call: Callable[[], Any]) -> AsyncIterator[Any]:
        """The messages of a server stream, opened again (by `open_call`) after transient failures."""
        attempt = 0
        while True:
            call = open_call()
            try:
                async for message in call:
                    attempt = 0
                    yield message
                return
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in TRANSIENT:
                    raise
            finally:
                call.cancel()
            await asyncio.sleep(self.retry.delay(attempt))
            attempt += 1
