"""A private event loop on a daemon thread, for running coroutines from blocking code, that shuts
down cleanly: nothing of it is left pending when it closes, whether closed by hand or at exit."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._lock = threading.Lock()
        self._closed = False
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        if self._closed:
            coroutine.close()
            raise RuntimeError("the client is closed")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Runs `coroutine` on the loop and waits for its result (raising what it raised)."""
        return self.submit(coroutine).result()

    def close(self, last: Callable[[], Coroutine[Any, Any, None]] | None = None) -> None:
        """Runs `last()` on the loop, then cancels and awaits every task still on it, finalizes its
        async generators and its executor, stops and closes the loop and joins the thread. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if threading.current_thread() is self._thread:
            # Closed from its own loop (say, the client collected by a callback there): shut down
            # from there, without waiting for it.
            self.loop.create_task(self._shut_down(last)).add_done_callback(lambda _: self.loop.stop())
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shut_down(last), self.loop).result()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()

    async def _shut_down(self, last: Callable[[], Coroutine[Any, Any, None]] | None) -> None:
        try:
            if last is not None:
                await last()
        finally:
            current = asyncio.current_task()
            # Tasks may spawn others while they finish (grpc's call bookkeeping, async-generator
            # finalizers): repeat until none is left but this one.
            while pending := [t for t in asyncio.all_tasks(self.loop) if t is not current]:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self.loop.shutdown_asyncgens()
            with contextlib.suppress(Exception):
                await self.loop.shutdown_default_executor()
