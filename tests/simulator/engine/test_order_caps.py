"""Kite's per-user order caps (10 a second, 400 a minute, 5,000 a day), answered as Kite answers
them: HTTP 429, NetworkException, "Too many requests", per user (not per app) and per calendar second
of the simulator's clock. Rejected placements still count; a 429 does not; modifications and
cancellations count in the second (not in the minute or the day); GTTs are not orders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from kiteconnect import KiteConnect
from kiteconnect.exceptions import InputException, NetworkException

from kite_simulator import SimulatorConfig
from kite_simulator.clock import ManualClock
from kite_simulator.ratelimit import OrderLimits, endpoint_class
from kite_simulator.threaded import ThreadedSimulator
from tests.simulator.conftest import login, place, regular_hours


def running(**limits: int) -> Iterator[ThreadedSimulator]:
    with ThreadedSimulator(regular_hours(order_limits=OrderLimits(**limits))) as threaded:
        yield threaded


@pytest.fixture
def kite_caps() -> Iterator[ThreadedSimulator]:
    yield from running()


def ltp(threaded: ThreadedSimulator) -> Decimal:
    sim = threaded.sim
    return threaded.call(lambda: sim.engine.quote(sim.universe.by_symbol["NSE:INFY"]).last_price)


def refused(kite: KiteConnect) -> NetworkException:
    with pytest.raises(NetworkException, match=r"^Too many requests") as caught:
        place(kite)
    assert caught.value.code == 429
    return caught.value


def test_the_default_caps_are_kites_ten_a_second_four_hundred_a_minute_five_thousand_a_day() -> None:
    assert SimulatorConfig().order_limits == OrderLimits(per_second=10, per_minute=400, per_day=5000)


def test_an_eleventh_order_in_one_second_is_refused_with_429_and_the_next_second_takes_it(
    kite_caps: ThreadedSimulator,
) -> None:
    kite = login(kite_caps)
    for _ in range(10):
        place(kite)
    assert "10 orders in a second" in str(refused(kite))
    kite_caps.advance(1)
    place(kite)
    assert len(kite.orders()) == 11


def test_the_caps_are_per_user_not_per_app(kite_caps: ThreadedSimulator) -> None:
    first, second = login(kite_caps, "ZS0001"), login(kite_caps, "ZS0002")
    for _ in range(10):
        place(first)
    refused(first)
    place(second)  # the same api_key, another user: its own ten


def test_orders_beyond_the_minute_cap_wait_for_the_minute_to_pass() -> None:
    for threaded in running(per_minute=5):
        kite = login(threaded)
        for _ in range(5):
            place(kite)
            threaded.advance(1)
        assert "5 orders in a minute" in str(refused(kite))
        threaded.advance(55)  # the first order is now a minute old
        place(kite)
        refused(kite)


def test_the_day_cap_counts_rejected_placements_but_not_refused_ones_and_resets_the_next_day() -> None:
    for threaded in running(per_day=3):
        kite = login(threaded)
        with pytest.raises(InputException):
            place(kite, order_type="LIMIT", price=float(ltp(threaded)) + 0.01)  # off the tick grid: HTTP 400
        rejected = place(kite, quantity=100_000)  # insufficient funds: a REJECTED order
        assert next(o for o in kite.orders() if o["order_id"] == rejected)["status"] == "REJECTED"
        place(kite)
        assert "3 orders in a day" in str(refused(kite))
        refused(kite)  # a 429 is not counted, so it never pushes the day further out
        clock = threaded.sim.clock
        assert isinstance(clock, ManualClock)
        threaded.call(clock.set, clock.now() + timedelta(days=1))
        place(login(threaded))


def test_modifications_and_cancellations_count_in_the_calendar_second_with_placements() -> None:
    for threaded in running(per_second=3):
        kite = login(threaded)
        price = ltp(threaded)
        order_id = place(kite, order_type="LIMIT", price=float(price - 40), product="MIS")
        kite.modify_order(kite.VARIETY_REGULAR, order_id, price=float(price - 41))
        second = place(kite, order_type="LIMIT", price=float(price - 40), product="MIS")
        with pytest.raises(NetworkException, match=r"^Too many requests: more than 3 orders in a second") as caught:
            kite.cancel_order(kite.VARIETY_REGULAR, order_id)
        assert caught.value.code == 429
        assert "more than 3 orders in a second" in str(refused(kite))
        threaded.advance(1)  # the next calendar second of the simulator's clock
        kite.cancel_order(kite.VARIETY_REGULAR, order_id)
        kite.cancel_order(kite.VARIETY_REGULAR, second)
        assert {o["order_id"]: o["status"] for o in kite.orders()} == {order_id: "CANCELLED", second: "CANCELLED"}


def test_modifications_cancellations_and_gtts_are_not_counted_in_the_minute_or_the_day() -> None:
    for threaded in running(per_second=2, per_minute=2, per_day=2):
        kite = login(threaded)
        price = ltp(threaded)
        order_id = place(kite, order_type="LIMIT", price=float(price - 40), product="MIS")
        for step in range(3):
            threaded.advance(1)
            kite.modify_order(kite.VARIETY_REGULAR, order_id, price=float(price - 41 - step))
        threaded.advance(1)
        kite.cancel_order(kite.VARIETY_REGULAR, order_id)
        trigger = float(price * Decimal("1.01") // Decimal("0.05") * Decimal("0.05"))
        leg = {"transaction_type": "SELL", "quantity": 1, "order_type": "LIMIT", "product": "CNC", "price": trigger}
        threaded.advance(1)
        for _ in range(3):
            kite.place_gtt(kite.GTT_TYPE_SINGLE, "INFY", "NSE", [trigger], float(price), [leg])
        place(kite)  # the second placement of the minute and the day
        threaded.advance(1)
        assert "2 orders in a minute" in str(refused(kite))


def test_gtt_writes_are_limited_as_all_other_endpoints_not_as_order_placement() -> None:
    for method in ("POST", "PUT", "DELETE"):
        assert endpoint_class(method, "/gtt/triggers" if method == "POST" else "/gtt/triggers/100001") == "other"
        assert endpoint_class(method, "/orders/regular" if method == "POST" else "/orders/regular/1") == "orders"
