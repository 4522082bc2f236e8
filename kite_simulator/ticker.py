"""Kite's WebSocket ticker: `?api_key=..&access_token=..`, subscribe/unsubscribe/mode messages,
binary tick packets byte for byte, 1-byte heartbeats, text messages for order updates, errors and
broadcasts, and Kite's limits (3000 instruments a connection, 3 connections an api_key)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from kite_simulator.clock import Clock
from kite_simulator.errors import KiteError
from kite_simulator.market import MarketModel
from kite_simulator.orders import SimOrder
from kite_simulator.postbacks import order_payload
from kite_simulator.sessions import Session, SessionStore
from kite_simulator.universe import Universe
from kite_wire import (
    CONNECTIONS_PER_API_KEY,
    ERROR,
    HEARTBEAT,
    INSTRUMENTS_PER_CONNECTION,
    MESSAGE,
    ORDER,
    ControlError,
    SetMode,
    Tick,
    Unsubscribe,
    encode_packet,
    encode_text_frame,
    frame,
    parse_control,
)

log = logging.getLogger(__name__)

MAX_INSTRUMENTS = INSTRUMENTS_PER_CONNECTION
MAX_CONNECTIONS_PER_API_KEY = CONNECTIONS_PER_API_KEY
HEARTBEAT_SECONDS = 1.0
OUTBOX_FRAMES = 1000
CLOSE_TIMEOUT = 1.0  # seconds to wait for a client's close handshake on shutdown


@dataclass(eq=False)
class TickerConnection:
    """One ticker client."""

    ws: web.WebSocketResponse
    session: Session
    request: web.Request
    modes: dict[int, str] = field(default_factory=dict)
    fresh: set[int] = field(default_factory=set)  # subscribed since the last tick: send at once
    outbox: asyncio.Queue[bytes | str] = field(default_factory=lambda: asyncio.Queue(OUTBOX_FRAMES))
    last_sent: float = 0.0

    def send(self, message: bytes | str) -> None:
        """Queue a frame; a client too slow to keep OUTBOX_FRAMES in flight is disconnected."""
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("ticker client of %s too slow; disconnecting", self.session.user_id)
            self.abort()

    def send_text(self, kind: str, data: Any) -> None:
        self.send(encode_text_frame(kind, data))

    def abort(self) -> None:
        """Drop the connection without a close handshake (what a network failure looks like)."""
        if self.request.transport is not None:
            self.request.transport.close()


def phase(token: int, slots: int) -> int:
    """The slot of the second (0 .. slots-1) in which an instrument ticks, spread evenly over the
    tokens by a multiplicative hash (neighbouring tokens land in different slots)."""
    return ((token * 0x9E3779B1) & 0xFFFFFFFF) * slots >> 32


class TickerHub:
    """Every ticker connection, and the loop that streams ticks to them: every `tick_interval`
    seconds a frame of every instrument that changed, or with `frames_per_second` F a Kite-like
    cadence where each instrument is looked at once a second, in the one of the second's F frames
    its phase falls in (Kite does not document how it groups ticks into frames)."""

    def __init__(
        self,
        sessions: SessionStore,
        universe: Universe,
        market: MarketModel,
        clock: Clock,
        tick_interval: float,
        frames_per_second: int = 0,
    ) -> None:
        self.sessions = sessions
        self.universe = universe
        self.market = market
        self.clock = clock
        self.tick_interval = tick_interval
        self.frames_per_second = frames_per_second  # 0: every instrument in every frame
        self.connections: set[TickerConnection] = set()
        self.frames_sent = 0
        self.packets_sent = 0
        self._last: dict[int, tuple[Any, ...]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for connection in list(self.connections):
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await connection.ws.close()
            except TimeoutError:
                connection.abort()

    # Connections ------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        api_key = request.query.get("api_key", "")
        try:
            session = self.sessions.authenticate(api_key, request.query.get("access_token", ""))
        except KiteError:
            raise web.HTTPForbidden(text="Invalid api_key or access_token") from None
        if sum(1 for c in self.connections if c.session.api_key == api_key) >= MAX_CONNECTIONS_PER_API_KEY:
            raise web.HTTPTooManyRequests(text="Too many connections for this api_key")
        ws = web.WebSocketResponse(autoping=True, heartbeat=None)
        await ws.prepare(request)
        connection = TickerConnection(ws, session, request)
        self.connections.add(connection)
        writer = asyncio.create_task(self._write(connection))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_text(connection, message.data)
        finally:
            self.connections.discard(connection)
            writer.cancel()
        return ws

    async def _write(self, connection: TickerConnection) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while True:
                message = await connection.outbox.get()
                if isinstance(message, bytes):
                    await connection.ws.send_bytes(message)
                else:
                    await connection.ws.send_str(message)
                connection.last_sent = time.monotonic()

    def _on_text(self, connection: TickerConnection, text: str) -> None:
        try:
            message = parse_control(text)
        except ControlError as exc:
            connection.send_text(ERROR, str(exc))
            return
        if isinstance(message, Unsubscribe):
            for token in message.tokens:
                connection.modes.pop(token, None)
                connection.fresh.discard(token)
            return
        refused = 0
        for token in message.tokens:
            if token not in self.universe.by_token:
                continue
            if isinstance(message, SetMode):
                # Kite does not document that `mode` subscribes: here it changes only the mode of an
                # instrument this connection subscribed, so a client that skips `subscribe` gets nothing.
                if token in connection.modes:
                    connection.modes[token] = message.mode
                    connection.fresh.add(token)
                continue
            if token not in connection.modes:
                if len(connection.modes) >= MAX_INSTRUMENTS:
                    refused += 1
                    continue
                connection.modes[token] = message.mode
            connection.fresh.add(token)
        if refused:
            connection.send_text(
                ERROR, f"Can't subscribe to more than {MAX_INSTRUMENTS} instruments ({refused} refused)."
            )

    def on_order(self, order: SimOrder, _postback_status: str | None) -> None:
        app = self.sessions.apps.get(order.api_key)
        payload = order_payload(order, app.api_secret if app else "")
        for connection in self.connections:
            if connection.session.user_id == order.user_id:
                connection.send_text(ORDER, payload)

    def broadcast(self, text: str) -> None:
        """A broker message to every connection (Kite's `message` type)."""
        for connection in self.connections:
            connection.send_text(MESSAGE, text)

    def drop(self, user_id: str | None = None) -> int:
        """Drop every connection (of one user), as a network failure would; returns how many."""
        dropped = [c for c in self.connections if user_id is None or c.session.user_id == user_id]
        for connection in dropped:
            connection.abort()
        return len(dropped)

    # Ticks ------------------------------------------------------------------------------------

    async def _run(self) -> None:
        if self.frames_per_second:
            await self._run_spread(self.frames_per_second)  # (runs until cancelled)
            return
        while True:
            started = time.monotonic()
            try:
                self.tick()
            except Exception:  # the loop must survive anything one tick does
                log.exception("ticker tick failed")
            await asyncio.sleep(max(0.0, self.tick_interval - (time.monotonic() - started)))

    async def _run_spread(self, slots: int) -> None:
        """Frames on a fixed grid of `slots` a second: a frame a little late does not shift the later
        ones; after a stall of more than a frame the grid starts again from now (missed frames are
        not sent in a burst: their instruments tick in the next round)."""
        origin = time.monotonic()
        for count in itertools.count():
            try:
                self.tick(count % slots)
            except Exception:  # the loop must survive anything one tick does
                log.exception("ticker tick failed")
            now = time.monotonic()
            if now - (origin + (count + 1) / slots) > 1 / slots:
                origin = now - (count + 1) / slots
            await asyncio.sleep(max(0.0, origin + (count + 1) / slots - now))

    def tick(self, slot: int | None = None) -> None:
        """Send every connection the instruments that changed (and those just subscribed); with a
        `slot`, only the instruments of that phase are looked at (and those just subscribed)."""
        wanted: set[int] = set()
        for connection in self.connections:
            if slot is None:
                wanted.update(connection.modes)
            else:
                wanted.update(connection.fresh)
                wanted.update(t for t in connection.modes if phase(t, self.frames_per_second) == slot)
        now = self.clock.now()
        snapshots: dict[int, Tick] = {}
        changed: set[int] = set()
        for token in wanted:
            quote = self.market.quote(self.universe.by_token[token], now)
            snapshot = quote.snapshot()
            key = (snapshot.last_price, snapshot.volume, snapshot.last_quantity, snapshot.buy_quantity,
                   snapshot.sell_quantity, snapshot.oi, snapshot.depth)  # fmt: skip
            if self._last.get(token) != key:
                self._last[token] = key
                changed.add(token)
            snapshots[token] = snapshot
        packets: dict[tuple[int, str], bytes] = {}
        moment = time.monotonic()
        for connection in list(self.connections):
            batch = []
            for token, mode in connection.modes.items():
                if token in changed or token in connection.fresh:
                    packet = packets.get((token, mode))
                    if packet is None:
                        packet = packets[(token, mode)] = encode_packet(snapshots[token], mode)
                    batch.append(packet)
            connection.fresh.clear()
            if batch:
                for start in range(0, len(batch), 65535):
                    connection.send(frame(batch[start : start + 65535]))
                self.frames_sent += 1
                self.packets_sent += len(batch)
            elif moment - connection.last_sent >= HEARTBEAT_SECONDS:
                connection.send(HEARTBEAT)
                connection.last_sent = moment
