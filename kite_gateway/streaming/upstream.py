"""Kite's ticker WebSocket, upstream: connections that keep their subscriptions across reconnects,
and an account's shards across Kite's limits (3000 instruments a connection, 3 connections an
api_key)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from kite_gateway.v1 import common_pb2
from kite_gateway.wire.ticker_packets import MODES, RawTick, decode_message

log = structlog.get_logger(__name__)

MAX_INSTRUMENTS = 3000
MAX_CONNECTIONS = 3
SILENCE_SECONDS = 5.0  # Kite heartbeats every second or so: this much quiet means a dead link
SEND_TIMEOUT = 5.0  # a send that cannot complete this fast means a stuck link: drop it
MODE_RANK = {mode: rank for rank, mode in enumerate(MODES)}


class OverLimit(Exception):
    """Every connection the account may open is full."""


@dataclass
class Callbacks:
    ticks: Callable[[list[RawTick]], None]
    text: Callable[[dict[str, Any]], None]
    state: Callable[[int, int, str], None]  # connection index, UpstreamState, message
    frame: Callable[[int, bytes | str], None] | None = None  # every frame as received (recording)


@dataclass
class UpstreamConnection:
    """One ticker WebSocket and the subscriptions it should hold."""

    index: int
    url: str
    callbacks: Callbacks
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    silence: float = SILENCE_SECONDS
    wanted: dict[int, str] = field(default_factory=dict)
    state: int = common_pb2.UPSTREAM_STATE_CONNECTING
    last_frame: float = 0.0
    connect_time: float = 0.0
    reconnects: int = 0
    _ws: ClientConnection | None = None
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _set_state(self, state: int, message: str) -> None:
        self.state = state
        self.callbacks.state(self.index, state, message)

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                async with connect(
                    self.url,
                    additional_headers={"X-Kite-Version": "3"},
                    open_timeout=10,
                    max_size=None,
                    ping_interval=None,
                    compression=None,  # ticks are latency-bound: no per-message deflate on either side
                ) as ws:
                    self._ws = ws
                    attempt = 0
                    self.connect_time = self.last_frame = time.monotonic()
                    await self._send_all()
                    self._set_state(common_pb2.UPSTREAM_STATE_CONNECTED, f"connection {self.index} up")
                    await self._read(ws)
            except asyncio.CancelledError:
                raise
            except InvalidStatus as exc:
                if exc.response.status_code == 403:
                    message = "Kite refused the access token on the ticker (403); the account needs a new login"
                    self._set_state(common_pb2.UPSTREAM_STATE_DOWN, message)
                    return
                reason = f"upgrade refused ({exc.response.status_code})"
            except (OSError, ConnectionClosed, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"[:200]
            finally:
                self._ws = None
            delay = random.uniform(0.5, 1.0) * min(self.backoff_cap, self.backoff_base * 2**attempt)
            attempt += 1
            self.reconnects += 1
            self._set_state(
                common_pb2.UPSTREAM_STATE_RECONNECTING, f"connection {self.index}: {reason}; retrying in {delay:.1f}s"
            )
            await asyncio.sleep(delay)

    async def _read(self, ws: ClientConnection) -> None:
        while True:
            try:
                async with asyncio.timeout(self.silence):
                    message = await ws.recv()
            except TimeoutError:
                raise TimeoutError(f"no frame for {self.silence:.0f}s") from None
            self.last_frame = time.monotonic()
            if self.callbacks.frame is not None:
                self.callbacks.frame(self.index, message)
            if isinstance(message, bytes):
                if len(message) > 1:
                    self.callbacks.ticks(decode_message(message))
            else:
                try:
                    self.callbacks.text(json.loads(message))
                except json.JSONDecodeError:
                    log.warning("ticker.bad_text", connection=self.index, text=message[:200])

    async def _send_all(self) -> None:
        if self._ws is None or not self.wanted:
            return
        await self._ws.send(json.dumps({"a": "subscribe", "v": list(self.wanted)}))
        for mode in MODES:
            tokens = [t for t, m in self.wanted.items() if m == mode]
            if tokens:
                await self._ws.send(json.dumps({"a": "mode", "v": [mode, tokens]}))

    async def apply(self, add: dict[int, str], remove: list[int]) -> None:
        """Change the wanted set; send the change now if connected (else it is sent on connect).
        New instruments are sent as the official KiteTicker sends them: `subscribe`, then `mode`
        (Kite does not promise that a `mode` alone subscribes); a mode change is a `mode` only."""
        for token in remove:
            self.wanted.pop(token, None)
        new = [token for token in add if token not in self.wanted]
        self.wanted.update(add)
        ws = self._ws
        if ws is None:
            return
        messages: list[dict[str, Any]] = [{"a": "unsubscribe", "v": remove}] if remove else []
        messages += [{"a": "subscribe", "v": new}] if new else []
        messages += [
            {"a": "mode", "v": [mode, [t for t, m in add.items() if m == mode]]}
            for mode in MODES
            if any(m == mode for m in add.values())
        ]
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                for message in messages:
                    await ws.send(json.dumps(message))
        except ConnectionClosed:
            pass  # the reconnect re-sends the wanted set
        except TimeoutError:
            self.drop()

    def drop(self) -> None:
        """Close the socket as a failure would (tests, and the watchdog)."""
        if self._ws is not None:
            self._ws.transport.close()


class AccountTicker:
    """An account's ticker connections: instruments placed on the first connection with room,
    a new connection opened when all are full, up to Kite's three."""

    def __init__(self, url: str, callbacks: Callbacks, **connection_options: Any) -> None:
        self.url = url
        self.callbacks = callbacks
        self.options = connection_options
        self.connections: list[UpstreamConnection] = []
        self.home: dict[int, UpstreamConnection] = {}
        self.count: dict[int, int] = {}

    def room(self, count: int) -> int:
        """How many new instruments fit."""
        used = len(self.home)
        return min(count, MAX_CONNECTIONS * MAX_INSTRUMENTS - used)

    async def subscribe(self, wanted: dict[int, str]) -> None:
        """Subscribe (or change the mode of) instruments; raises OverLimit when they do not fit."""
        new = [t for t in wanted if t not in self.home]
        if self.room(len(new)) < len(new):
            raise OverLimit(f"{len(new)} more instruments do not fit {MAX_CONNECTIONS} x {MAX_INSTRUMENTS}")
        batches: dict[int, dict[int, str]] = {}
        for token, mode in wanted.items():
            connection = self.home.get(token) or self._place(token)
            batches.setdefault(connection.index, {})[token] = mode
        for index, batch in batches.items():
            await self.connections[index].apply(batch, [])

    def _place(self, token: int) -> UpstreamConnection:
        for connection in self.connections:
            if self.count[connection.index] < MAX_INSTRUMENTS:
                break
        else:
            connection = UpstreamConnection(len(self.connections), self.url, self.callbacks, **self.options)
            self.connections.append(connection)
            self.count[connection.index] = 0
            connection.start()
        self.home[token] = connection
        self.count[connection.index] += 1
        return connection

    def ensure_connected(self) -> None:
        """Open the first connection even with no instruments (order updates arrive on it)."""
        if not self.connections:
            connection = UpstreamConnection(0, self.url, self.callbacks, **self.options)
            self.connections.append(connection)
            self.count[0] = 0
            connection.start()

    async def unsubscribe(self, tokens: list[int]) -> None:
        by_connection: dict[int, list[int]] = {}
        for token in tokens:
            connection = self.home.pop(token, None)
            if connection is not None:
                self.count[connection.index] -= 1
                by_connection.setdefault(connection.index, []).append(token)
        for index, batch in by_connection.items():
            await self.connections[index].apply({}, batch)

    async def stop(self) -> None:
        for connection in self.connections:
            await connection.stop()
