"""The queue in front of Kite for each account's new orders: bounded, counted as Kite counts, and
checked at the moment of sending.

Kite caps each user at 10 orders a second, 400 a minute and 5,000 a day (KITE_GATEWAY_ORDERS_PER_*),
on top of the app's 10 requests a second for order placement (the ORDERS limiter of the Kite
adapter). A placement waits here, first come first served, until every cap has room; only then are
the kill switches and risk limits checked (`check`), the attempt recorded as sent (`sending`) and
the order sent. So a kill switch engaged while orders are queued stops every one of them (waiting
placements are woken to be refused at once), and "orders per minute" counts what was sent.

Bounds: at most `depth` placements wait per account (more is RESOURCE_EXHAUSTED before anything is
sent), and none waits longer than `max_wait` or its caller's deadline (then it is abandoned: nothing
was sent).

Kite counts an account's orders per calendar second of its server clock, at arrival. Placements
leave evenly spaced, one every (1 + clock_skew) / per_second seconds (110 ms for 10/s and 0.1 s),
and at most per_minute in any 60 + clock_skew seconds: the orders Kite sees in one of its seconds
were sent within 1 + (the spread of their delays to Kite) of our clock, whatever the constant offset
between the clocks, so no second of Kite's holds more than per_second while that spread stays under
`clock_skew` (kite_gateway/kite/limits.py says it at length). Modifications and cancellations are
paced with placements in the Kite adapter (OrderPacing) but count in no minute or day cap.

An autosliced order is one request that Kite counts as one order per child, and how many children
it will have is Kite's to decide (at most 10, Kite's cap "to stay within 10 OPS"): it is sent with a
`weight` of 10 (waiting until the windows have room for ten), and once Kite has answered, the room
its children did not use is given back to the windows and the day count (`used`). The adapter's
pacing keeps the whole weight: the account's next order write waits ten spacings either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TypeVar

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite import KiteOrders, order_spacing
from kite_gateway.observability import ORDER_QUEUE_REFUSALS
from kite_wire import IST

T = TypeVar("T")

MINUTE = 60.0


@dataclass
class SendWindow:
    """At most `limit` sends in any `seconds`."""

    limit: int
    seconds: float
    sent: deque[float] = field(default_factory=deque)

    def delay(self, now: float, count: int = 1) -> float:
        """Seconds until `count` more sends fit (0: now; a count above the limit waits for an empty window)."""
        while self.sent and now - self.sent[0] >= self.seconds:
            self.sent.popleft()
        over = len(self.sent) + min(count, self.limit) - self.limit  # sends that must leave the window first
        return 0.0 if over <= 0 else self.sent[over - 1] + self.seconds - now

    def record(self, now: float, weight: int = 1) -> None:
        """One send at `now` that counts as `weight` (in a window of one, it holds the next back
        for `weight` windows)."""
        if self.limit == 1:
            self.sent.append(now + (weight - 1) * self.seconds)
        else:
            self.sent.extend([now] * weight)

    def give_back(self, at: float, weight: int, unused: int) -> None:
        """Forget `unused` of the `weight` sends recorded at `at` (those still in the window)."""
        if self.limit == 1:
            held = at + (weight - 1) * self.seconds
            if held in self.sent:
                self.sent[self.sent.index(held)] = held - unused * self.seconds
            return
        for _ in range(unused):
            if at not in self.sent:
                return
            self.sent.remove(at)


@dataclass
class AccountQueue:
    windows: tuple[SendWindow, ...]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    day: str = ""  # the IST date the day count is for
    day_count: int = 0


class OrderDispatch:
    def __init__(
        self,
        depth: int,
        max_wait: float,
        per_second: int,
        per_minute: int,
        per_day: int,
        sent_since: Callable[[str, datetime], Awaitable[int]],
        blocked: Callable[[str], None],
        now: Callable[[], datetime],
        clock: Callable[[], float] | None = None,
        clock_skew: float = 0.1,
        exit_blocked: Callable[[str], None] | None = None,
    ) -> None:
        self.depth = depth
        self.max_wait = max_wait
        self.per_second = per_second
        self.per_minute = per_minute
        self.per_day = per_day
        self.clock_skew = clock_skew  # the spread of delays to Kite's clock the pacing allows for
        self._sent_since = sent_since  # orders already sent since a time (the day count after a restart)
        self._blocked = blocked  # raises while a kill switch blocks the account
        # raises when not even an exit may be sent (clustered: not the account's owner); None: nothing does
        self._exit_blocked = exit_blocked or _never
        self._now = now
        self.clock = clock or (lambda: asyncio.get_running_loop().time())
        self._queues: dict[str, AccountQueue] = {}

    def queue(self, account_id: str) -> AccountQueue:
        if account_id not in self._queues:
            windows = (
                SendWindow(1, order_spacing(self.per_second, self.clock_skew)),
                SendWindow(self.per_minute, MINUTE + self.clock_skew),
            )
            self._queues[account_id] = AccountQueue(windows)
        return self._queues[account_id]

    def accounts(self) -> list[str]:
        return list(self._queues)

    def waiting(self, account_id: str) -> int:
        return self._queues[account_id].waiting if account_id in self._queues else 0

    def poke(self) -> None:
        """Wake every waiting placement to look again (a kill switch changed, the clock moved)."""
        for queue in self._queues.values():
            queue.wake.set()

    async def send(
        self,
        kite: KiteOrders,
        check: Callable[[], Awaitable[None]],
        sending: Callable[[], Awaitable[None]],
        call: Callable[[], Awaitable[T]],
        deadline: float | None = None,
        weight: int = 1,
        used: Callable[[], int] | None = None,
        exit: bool = False,
    ) -> T:
        """Wait for the account's turn, run `check` (kill switch and risk; raises to refuse), then
        `sending` (the write-ahead record and a last synchronous check), count the send, and make
        the call. Nothing is sent when this raises before `call`. `deadline` is the caller's, on
        `self.clock`: a placement whose turn would come after it is refused at once. `weight`: the
        orders Kite may count for this one call; once it has returned, `used()` says how many it
        did count and the rest is given back (all but one for a definite refusal; an unknown
        outcome keeps it all). An `exit` (an order that only reduces a position) is not stopped by a
        kill switch while it waits (`exit_blocked` instead of `blocked`)."""
        account_id = kite.account_id
        queue = self.queue(account_id)
        if queue.waiting >= self.depth:
            raise self._full(account_id, f"{queue.waiting} placements are already waiting")
        until = self.clock() + self.max_wait
        queue.waiting += 1
        try:
            try:
                async with asyncio.timeout(max(0.0, until - self.clock())):
                    await queue.lock.acquire()
            except TimeoutError:
                raise self._waited_too_long(account_id) from None
        except BaseException:
            queue.waiting -= 1
            raise
        try:
            async with contextlib.AsyncExitStack() as turn:
                try:
                    await self._wait_turn(kite, queue, min(until, deadline or until), weight, exit)
                    # The account's order pacing (shared with its modifications and cancellations)
                    # and the app's limiter, held until the call leaves.
                    await turn.enter_async_context(kite.order_turn(weight))
                    await check()  # the moment of sending: nothing may have changed since
                finally:
                    queue.waiting -= 1
                await sending()
                now = self.clock()
                for window in queue.windows:
                    window.record(now, weight)
                queue.day_count += weight
        finally:
            queue.lock.release()
        try:
            result = await call()
        except GatewayError:
            self._give_back(queue, now, weight, weight - 1)  # a definite refusal: counted as one order, as Kite would
            raise  # (an unknown outcome keeps the whole weight: Kite may have placed every child)
        self._give_back(queue, now, weight, weight - (used() if used is not None else weight))
        return result

    @staticmethod
    def _give_back(queue: AccountQueue, at: float, weight: int, unused: int) -> None:
        """Room a weighted send did not use, back to the windows and the day count (and to waiters)."""
        if unused <= 0:
            return
        for window in queue.windows:
            window.give_back(at, weight, unused)
        queue.day_count -= unused
        queue.wake.set()

    async def _wait_turn(
        self, kite: KiteOrders, queue: AccountQueue, until: float, weight: int = 1, exit: bool = False
    ) -> None:
        """Until every cap has room. A turn that would come after `until` (the wait limit, or the
        caller's deadline) is refused at once. (A caller whose deadline passes while it waits is
        cancelled by gRPC.)"""
        await self._refresh_day(kite.account_id, queue)
        blocked = self._exit_blocked if exit else self._blocked
        while True:
            if queue.day_count >= self.per_day:
                raise self._day_cap(kite.account_id)
            blocked(kite.account_id)  # a kill switch engaged while waiting refuses at once (not an exit)
            now = self.clock()
            delay = max(window.delay(now, weight) for window in queue.windows)
            if delay <= 0:
                break
            if now + delay > until:
                raise self._waited_too_long(kite.account_id, delay)
            queue.wake.clear()
            try:
                async with asyncio.timeout(delay):
                    await queue.wake.wait()
            except TimeoutError:
                pass

    async def _refresh_day(self, account_id: str, queue: AccountQueue) -> None:
        today = self._now().astimezone(IST).date()
        if queue.day != today.isoformat():
            midnight = datetime.combine(today, time(0), IST)
            queue.day, queue.day_count = today.isoformat(), await self._sent_since(account_id, midnight)

    @staticmethod
    def _refused(account_id: str, why: str, message: str, metadata: dict[str, str], retry_after: float) -> GatewayError:
        """RESOURCE_EXHAUSTED (ORDER_QUEUE_FULL) before anything was sent, counted by why."""
        ORDER_QUEUE_REFUSALS.labels(account_id, why).inc()
        return GatewayError(
            Status.RESOURCE_EXHAUSTED,
            Reason.ORDER_QUEUE_FULL,
            message,
            {"account_id": account_id, **metadata},
            retry_after=retry_after,
        )

    def _full(self, account_id: str, why: str) -> GatewayError:
        drain = math.ceil(self.depth / self.per_second)
        return self._refused(
            account_id,
            "full",
            f"the order queue of account {account_id} is full ({why}, at most {self.depth}); nothing was sent to "
            f"Kite; retry with the same client_order_id in {drain} s or send fewer orders at once",
            {"queue_depth": str(self.depth)},
            float(drain),
        )

    def _waited_too_long(self, account_id: str, more: float | None = None) -> GatewayError:
        when = f"it would wait {more:.1f} s more" if more is not None else "it waited its limit"
        return self._refused(
            account_id,
            "wait",
            f"the order was not sent: {when} in the queue of account {account_id} (Kite allows "
            f"{self.per_second}/s and {self.per_minute}/min; the gateway waits at most {self.max_wait:g} s or until "
            "the caller's deadline); nothing was sent to Kite; retry with the same client_order_id",
            {"max_wait_seconds": f"{self.max_wait:g}"},
            max(1.0, round(more or 1.0, 1)),
        )

    def _day_cap(self, account_id: str) -> GatewayError:
        tomorrow = datetime.combine(self._now().astimezone(IST).date() + timedelta(days=1), time(0), IST)
        return self._refused(
            account_id,
            "day_cap",
            f"account {account_id} has sent Kite's daily cap of {self.per_day} orders; nothing was sent; new orders "
            f"are accepted again after {tomorrow.isoformat()}",
            {"orders_per_day": str(self.per_day)},
            max(1.0, (tomorrow - self._now()).total_seconds()),
        )


def _never(account_id: str) -> None:
    """Nothing blocks an exit (one process alone: no fence)."""
