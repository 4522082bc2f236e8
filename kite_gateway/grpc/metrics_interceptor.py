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


class _MethodMetrics:
    """One method's metric children, looked up once (a `labels()` lookup per call cost more than
    the rest of the recording)."""

    def __init__(self, labels: tuple[str, str, str]) -> None:
        self.labels = labels
        self.started = RPC_STARTED.labels(*labels)
        self.seconds = RPC_SECONDS.labels(*labels)
        self.sent = RPC_SENT.labels(*labels)
        self._handled: dict[str, Any] = {}

    def handled(self, context: grpc.aio.ServicerContext, error: BaseException | None, started: float) -> None:
        code = _code(context, error)
        counter = self._handled.get(code)
        if counter is None:
            counter = self._handled[code] = RPC_HANDLED.labels(*self.labels, code)
        counter.inc()
        self.seconds.observe(time.perf_counter() - started)


def _measured(handler: grpc.RpcMethodHandler, method_path: str) -> grpc.RpcMethodHandler:
    """The handler with its behaviour wrapped to record the method's metrics."""
    service, _, method = method_path.lstrip("/").partition("/")
    if handler.request_streaming and handler.response_streaming:
        kind, name = "bidi_stream", "stream_stream"
    elif handler.request_streaming:
        kind, name = "client_stream", "stream_unary"
    elif handler.response_streaming:
        kind, name = "server_stream", "unary_stream"
    else:
        kind, name = "unary", "unary_unary"
    metrics = _MethodMetrics((kind, service, method))
    behaviour = getattr(handler, name)

    if inspect.isasyncgenfunction(behaviour):

        async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            metrics.started.inc()
            started, error = time.perf_counter(), None
            try:
                async for item in behaviour(request, context):
                    metrics.sent.inc()
                    yield item
            except BaseException as exc:
                error = exc
                raise
            finally:
                metrics.handled(context, error, started)

        return handler._replace(**{name: streaming})

    async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
        metrics.started.inc()
        started, error = time.perf_counter(), None
        try:
            return await behaviour(request, context)
        except BaseException as exc:
            error = exc
            raise
        finally:
            metrics.handled(context, error, started)

    return handler._replace(**{name: call})


class RpcMetricsInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Wraps each method's handler once (per handler the services answer with: theirs are made once
    per method, and a new one is wrapped anew)."""

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        known = self._wrapped.get(details.method)
        if known is not None and known[0] is handler:
            return known[1]
        measured = _measured(handler, details.method)
        self._wrapped[details.method] = (handler, measured)
        return measured
