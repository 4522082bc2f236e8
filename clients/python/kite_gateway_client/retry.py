"""When and how often to retry a call that is safe to repeat."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc
from google.rpc import error_details_pb2, status_pb2

T = TypeVar("T")
STATUS_DETAILS_KEY = "grpc-status-details-bin"

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
        for attempt in range(self.attempts):
            try:
                return await call()
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in TRANSIENT or attempt == self.attempts - 1:
                    raise
                wait = max(self.delay(attempt), min(self.max_delay, retry_after(exc)))
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")


def retry_after(error: grpc.aio.AioRpcError) -> float:
    """The gateway's RetryInfo on a failed call, in seconds (0 if it sent none)."""
    raw = dict(error.trailing_metadata() or ()).get(STATUS_DETAILS_KEY)
    if not isinstance(raw, bytes):
        return 0.0
    for detail in status_pb2.Status.FromString(raw).details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.ToTimedelta().total_seconds())
    return 0.0


DEFAULT_RETRY = RetryPolicy()
