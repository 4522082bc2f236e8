"""When and how often to retry a call that is safe to repeat."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc

from kite_gateway_client.errors import GatewayCallError

T = TypeVar("T")

# Worth another try: the gateway or Kite was unreachable, busy, or too slow this time.
TRANSIENT = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.DEADLINE_EXCEEDED}
)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # in all, the first included
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2^attempt)]."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call()`, again after transient failures (waiting at least the gateway's RetryInfo);
        a failure surfaces as GatewayCallError."""
        for attempt in range(self.attempts):
            try:
                return await call()
            except grpc.aio.AioRpcError as exc:
                error = GatewayCallError.from_rpc_error(exc)
            except GatewayCallError as exc:
                error = exc
            if error.code not in TRANSIENT or attempt == self.attempts - 1:
                raise error from None
            await asyncio.sleep(max(self.delay(attempt), min(self.max_delay, error.retry_delay or 0.0)))
        raise AssertionError("unreachable")


DEFAULT_RETRY = RetryPolicy()
