"""Bearer tokens on the services outside the API (health, reflection) when they are not left open.
The API services authenticate and authorize in their own wrapper (kite_gateway.grpc.registry), where
the request, and so the account it names, is known."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from kite_gateway.auth import Principals
from kite_gateway.errors import GatewayError
from kite_gateway.grpc.status import abort

OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


class TokenInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, principals: Principals) -> None:
        self.principals = principals

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or not details.method.startswith(OPEN_PREFIXES):
            return handler
        try:
            self.principals.authenticate(details.invocation_metadata)
        except GatewayError as exc:
            refusal = exc

            async def refuse(_request: Any, context: grpc.aio.ServicerContext) -> None:
                await abort(context, refusal)

            kind = "unary" if not handler.request_streaming else "stream"
            kind += "_stream" if handler.response_streaming else "_unary"
            return handler._replace(**{kind: refuse})
        return handler
