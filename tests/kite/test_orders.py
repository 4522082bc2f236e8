"""The typed order adapter as a unit, over a real KiteCaller and a fake official client: each
endpoint's rate class is fixed in the adapter, and a failed write is either a definite refusal
(GatewayError) or KiteOutcomeUnknown, never a kiteconnect or requests exception."""

from __future__ import annotations

from typing import Any, cast

import pytest
import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_exceptions

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.errors import KiteOutcomeUnknown
from kite_gateway.kite.limits import EndpointClass, RateLimits
from kite_gateway.kite.orders import KiteOrders, KiteValue
from tests.support.kite_calls import InProcessCalls

ACCOUNT = "AB1234"


class FakeClient:
    """The official client's order endpoints: answers `results[method]` or raises `failures[method]`."""

    api_key = "key"

    def __init__(self, results: dict[str, Any] | None = None, failures: dict[str, Exception] | None = None) -> None:
        self.results = results or {}
        self.failures = failures or {}
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, method: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((method, args, kwargs))
            if method in self.failures:
                raise self.failures[method]
            return self.results.get(method)

        return call


class SpyLimits(RateLimits):
    def __init__(self) -> None:
        super().__init__(1000.0, 1000, orders_per_second=1000)
        self.classes: list[EndpointClass] = []

    def limiter(self, api_key: str, endpoint: EndpointClass) -> Any:
        self.classes.append(endpoint)
        return super().limiter(api_key, endpoint)


@pytest.fixture
def calls() -> InProcessCalls:
    return InProcessCalls()


def adapter(calls: InProcessCalls, client: FakeClient) -> tuple[KiteOrders, SpyLimits, list[str]]:
    limits, refused = SpyLimits(), list[str]()
    caller = KiteCaller(ACCOUNT, cast(KiteConnect, client), calls, limits, 0, refused.append)
    return KiteOrders(caller), limits, refused


ARGS: dict[str, KiteValue] = {
    "variety": "regular", "exchange": "NSE", "tradingsymbol": "INFY", "transaction_type": "BUY",
    "quantity": 1, "product": "CNC", "order_type": "MARKET", "validity": "DAY",
}  # fmt: skip


async def test_each_endpoint_uses_its_rate_class(calls: InProcessCalls) -> None:
    client = FakeClient({"orders": [], "order_history": [{}], "basket_order_margins": {}})
    kite, limits, _ = adapter(calls, client)
    async with kite.order_turn():
        pass
    await kite.modify_order("regular", "1", {"price": 10})
    await kite.cancel_order("regular", "1")
    assert limits.classes == [EndpointClass.ORDERS] * 3
    limits.classes.clear()
    await kite.orders()
    await kite.order_history("1")
    await kite.order_trades("1")
    await kite.trades()
    await kite.order_margins([])
    await kite.basket_order_margins([], True)
    await kite.virtual_contract_note([])
    assert limits.classes == [EndpointClass.OTHER] * 7


async def test_placing_sends_the_tag_and_answers_kites_order_id(calls: InProcessCalls) -> None:
    client = FakeClient({"place_order": 250101000000001})
    kite, limits, _ = adapter(calls, client)
    assert await kite.place_order_now(ARGS, "kgtag") == "250101000000001"
    assert client.calls == [("place_order", (), {**ARGS, "tag": "kgtag"})]
    assert limits.classes == []  # the dispatch queue took the room with order_turn


@pytest.mark.parametrize(
    "failure",
    [requests.exceptions.ReadTimeout("read timed out"), requests.exceptions.ConnectionError("reset"),
     kite_exceptions.NetworkException("Gateway timed out", code=504)],
)  # fmt: skip
async def test_a_placement_that_may_have_reached_kite_is_outcome_unknown(
    calls: InProcessCalls, failure: Exception
) -> None:
    kite, _, _ = adapter(calls, FakeClient(failures={"place_order": failure}))
    with pytest.raises(KiteOutcomeUnknown) as caught:
        await kite.place_order_now(ARGS, "kgtag")
    assert caught.value.cause == type(failure).__name__
    assert caught.value.error.code == Status.UNAVAILABLE


@pytest.mark.parametrize(
    ("failure", "code", "reason"),
    [(kite_exceptions.InputException("bad quantity", code=400), Status.INVALID_ARGUMENT, Reason.KITE_INPUT_REJECTED),
     (kite_exceptions.OrderException("RMS: blocked", code=400), Status.FAILED_PRECONDITION,
      Reason.KITE_ORDER_REJECTED),
     (requests.exceptions.ConnectTimeout("never connected"), Status.UNAVAILABLE, Reason.KITE_UNAVAILABLE)],
)  # fmt: skip
async def test_a_definite_refusal_of_a_placement_is_a_gateway_error(
    calls: InProcessCalls, failure: Exception, code: Status, reason: Reason
) -> None:
    kite, _, _ = adapter(calls, FakeClient(failures={"place_order": failure}))
    with pytest.raises(GatewayError) as caught:
        await kite.place_order_now(ARGS, "kgtag")
    assert (caught.value.code, caught.value.reason) == (code, reason)


async def test_a_refused_token_on_a_placement_marks_the_account(calls: InProcessCalls) -> None:
    failure = kite_exceptions.TokenException("Incorrect api_key or access_token", code=403)
    kite, _, refused = adapter(calls, FakeClient(failures={"place_order": failure}))
    with pytest.raises(GatewayError) as caught:
        await kite.place_order_now(ARGS, "kgtag")
    assert caught.value.reason == Reason.ACCOUNT_NEEDS_LOGIN and refused


@pytest.mark.parametrize("method", ["order_history", "order_trades"])
async def test_an_order_kite_does_not_know_is_not_found_whatever_kite_said(calls: InProcessCalls, method: str) -> None:
    failure = kite_exceptions.InputException("Couldn't find that `order_id`.", code=400)
    kite, _, _ = adapter(calls, FakeClient(failures={method: failure}))
    with pytest.raises(GatewayError) as caught:
        await getattr(kite, method)("123")
    assert (caught.value.code, caught.value.reason) == (Status.NOT_FOUND, Reason.ORDER_NOT_FOUND)
    assert caught.value.message == f"no order for order_id 123 on account {ACCOUNT}"


async def test_cancelling_a_child_leg_names_its_parent_and_a_plain_cancel_does_not(
    calls: InProcessCalls,
) -> None:
    client = FakeClient()
    kite, _, _ = adapter(calls, client)
    await kite.cancel_order("co", "2", "1")
    await kite.cancel_order("regular", "3")
    assert client.calls == [("cancel_order", ("co", "2"), {"parent_order_id": "1"}),
                            ("cancel_order", ("regular", "3"), {})]  # fmt: skip


async def test_a_modification_runs_its_last_check_before_it_leaves(calls: InProcessCalls) -> None:
    client = FakeClient()
    kite, _, _ = adapter(calls, client)

    def blocked() -> None:
        raise GatewayError(Status.FAILED_PRECONDITION, Reason.KILL_SWITCH_ACTIVE, "engaged")

    with pytest.raises(GatewayError) as caught:
        await kite.modify_order("regular", "1", {"price": 10}, before_send=blocked)
    assert caught.value.reason == Reason.KILL_SWITCH_ACTIVE and client.calls == []
