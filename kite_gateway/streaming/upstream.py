"""Kite's ticker WebSocket, upstream: connections that keep their subscriptions across reconnects,
and an account's shards across Kite's limits (3000 instruments a connection; 3 connections an
api_key, shared with the app's other accounts through a ConnectionBudget)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from kite_gateway.streaming.connection_budget import ConnectionBudget
from kite_gateway.streaming.ticks import UpstreamState
from kite_wire import (
    INSTRUMENTS_PER_CONNECTION,
    MODES,
    Tick,
    decode_message,
    encode_control,
    parse_text_frame,
    subscription_messages,
)

log = structlog.get_logger(__name__)

MAX_INSTRUMENTS = INSTRUMENTS_PER_CONNECTION  # a module attribute, so that tests can lower it
SILENCE_SECONDS = 5.0  # Kite heartbeats every second or so: this much quiet means a dead link
SEND_TIMEOUT = 5.0  # a send that cannot complete this fast means a stuck link: drop it
OPEN_TIMEOUT = 10.0  # seconds for a connection's TCP connect and WebSocket upgrade
FIRST_CONNECT_WAIT = OPEN_TIMEOUT + 2.0  # a subscription waits this long (at most) for a new connection's first answer
MODE_RANK = {mode: rank for rank, mode in enumerate(MODES)}


class OverLimit(Exception):
    """Every connection the account may open is full (or Kite refused one more)."""


@dataclass
class Callbacks:
    ticks: Callable[[list[Tick]], Awaitable[None]]  # a frame's ticks, in every mailbox when it returns
    text: Callable[[dict[str, Any]], None]
    state: Callable[[int, UpstreamState, str], None]  # connection index, state, message
    frame: Callable[[int, bytes | str], None] | None = None  # every frame as received (recording)


class Ticker(Protocol):
    """An account's upstream as its tick hub uses it: Kite's ticker connections (AccountTicker), or
    in the clustered mode, on a replica that does not own the account, the owner's feed relayed
    over the cluster bus (kite_gateway.cluster.tick_relay). Either reports through its Callbacks."""

    @property
    def connections(self) -> Sequence[UpstreamConnection]:
        """Its Kite connections (none for a relayed feed)."""
        ...

    async def subscribe(self, wanted: dict[int, str]) -> None:
        """Subscribe (or change the mode of) instruments; OverLimit when they do not fit."""
        ...

    async def unsubscribe(self, tokens: list[int]) -> None: ...

    def ensure_connected(self) -> None:
        """Hold the connection that carries the account's order updates even with no instruments."""
        ...

    async def stop(self) -> None: ...


TickerFactory = Callable[[Callbacks], Ticker]  # makes an account's upstream, reporting to the callbacks


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
    state: UpstreamState = UpstreamState.CONNECTING
    last_frame: float = 0.0
    connect_time: float = 0.0
    reconnects: int = 0
    refused: bool = False  # Kite answered its very first upgrade with 429: it gave up
    _answered: asyncio.Event = field(default_factory=asyncio.Event)  # Kite answered the first attempt
    _ws: ClientConnection | None = None
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def first_outcome(self, within: float) -> bool:
        """Wait (at most `within` seconds) for Kite's answer to the first connection attempt; False
        when it refused the connection with 429, the app's connections being in use elsewhere."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._answered.wait()
        return not self.refused

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _set_state(self, state: UpstreamState, message: str) -> None:
        self.state = state
        self.callbacks.state(self.index, state, message)

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                async with connect(
                    self.url,
                    additional_headers={"X-Kite-Version": "3"},
                    open_timeout=OPEN_TIMEOUT,
                    max_size=None,
                    ping_interval=None,
                    compression=None,  # ticks are latency-bound: no per-message deflate on either side
                ) as ws:
                    self._ws = ws
                    attempt = 0
                    self.connect_time = self.last_frame = time.monotonic()
                    await self._send_all()
                    self._answered.set()
                    self._set_state(UpstreamState.CONNECTED, f"connection {self.index} up")
                    await self._read(ws)
            except asyncio.CancelledError:
                raise
            except InvalidStatus as exc:
                if exc.response.status_code == 403:
                    message = "Kite refused the access token on the ticker (403); the account needs a new login"
                    self._answered.set()
                    self._set_state(UpstreamState.DOWN, message)
                    return
                if exc.response.status_code == 429 and not self._answered.is_set():
                    # Kite's first answer: the app's connections are taken (outside this gateway). Give
                    # up at once, so that what was to be subscribed here is answered OVER_LIMIT.
                    log.warning("ticker.connection_refused", connection=self.index, status=429)
                    self.refused = True
                    self._answered.set()
                    return
                reason = f"upgrade refused ({exc.response.status_code})"
            except (OSError, ConnectionClosed, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"[:200]
            finally:
                self._ws = None
            self._answered.set()
            delay = random.uniform(0.5, 1.0) * min(self.backoff_cap, self.backoff_base * 2**attempt)
            attempt += 1
            self.reconnects += 1
            self._set_state(UpstreamState.RECONNECTING, f"connection {self.index}: {reason}; retrying in {delay:.1f}s")
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
                    # Frames already received come back from recv() without a pause: the hub gives the
                    # subscribers' writers their turn within and after each frame, so a reader that
                    # keeps up takes this frame before the next one is read and is never conflated by
                    # a burst it had no chance to read.
                    await self.callbacks.ticks(decode_message(message))
            elif (text := parse_text_frame(message)) is not None:
                self.callbacks.text({"type": text.type, "data": text.data})
            else:
                log.warning("ticker.bad_text", connection=self.index, text=message[:200])

    async def _send_all(self) -> None:
        if self._ws is None or not self.wanted:
            return
        for message in subscription_messages(self.wanted, new=self.wanted):
            await self._ws.send(encode_control(message))

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
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                for message in subscription_messages(add, new, remove):
                    await ws.send(encode_control(message))
        except ConnectionClosed:
            pass  # the reconnect re-sends the wanted set
        except TimeoutError:
            self.drop()

    def drop(self) -> None:
        """Close the socket as a failure would (tests, and the watchdog)."""
        if self._ws is not None:
            self._ws.transport.close()


class AccountTicker:
    """An account's ticker connections: instruments placed on the first connection with room, a
    new connection opened when all are full, while the app (api_key) has one left in `budget`;
    a connection left without instruments is closed and its slot returned (except the first,
    which carries the account's order updates)."""

    def __init__(
        self,
        url: str,
        callbacks: Callbacks,
        api_key: str = "",
        account_id: str = "",
        budget: ConnectionBudget | None = None,
        **connection_options: Any,
    ) -> None:
        self.url = url
        self.callbacks = callbacks
        self.api_key = api_key
        self.account_id = account_id
        self.budget = budget if budget is not None else ConnectionBudget()
        self.options = connection_options
        self.connections: list[UpstreamConnection] = []
        self.home: dict[int, UpstreamConnection] = {}
        self.count: dict[int, int] = {}  # connection index -> instruments placed on it

    def room(self, count: int) -> int:
        """How many new instruments fit (on this account's connections and those the app has left)."""
        free = sum(MAX_INSTRUMENTS - self.count[c.index] for c in self.connections)
        return min(count, free + max(self.budget.available(self.api_key), 0) * MAX_INSTRUMENTS)

    def _over_limit(self, count: int) -> OverLimit:
        return OverLimit(
            f"{count} more instrument(s) do not fit: {len(self.connections)} connection(s) of this account hold "
            f"{len(self.home)} of {MAX_INSTRUMENTS} each, and {self.budget.describe(self.api_key)}"
        )

    async def subscribe(self, wanted: dict[int, str]) -> None:
        """Subscribe (or change the mode of) instruments; raises OverLimit when they do not fit,
        or when Kite refuses the new connection they would need (HTTP 429: the app's connections
        are in use outside this gateway)."""
        new = [t for t in wanted if t not in self.home]
        if self.room(len(new)) < len(new):
            raise self._over_limit(len(new))
        batches: dict[int, tuple[UpstreamConnection, dict[int, str]]] = {}
        for token, mode in wanted.items():
            connection = self.home.get(token) or self._place(token)
            batches.setdefault(connection.index, (connection, {}))[1][token] = mode
        for connection, batch in batches.values():
            await connection.apply(batch, [])
        for connection, _batch in batches.values():
            if not await connection.first_outcome(FIRST_CONNECT_WAIT):
                await self._discard(connection)
                raise OverLimit(
                    f"Kite refused a new ticker connection (HTTP 429): the app's {self.budget.per_api_key} "
                    "connections are in use, some outside this gateway"
                )

    def _open(self) -> UpstreamConnection | None:
        if not self.budget.acquire(self.api_key, self.account_id):
            return None
        used = {c.index for c in self.connections}
        index = next(i for i in range(len(used) + 1) if i not in used)
        connection = UpstreamConnection(index, self.url, self.callbacks, **self.options)
        self.connections.append(connection)
        self.connections.sort(key=lambda c: c.index)
        self.count[index] = 0
        connection.start()
        return connection

    def _place(self, token: int) -> UpstreamConnection:
        connection = next((c for c in self.connections if self.count[c.index] < MAX_INSTRUMENTS), None) or self._open()
        if connection is None:  # room() said it fits: unreachable unless the budget shrank meanwhile
            raise self._over_limit(1)
        self.home[token] = connection
        self.count[connection.index] += 1
        return connection

    async def _discard(self, connection: UpstreamConnection) -> None:
        """Close a connection, forget its instruments and return its slot to the app's budget."""
        if connection not in self.connections:
            return
        self.connections.remove(connection)
        self.count.pop(connection.index, None)
        for token in [t for t, c in self.home.items() if c is connection]:
            del self.home[token]
        self.budget.release(self.api_key, self.account_id)
        await connection.stop()

    def ensure_connected(self) -> None:
        """Open the first connection even with no instruments (order updates arrive on it), if
        the app has a connection left for it."""
        if not self.connections and self._open() is None:
            log.warning(
                "ticker.no_connection_left",
                account_id=self.account_id,
                message=f"no ticker connection for order updates: {self.budget.describe(self.api_key)}",
            )

    async def unsubscribe(self, tokens: list[int]) -> None:
        by_connection: dict[int, tuple[UpstreamConnection, list[int]]] = {}
        for token in tokens:
            connection = self.home.pop(token, None)
            if connection is not None:
                self.count[connection.index] -= 1
                by_connection.setdefault(connection.index, (connection, []))[1].append(token)
        for connection, batch in by_connection.values():
            await connection.apply({}, batch)
            if self.count.get(connection.index) == 0 and connection is not self.connections[0]:
                await self._discard(connection)

    async def stop(self) -> None:
        for connection in list(self.connections):
            await self._discard(connection)
