"""The order dispatch queue as a unit: Kite's per-user caps counted as Kite counts them, the daily
cap carried across a restart, and the kill switch looked at before anything leaves."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

import hypothesis
import pytest
from hypothesis import strategies as st

from kite_gateway.core.orders.dispatch import OrderDispatch, SendWindow
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.errors import KiteOutcomeUnknown
from kite_gateway.kite.limits import EndpointClass, order_spacing
from kite_gateway.kite.orders import KiteOrders


def test_a_send_window_allows_its_limit_then_says_how_long_to_wait() -> None:
    window = SendWindow(10, 1.1)
    for i in range(10):
        assert window.delay(100 + i * 0.01) == 0
        window.record(100 + i * 0.01)
    assert window.delay(100.5) == pytest.approx(0.6)
    assert window.delay(101.1) == 0  # the first send has left the window


def kite_seconds(spacing: float, start: float, delays: list[float], offset: float) -> dict[int, int]:
    """Send orders as fast as a window of one per `spacing` allows; order i reaches Kite's counter
    `delays[i]` later, on a clock `offset` ahead of ours: how many land in each of Kite's seconds."""
    window, now, landed = SendWindow(1, spacing), start, dict[int, int]()
    for delay in delays:
        now += window.delay(now)
        window.record(now)
        second = math.floor(now + offset + delay)
        landed[second] = landed.get(second, 0) + 1
        now += 0.001
    return landed


@hypothesis.settings(derandomize=True, max_examples=300, deadline=None)
@hypothesis.given(
    start=st.floats(0, 1),
    offset=st.floats(-1000, 1000),
    skew=st.sampled_from([0.0, 0.05, 0.1, 0.25]),
    spread=st.lists(st.floats(0, 0.999), min_size=30, max_size=60),
)
def test_paced_orders_never_put_more_than_ten_in_one_of_kites_seconds_whatever_the_clock_offset(
    start: float, offset: float, skew: float, spread: list[float]
) -> None:
    delays = [0.05 + skew * fraction for fraction in spread]  # delays to Kite spread less than `skew`
    assert max(kite_seconds(order_spacing(10, skew), 1000 + start, delays, offset).values()) <= 10


def test_without_the_skew_margin_delays_that_differ_put_eleven_in_one_of_kites_seconds() -> None:
    delays = [0.09] + [0.0] * 19  # the first reaches Kite 90 ms later than the rest
    landed = kite_seconds(order_spacing(10, 0.0), 1000.95, delays, 0.0)
    assert max(landed.values()) == 11  # an exact 100 ms spacing would not do
    assert max(kite_seconds(order_spacing(10, 0.1), 1000.95, delays, 0.0).values()) <= 10


def test_a_send_kite_counts_as_ten_orders_holds_the_next_back_for_ten_spacings() -> None:
    spacing, minute = SendWindow(1, 0.11), SendWindow(400, 60.1)
    spacing.record(100.0, 10)
    minute.record(100.0, 10)
    assert spacing.delay(100.0) == pytest.approx(1.1) and spacing.delay(101.1) == 0
    assert len(minute.sent) == 10


def test_placements_leave_spaced_by_one_plus_the_skew_over_the_rate() -> None:
    target = dispatch(per_second=10)
    assert target.queue("AB1234").windows[0].seconds == pytest.approx(0.11)
    assert target.queue("AB1234").windows[1].seconds == pytest.approx(60.1)


class FakeKite:
    """What the dispatch uses of a KiteCaller (through KiteOrders): its account and its order turn."""

    account_id = "AB1234"

    def __init__(self) -> None:
        self.acquired: list[EndpointClass] = []

    @contextlib.asynccontextmanager
    async def order_turn(self, weight: int = 1) -> AsyncIterator[None]:
        self.acquired.append(EndpointClass.ORDERS)
        yield


def dispatch(
    already_sent_today: int = 0, per_day: int = 5000, blocked: Any = None, per_second: int = 1000
) -> OrderDispatch:
    async def sent_since(account_id: str, since: datetime) -> int:
        return already_sent_today

    return OrderDispatch(
        depth=10, max_wait=5, per_second=per_second, per_minute=1000, per_day=per_day, sent_since=sent_since,
        blocked=blocked or (lambda account_id: None), now=lambda: datetime(2026, 12, 1, 5, 0, tzinfo=UTC),
    )  # fmt: skip


async def send(target: OrderDispatch, kite: FakeKite, log: list[str]) -> str:
    async def check() -> None:
        log.append("check")

    async def sending() -> None:
        log.append("sending")

    async def call() -> str:
        log.append("call")
        return "order"

    return await target.send(KiteOrders(cast(KiteCaller, kite)), check, sending, call)


async def test_the_daily_cap_counts_what_was_sent_before_a_restart() -> None:
    target, kite, log = dispatch(already_sent_today=4999), FakeKite(), list[str]()
    assert await send(target, kite, log) == "order"
    with pytest.raises(GatewayError) as caught:
        await send(target, kite, log)
    assert caught.value.code == Status.RESOURCE_EXHAUSTED and "daily cap of 5000" in caught.value.message
    assert log == ["check", "sending", "call"]  # the refused one never reached its checks


async def test_each_send_takes_the_apps_order_limiter_and_is_checked_after_it() -> None:
    target, kite, log = dispatch(), FakeKite(), list[str]()
    await asyncio.gather(*(send(target, kite, log) for _ in range(3)))
    assert kite.acquired == [EndpointClass.ORDERS] * 3 and log.count("call") == 3


async def test_a_blocked_account_sends_nothing() -> None:
    def blocked(account_id: str) -> None:
        raise GatewayError(Status.FAILED_PRECONDITION, Reason.KILL_SWITCH_ACTIVE, "kill switch engaged")

    target, kite, log = dispatch(blocked=blocked), FakeKite(), list[str]()
    with pytest.raises(GatewayError):
        await send(target, kite, log)
    assert log == [] and kite.acquired == [] and target.waiting(kite.account_id) == 0


def test_a_send_of_several_orders_waits_until_the_window_has_room_for_all_of_them() -> None:
    window = SendWindow(10, 1.1)
    for i in range(3):
        window.record(100 + i * 0.1)
    assert window.delay(100.3, 7) == 0
    assert window.delay(100.3, 8) == pytest.approx(0.8)  # the first send must leave
    assert window.delay(100.3, 25) == pytest.approx(1.0)  # more than the limit: an empty window
    window.record(100.3, 7)
    window.give_back(100.3, 7, 5)
    assert len(window.sent) == 5 and window.delay(100.3, 5) == 0


async def test_an_autoslice_takes_room_for_ten_orders_and_gives_back_what_its_children_did_not_use() -> None:
    target, kite = dispatch(), FakeKite()
    target.per_second = 10
    target._queues.clear()

    async def nothing() -> None:
        pass

    spacing = order_spacing(10, target.clock_skew)
    sent_at: list[float] = []

    async def call() -> str:
        pacing, minute = target.queue(kite.account_id).windows
        sent_at.append(target.clock())
        assert pacing.sent[0] == pytest.approx(sent_at[0] + 9 * spacing)  # the next send waits ten spacings
        assert len(minute.sent) == 10
        return "parent"

    orders = KiteOrders(cast(KiteCaller, kite))
    await target.send(orders, nothing, nothing, call, weight=10, used=lambda: 3)
    pacing, minute = target.queue(kite.account_id).windows
    assert pacing.sent[0] == pytest.approx(sent_at[0] + 2 * spacing) and len(minute.sent) == 3
    assert target.queue(kite.account_id).day_count == 3


async def test_an_autoslice_kite_refused_counts_as_one_order() -> None:
    target, kite = dispatch(), FakeKite()

    async def nothing() -> None:
        pass

    async def refused() -> str:
        raise GatewayError(Status.INVALID_ARGUMENT, Reason.KITE_INPUT_REJECTED, "too small to slice")

    with pytest.raises(GatewayError):
        await target.send(KiteOrders(cast(KiteCaller, kite)), nothing, nothing, refused, weight=10, used=lambda: 0)
    queue = target.queue(kite.account_id)
    assert [len(w.sent) for w in queue.windows] == [1, 1] and queue.day_count == 1


async def test_an_autoslice_whose_outcome_is_unknown_keeps_room_for_all_ten() -> None:
    target, kite = dispatch(), FakeKite()

    async def nothing() -> None:
        pass

    async def lost() -> str:
        raise KiteOutcomeUnknown(GatewayError(Status.UNAVAILABLE, Reason.KITE_UNAVAILABLE, "no answer"), "ReadTimeout")

    with pytest.raises(KiteOutcomeUnknown):
        await target.send(KiteOrders(cast(KiteCaller, kite)), nothing, nothing, lost, weight=10, used=lambda: 0)
    assert target.queue(kite.account_id).day_count == 10
