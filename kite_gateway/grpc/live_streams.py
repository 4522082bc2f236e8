"""The server's live streams (StreamTicks, StreamOrderUpdates, ...), so that a stopping gateway ends
them at once instead of holding its shutdown for the whole grace period: a stream never finishes by
itself, and while the server waits for it a stopping replica keeps its accounts' leases and refuses
their calls. Each ends with UNAVAILABLE (GATEWAY_SHUTTING_DOWN): its caller resumes on another
replica (ticks re-subscribed, order updates after their last sequence) or after the restart.

A stream is interrupted only while it waits for its next message inside the servicer (cancelling
the task there), never while grpc is sending one; one caught sending ends before asking for the next."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from kite_gateway.errors import GatewayError, Reason, Status

RETRY_AFTER = 1.0  # seconds: as long as a lease takes to move (kite_gateway.grpc.forwarding)


def shutting_down() -> GatewayError:
    return GatewayError(
        Status.UNAVAILABLE,
        Reason.GATEWAY_SHUTTING_DOWN,
        "the gateway is shutting down: open the stream again (on another replica, or once it is back); "
        "order updates resume after the last sequence received",
        retry_after=RETRY_AFTER,
    )


class _Stream:
    __slots__ = ("ending", "task", "waiting")

    def __init__(self, task: asyncio.Task[Any] | None) -> None:
        self.task = task
        self.waiting = False  # inside the servicer, waiting for its next message
        self.ending = False


class LiveStreams:
    """Every stream the server runs now; `end_all()` ends them (and refuses new ones)."""

    def __init__(self) -> None:
        self.ending = False
        self._streams: set[_Stream] = set()

    def __len__(self) -> int:
        return len(self._streams)

    def end_all(self) -> None:
        self.ending = True
        for stream in list(self._streams):
            stream.ending = True
            if stream.waiting and stream.task is not None:
                stream.task.cancel()

    async def run(self, items: AsyncIterator[Any]) -> AsyncGenerator[Any, None]:
        """`items`, until the server ends its streams (then GatewayError UNAVAILABLE)."""
        if self.ending:
            raise shutting_down()
        stream = _Stream(asyncio.current_task())
        self._streams.add(stream)
        try:
            while not stream.ending:
                stream.waiting = True
                try:
                    item = await anext(items)
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    if not stream.ending or stream.task is None:
                        raise  # the caller went away (or the server stopped): not ours to answer
                    stream.task.uncancel()
                    break
                finally:
                    stream.waiting = False
                yield item
            raise shutting_down()
        finally:
            self._streams.discard(stream)
