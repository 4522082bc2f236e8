"""The Kite adapter's limits as units: each account's order writes (place, modify, cancel) leave
evenly spaced, (1 + skew) / rate apart, whichever app or path sends them; reads are not paced."""

from __future__ import annotations

import asyncio
import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import cast

import pytest
from kiteconnect import KiteConnect

from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.limits import EndpointClass, OrderPacing, RateLimits, order_spacing


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_ten_orders_a_second_with_100_ms_of_skew_are_110_ms_apart() -> None:
    assert order_spacing(10, 0.1) == pytest.approx(0.11)
    assert order_spacing(5, 0.0) == pytest.approx(0.2)


async def test_a_burst_of_order_writes_leaves_one_every_spacing_in_arrival_order() -> None:
    time = FakeTime()
    pacing = OrderPacing(0.11, clock=time.clock, sleep=time.sleep)
    sent: list[tuple[int, float]] = []

    async def write(i: int) -> None:
        await pacing.acquire()
        sent.append((i, time.now))

    await asyncio.gather(*(write(i) for i in range(5)))
    assert [i for i, _ in sent] == [0, 1, 2, 3, 4]
    gaps = [later - earlier for (_, earlier), (_, later) in itertools.pairwise(sent)]
    assert gaps == pytest.approx([0.11] * 4)
    time.now += 5  # idle: the next write leaves at once
    await pacing.acquire()
    assert time.slept == pytest.approx([0.11] * 4)


class App:
    api_key = "app_key"


def caller(executor: ThreadPoolExecutor, account_id: str, limits: RateLimits) -> KiteCaller:
    return KiteCaller(account_id, cast(KiteConnect, App()), executor, limits, 0)


async def test_every_order_write_of_an_account_takes_its_pacing_and_reads_do_not() -> None:
    limits = RateLimits(1000, 100, orders_per_second=10, clock_skew=0.1)
    time = FakeTime()
    for account_id in ("AB1234", "CD5678"):
        pacing = limits.order_pacing(account_id)
        pacing.clock, pacing.sleep = time.clock, time.sleep
    with ThreadPoolExecutor(max_workers=1) as executor:
        first, other = caller(executor, "AB1234", limits), caller(executor, "CD5678", limits)
        await first.acquire(EndpointClass.ORDERS)  # a placement
        await first.acquire(EndpointClass.OTHER)  # a read: not an order
        await other.acquire(EndpointClass.ORDERS)  # another account: its own pacing
        assert time.slept == []
        await first.acquire(EndpointClass.ORDERS)  # a modification or cancellation right after
    assert time.slept == pytest.approx([0.11])
