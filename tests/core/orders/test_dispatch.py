"""The order dispatch queue as a unit: Kite's per-user caps counted as Kite counts them, the daily
cap carried across a restart, and the kill switch looked at before anything leaves."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from kite_gateway.core.orders.dispatch import SECOND_WINDOW, OrderDispatch, SendWindow
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.errors import KiteOutcomeUnknown
from kite_gateway.kite.limits import EndpointClass
from kite_gateway.kite.orders import KiteOrders


def test_a_send_window_allows_its_limit_then_says_how_long_to_wait() -> None:
    window = SendWindow(10, 1.1)
    for i in range(10):
        assert window.delay(100 + i * 0.01) == 0
        window.record(100 + i * 0.01)
    assert window.delay(100.5) == pytest.approx(0.6)
    assert window.delay(101.1) == 0  # the first send has left the window


def kite_seconds(window_seconds: float, start: float) -> dict[int, int]:
    """Send 100 orders as fast as the window allows; Kite receives every other burst of ten 100 ms
    late (network delay); how many land in each of Kite's calendar seconds."""
    window, now, landed = SendWindow(10, window_seconds), start, dict[int, int]()
    for i in range(100):
        now += window.delay(now)
        window.record(now)
        second = int(now + (0.1 if (i // 10) % 2 == 0 else 0.0))
        landed[second] = landed.get(second, 0) + 1
        now += 0.004
    return landed


@pytest.mark.parametrize("start", [1000.0, 1000.3, 1000.9, 1000.95])
def test_sends_paced_by_the_window_never_put_eleven_in_one_of_kites_seconds_with_100_ms_of_delay(
    start: float,
) -> None:
    assert max(kite_seconds(SECOND_WINDOW, start).values()) <= 10
    assert max(kite_seconds(1.0, 1000.95).values()) > 10  # an exact one-second window would not do


class FakeKite:
    """What the dispatch uses of a KiteCaller (through KiteOrders): its account and the app limiter."""

    account_id = "AB1234"

    def __init__(self) -> None:
        self.acquired: list[EndpointClass] = []

    async def acquire(self, endpoint: EndpointClass) -> None:
        self.acquired.append(endpoint)


def dispatch(already_sent_today: int = 0, per_day: int = 5000, blocked: Any = None) -> OrderDispatch:
    async def sent_since(account_id: str, since: datetime) -> int:
        return already_sent_today

    return OrderDispatch(
        depth=10, max_wait=5, per_second=1000, per_minute=1000, per_day=per_day, sent_since=sent_since,
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
    window.give_back(100.3, 5)
    assert len(window.sent) == 5 and window.delay(100.3, 5) == 0


async def test_an_autoslice_takes_room_for_ten_orders_and_gives_back_what_its_children_did_not_use() -> None:
    target, kite = dispatch(), FakeKite()
    target.per_second = 10
    target._queues.clear()

    async def nothing() -> None:
        pass

    async def call() -> str:
        windows = target.queue(kite.account_id).windows
        assert len(windows[0].sent) == 10  # while Kite slices, nobody else may send this second
        return "parent"

    orders = KiteOrders(cast(KiteCaller, kite))
    await target.send(orders, nothing, nothing, call, weight=10, used=lambda: 3)
    queue = target.queue(kite.account_id)
    assert [len(w.sent) for w in queue.windows] == [3, 3] and queue.day_count == 3


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
