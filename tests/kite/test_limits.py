"""The Kite adapter's limits as units: each account's order writes (place, modify, cancel) leave
evenly spaced, (1 + skew) / rate apart, whichever app or path sends them; reads are not paced."""

from __future__ import annotations

import asyncio
import itertools
from typing import cast

import hypothesis
import pytest
from hypothesis import strategies as st
from kiteconnect import KiteConnect

from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.limits import EndpointClass, OrderPacing, RateLimits, order_spacing
from tests.support.kite_calls import InProcessCalls


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
        async with pacing.turn():
            sent.append((i, time.now))

    await asyncio.gather(*(write(i) for i in range(5)))
    assert [i for i, _ in sent] == [0, 1, 2, 3, 4]
    gaps = [later - earlier for (_, earlier), (_, later) in itertools.pairwise(sent)]
    assert gaps == pytest.approx([0.11] * 4)
    time.now += 5  # idle: the next write leaves at once
    async with pacing.turn():
        pass
    assert time.slept == pytest.approx([0.11] * 4)


async def test_the_spacing_counts_from_when_a_write_leaves_and_a_refused_one_is_not_counted() -> None:
    time = FakeTime()
    pacing = OrderPacing(0.11, clock=time.clock, sleep=time.sleep)
    async with pacing.turn():
        time.now += 0.3  # a slow pre-send check (risk, the write-ahead record): the turn is held
    assert pacing.last == pytest.approx(100.3)
    with pytest.raises(RuntimeError):
        async with pacing.turn():
            time.now += 0.5
            raise RuntimeError("refused by a kill switch: nothing was sent")
    assert pacing.last == pytest.approx(100.3) and time.slept == pytest.approx([0.11])  # it waited, then sent nothing


class App:
    """The official client, as far as these writes go."""

    api_key = "app_key"

    def modify_order(self, variety: str, order_id: str, **changes: object) -> str:
        return order_id

    def cancel_order(self, variety: str, order_id: str) -> str:
        return order_id


def caller(account_id: str, limits: RateLimits) -> KiteCaller:
    return KiteCaller(account_id, cast(KiteConnect, App()), InProcessCalls(), limits, 0)


async def test_every_order_turn_of_an_account_takes_its_pacing_and_reads_do_not() -> None:
    limits = RateLimits(1000, 100, orders_per_second=10, clock_skew=0.1)
    time = FakeTime()
    for account_id in ("AB1234", "CD5678"):
        pacing = limits.order_pacing(account_id)
        pacing.clock, pacing.sleep = time.clock, time.sleep
    first, other = caller("AB1234", limits), caller("CD5678", limits)
    async with first.order_turn():  # a placement
        pass
    await first.acquire(EndpointClass.OTHER)  # a read: not an order
    async with other.order_turn():  # another account: its own pacing
        pass
    assert time.slept == []
    await first.change(EndpointClass.ORDERS, "modify_order", "regular", "1", price=10)  # right after
    await first.change(EndpointClass.ORDERS, "cancel_order", "regular", "1")
    assert time.slept == pytest.approx([0.11, 0.11])


async def test_a_write_kite_counts_as_ten_orders_waits_and_holds_the_next_back_for_ten_spacings() -> None:
    time = FakeTime()
    pacing = OrderPacing(0.11, clock=time.clock, sleep=time.sleep)
    async with pacing.turn():
        pass
    async with pacing.turn(weight=10):  # an autosliced order of ten children
        pass
    async with pacing.turn():
        pass
    assert time.slept == pytest.approx([1.1, 1.1])  # no 1.1 s holds more than ten orders


@hypothesis.settings(derandomize=True, max_examples=200, deadline=None)
@hypothesis.given(
    weights=st.lists(st.integers(1, 10), min_size=1, max_size=40),
    pauses=st.lists(st.floats(0, 0.3), min_size=40, max_size=40),
)
def test_no_window_shorter_than_ten_spacings_holds_more_than_ten_orders_whatever_the_weights(
    weights: list[int], pauses: list[float]
) -> None:
    pacing, now, sent = OrderPacing(0.11), 0.0, list[float]()
    for weight, pause in zip(weights, pauses, strict=False):
        now += pacing.delay(now, weight)
        sent.extend([now] * weight)
        pacing.last = now + (weight - 1) * pacing.spacing  # what `turn` records as the write leaves
        now += pause
    window = 10 * pacing.spacing - 1e-9
    assert max(sum(1 for t in sent if start <= t < start + window) for start in sent) <= 10
