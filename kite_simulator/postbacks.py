"""Order postbacks: Kite POSTs each order change (COMPLETE, CANCELLED, REJECTED, UPDATE) as JSON to
the app's postback URL, signed with sha256(order_id + order_timestamp + api_secret)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from kite_simulator.orders import SimOrder
from kite_simulator.sessions import SessionStore
from kite_wire import postback_checksum

log = logging.getLogger(__name__)


def order_payload(order: SimOrder, api_secret: str, status: str | None = None) -> dict[str, Any]:
    """The body of a postback and of the ticker's `order` message."""
    body = order.to_json()
    if status is not None:
        body["status"] = status
    body["user_id"] = order.user_id
    body["app_id"] = order.app_id
    body["unfilled_quantity"] = order.pending_quantity if not order.is_final else 0
    body["checksum"] = postback_checksum(order.order_id, body["order_timestamp"] or "", api_secret)
    return body


class PostbackSender:
    """Delivers postbacks in the background, in order per app, once each (Kite does not retry)."""

    def __init__(self, sessions: SessionStore, timeout: float = 5.0) -> None:
        self.sessions = sessions
        self.timeout = timeout
        self.delivered = 0
        self.failed = 0
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    def start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        self._task = asyncio.create_task(self._deliver())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        if self._http:
            await self._http.close()

    def on_order(self, order: SimOrder, postback_status: str | None) -> None:
        app = self.sessions.apps.get(order.api_key)
        if postback_status is None or app is None or not app.postback_url:
            return
        self._queue.put_nowait((app.postback_url, order_payload(order, app.api_secret, postback_status)))

    async def _deliver(self) -> None:
        assert self._http is not None
        while True:
            url, body = await self._queue.get()
            try:
                async with self._http.post(url, json=body) as reply:
                    reply.raise_for_status()
                self.delivered += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.failed += 1
                log.warning("postback to %s failed: %s", url, exc)
