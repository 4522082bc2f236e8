"""The connection every service's methods share: the channel, the bearer token, unary calls (retried
when safe) and resumable server streams, with failures turned into GatewayCallError."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import TypeVar

import grpc
from kite_gateway_api.v1 import (
    account_pb2_grpc,
    alert_pb2_grpc,
    market_data_pb2_grpc,
    order_pb2_grpc,
    portfolio_pb2_grpc,
    report_pb2_grpc,
    signal_pb2_grpc,
)

from kite_gateway_client.errors import GatewayCallError
from kite_gateway_client.retry import DEFAULT_RETRY, TRANSIENT, RetryPolicy

Request = TypeVar("Request")
Response = TypeVar("Response")


class Connection:
    """A channel to one gateway and how calls go over it (see AsyncGatewayClient for the arguments)."""

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
        self.signals = signal_pb2_grpc.SignalServiceStub(self.channel)
        self.alerts = alert_pb2_grpc.AlertServiceStub(self.channel)
        self.reports = report_pb2_grpc.ReportServiceStub(self.channel)
        self.closed = False

    async def close(self) -> None:
        """Ends every stream of this client (they stop iterating) and closes the channel."""
        self.closed = True
        await self.channel.close()

    async def _call(
        self,
        method: grpc.aio.UnaryUnaryMultiCallable[Request, Response],
        request: Request,
        *,
        retried: bool,
        call_timeout: float | None,
    ) -> Response:
        """One unary call, of `call_timeout` seconds at most (the client's timeout when None).
        `retried`: safe to repeat (a read, or a write with an idempotency key), so transient
        failures are tried again under the retry policy."""

        async def attempt() -> Response:
            reply: Response = await method(request, metadata=self.metadata, timeout=call_timeout or self.timeout)
            return reply

        if retried:
            return await self.retry.run(attempt)
        try:
            return await attempt()
        except grpc.aio.AioRpcError as exc:
            raise GatewayCallError.from_rpc_error(exc) from None

    async def _resumable(
        self, open_call: Callable[[], grpc.aio.UnaryStreamCall[Request, Response]]
    ) -> AsyncGenerator[Response, None]:
        """The messages of a server stream, opened again (by `open_call`) after transient failures.
        It ends when the client is closed; other failures raise GatewayCallError."""
        attempt = 0
        while not self.closed:
            call = open_call()
            try:
                while True:
                    message = await call.read()
                    if message is grpc.aio.EOF:
                        return
                    attempt = 0
                    yield message
            except grpc.aio.AioRpcError as exc:
                if self.closed:
                    return
                error = GatewayCallError.from_rpc_error(exc)
                if error.code not in TRANSIENT:
                    raise error from None
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self.closed and not (task is not None and task.cancelling()):
                    return  # the channel was closed under the stream, not this task cancelled
                raise
            finally:
                call.cancel()
            await asyncio.sleep(self.retry.delay(attempt))
            attempt += 1
