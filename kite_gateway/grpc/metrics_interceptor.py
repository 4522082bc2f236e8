"""A grpc.aio server interceptor recording go-grpc-prometheus metrics for every RPC."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from kite_gateway.observability import RPC_HANDLED, RPC_SECONDS, RPC_SENT, RPC_STARTED


def _code(context: grpc.aio.ServicerContext, error: BaseException | None) -> str:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    if isinstance(error, asyncio.CancelledError):
        return "CANCELLED"
    return "OK" if error is None else "UNKNOWN"


def _handled(
    labels: tuple[str, str, str], context: grpc.aio.ServicerContext, error: BaseException | None, started: float
) -> None:
    RPC_HANDLED.labels(*labels, _code(context, error)).inc()
    RPC_SECONDS.labels(*labels).observe(time.perf_counter() - started)


class RpcMetricsInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        service, _, method = details.method.lstrip("/").partition("/")
        if handler.request_streaming and handler.response_streaming:
            kind, name = "bidi_stream", "stream_stream"
        elif handler.request_streaming:
            kind, name = "client_stream", "stream_unary"
        elif handler.response_streaming:
            kind, name = "server_stream", "unary_stream"
        else:
            kind, name = "unary", "unary_unary"
        labels = (kind, service, method)
        behaviour = getattr(handler, name)

        if inspect.isasyncgenfunction(behaviour):

            async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                RPC_STARTED.labels(*labels).inc()
                started, error = time.perf_counter(), None
                sent = RPC_SENT.labels(*labels)
                try:
                    async for item in behaviour(request, context):
                        sent.inc()
                        yield item
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    _handled(labels, context, error, started)

            return handler._replace(**{name: streaming})

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            RPC_STARTED.labels(*labels).inc()
            started, error = time.perf_counter(), None
            try:
                return await behaviour(request, context)
            except BaseException as exc:
                error = exc
                raise
            finally:
                _handled(labels, context, error, started)

        return handler._replace(**{name: call})
