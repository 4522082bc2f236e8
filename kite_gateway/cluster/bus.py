"""The cluster's message bus: one NATS connection (nats-py) per replica, reconnecting forever.

Subjects are `<prefix>.<kind>.<account>` (prefix "kg"): ticks (the owner's raw ticker frames),
tickstate (the owner's upstream state), interest (a replica's wanted instruments), orders (an
order update was stored: wake and re-read the log), gaps (a gap marker). Account ids are escaped
to be one subject token. NATS delivers at most once: nothing durable travels only here.

`publish` never waits: messages are queued and sent in order by one task, and dropped (counted)
while the connection is down, so a caller on the tick path is never held up by the bus."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.errors import Error as NatsError

log = structlog.get_logger(__name__)

Kind = Literal["ticks", "tickstate", "interest", "orders", "gaps"]
KINDS: tuple[Kind, ...] = ("ticks", "tickstate", "interest", "orders", "gaps")
PREFIX = "kg"
Handler = Callable[[str, bytes], Awaitable[None] | None]  # (subject, payload)
Callback = Callable[[], None]

OUTBOX_LIMIT = 10_000  # messages queued for sending; the oldest are dropped beyond this
_SAFE = re.compile(r"[A-Za-z0-9_-]")


def escape_account(account_id: str) -> str:
    """The account id as one NATS subject token: letters, digits, `_` and `-` as they are, every
    other byte of its UTF-8 as `~XX` (so `.`, `*`, `>` and spaces never reach a subject)."""
    if not account_id:
        raise ValueError("an account id is required for a subject")
    return "".join(c if _SAFE.fullmatch(c) else "".join(f"~{b:02X}" for b in c.encode()) for c in account_id)


def unescape_account(token: str) -> str:
    """The account id `escape_account` made `token` of."""
    if "~" not in token:
        return token
    out, i = bytearray(), 0
    while i < len(token):
        if token[i] == "~":
            out += bytes.fromhex(token[i + 1 : i + 3])
            i += 3
        else:
            out += token[i].encode()
            i += 1
    return out.decode()


def subject(kind: Kind, account_id: str, prefix: str = PREFIX) -> str:
    """`<prefix>.<kind>.<account>`, e.g. kg.ticks.ZS0001."""
    if kind not in KINDS:
        raise ValueError(f"unknown subject kind {kind!r}")
    return f"{prefix}.{kind}.{escape_account(account_id)}"


def every_account(kind: Kind, prefix: str = PREFIX) -> str:
    """The wildcard subject of one kind for every account, e.g. kg.orders.*."""
    if kind not in KINDS:
        raise ValueError(f"unknown subject kind {kind!r}")
    return f"{prefix}.{kind}.*"


def account_of(name: str) -> str:
    """The account id a subject names (its last token, unescaped)."""
    return unescape_account(name.rsplit(".", 1)[-1])


@dataclass(eq=False)
class Subscription:
    """A subscription the bus keeps across reconnects (and makes once connected, if it was not yet)."""

    subject: str
    handler: Handler
    bus: Bus
    active: NatsSubscription | None = None
    cancelled: bool = False
    calls: int = field(default=0)

    async def unsubscribe(self) -> None:
        self.cancelled = True
        self.bus._subscriptions.discard(self)
        active, self.active = self.active, None
        if active is not None:
            with contextlib.suppress(NatsError):
                await active.unsubscribe()


class Bus:
    """One replica's NATS connection. `start()` returns at once and connects in the background
    (retrying forever); `healthy()` says whether it is connected now. `on_disconnected` and
    `on_connected` are called on every change (`on_connected` also for the first connection)."""

    def __init__(
        self,
        url: str,
        prefix: str = PREFIX,
        name: str = "kite-gateway",
        reconnect_wait: float = 0.5,
        ping_interval: int = 5,
        connect_timeout: int = 2,
        outbox_limit: int = OUTBOX_LIMIT,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.name = name
        self.reconnect_wait = reconnect_wait
        self.ping_interval = ping_interval
        self.connect_timeout = connect_timeout
        self.client = Client()
        self.on_disconnected: list[Callback] = []
        self.on_connected: list[Callback] = []
        self.sent = 0
        self.dropped = 0  # not sent: the connection was down, or the outbox full
        self.received = 0
        self.connections = 0  # times connected (the first connection and every reconnection)
        self._subscriptions: set[Subscription] = set()
        self._outbox: deque[tuple[str, bytes]] = deque(maxlen=outbox_limit)
        self._outbox_limit = outbox_limit
        self._wake_sender = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._ready = False  # connected once and the subscriptions made
        self._closed = False
        self._connecting: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None

    # Subjects ---------------------------------------------------------------------------------

    def subject(self, kind: Kind, account_id: str) -> str:
        return subject(kind, account_id, self.prefix)

    def every_account(self, kind: Kind) -> str:
        return every_account(kind, self.prefix)

    @staticmethod
    def account_of(name: str) -> str:
        return account_of(name)

    # Lifecycle --------------------------------------------------------------------------------

    async def start(self, wait: float = 0.0) -> bool:
        """Begin connecting (in the background, retrying forever); wait up to `wait` seconds for
        the first connection. Whether it is connected."""
        if self._connecting is None:
            self._connecting = asyncio.create_task(self._connect())
            self._sender = asyncio.create_task(self._send())
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await asyncio.shield(self._connecting)
        return self.healthy()

    def healthy(self) -> bool:
        """Connected to NATS now (False before the first connection, while reconnecting, and after close)."""
        return self._ready and self.client.is_connected

    async def _connect(self) -> None:
        await self.client.connect(
            servers=[self.url],
            name=self.name,
            allow_reconnect=True,
            max_reconnect_attempts=-1,  # forever, also for the first connection
            reconnect_time_wait=self.reconnect_wait,  # type: ignore[arg-type]  # nats-py takes seconds as float too
            connect_timeout=self.connect_timeout,
            ping_interval=self.ping_interval,
            max_outstanding_pings=2,
            error_cb=self._on_error,
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
        )
        while waiting := [s for s in self._subscriptions if s.active is None and not s.cancelled]:
            for subscription in waiting:
                await self._make(subscription)
        self._ready = True
        log.info("bus.connected", url=self.url)
        self._connected()

    async def _make(self, subscription: Subscription) -> None:
        if subscription.cancelled or subscription.active is not None:
            return

        async def deliver(message: Msg) -> None:
            if subscription.cancelled:
                return
            self.received += 1
            subscription.calls += 1
            try:
                result = subscription.handler(message.subject, message.data)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("bus.handler_failed", subject=message.subject)

        subscription.active = await self.client.subscribe(subscription.subject, cb=deliver)

    def _connected(self) -> None:
        self.connections += 1
        for callback in list(self.on_connected):
            callback()

    async def _on_error(self, error: Exception) -> None:
        log.debug("bus.error", url=self.url, error=f"{type(error).__name__}: {error}"[:200])

    async def _on_disconnected(self) -> None:
        if not self._ready or self._closed:
            return
        log.warning("bus.disconnected", url=self.url)
        for callback in list(self.on_disconnected):
            callback()

    async def _on_reconnected(self) -> None:
        log.info("bus.reconnected", url=self.url)
        self._connected()

    async def close(self) -> None:
        """Send what is queued (if connected), then close the connection for good."""
        if self._closed:
            return
        with contextlib.suppress(TimeoutError, NatsError):
            async with asyncio.timeout(2.0):
                await self.flush()
        self._closed = True
        self._ready = False
        for task in (self._connecting, self._sender):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        with contextlib.suppress(NatsError, OSError):
            await self.client.close()

    # Messages ---------------------------------------------------------------------------------

    def publish(self, name: str, payload: bytes) -> bool:
        """Queue a message (never waits); False when it is dropped at once (the bus is down)."""
        if not self.healthy():
            self.dropped += 1
            return False
        if len(self._outbox) == self._outbox_limit:
            self.dropped += 1  # the deque drops the oldest
        self._outbox.append((name, payload))
        self._idle.clear()
        self._wake_sender.set()
        return True

    async def _send(self) -> None:
        while True:
            await self._wake_sender.wait()
            self._wake_sender.clear()
            while self._outbox:
                name, payload = self._outbox.popleft()
                if not self.client.is_connected:
                    self.dropped += 1
                    continue
                try:
                    await self.client.publish(name, payload)
                    self.sent += 1
                except Exception as exc:  # the sender must outlive any one message (at most once)
                    self.dropped += 1
                    log.debug("bus.publish_failed", subject=name, error=f"{type(exc).__name__}: {exc}"[:200])
            self._idle.set()

    async def flush(self, within: float = 5.0) -> None:
        """Wait until what was published is sent and the server has it (raises when not connected)."""
        async with asyncio.timeout(within):
            await self._idle.wait()
        await self.client.flush(timeout=max(1, int(within)))

    async def subscribe(self, name: str, handler: Handler) -> Subscription:
        """Call `handler(subject, payload)` for every message on `name` (wildcards allowed), from now
        until unsubscribed, across reconnects. Made at once when connected, else on connection."""
        subscription = Subscription(name, handler, self)
        self._subscriptions.add(subscription)
        if self._ready:
            await self._make(subscription)
        return subscription
