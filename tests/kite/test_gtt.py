"""The typed GTT adapter: every /gtt endpoint paced in one rate class ("all other endpoints"),
triggers sent as the official client serialises them, Kite's JSON read into typed rows with exact
decimals, and Kite's "Trigger not found" answered as NOT_FOUND naming the trigger."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import pytest
import requests
from kiteconnect import exceptions as kite_exceptions

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.errors import KiteOutcomeUnknown, from_kite
from kite_gateway.kite.gtt import GttLeg, GttLegResult, GttOrder, KiteGtt, gtt_row
from kite_gateway.kite.limits import EndpointClass
from kite_wire.formats import IST

ACCOUNT = "ZS0001"


@dataclass(frozen=True)
class Sent:
    how: str  # read, write or change
    endpoint: EndpointClass
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


class FakeKite:
    """What the adapter uses of a KiteCaller. A call is `sent` once its `before_send` passed;
    `failures` are raised as they are (raw Kite exceptions from write, GatewayErrors otherwise)."""

    account_id = ACCOUNT

    def __init__(self, replies: dict[str, Any] | None = None) -> None:
        self.replies = replies or {}
        self.failures: dict[str, Exception] = {}
        self.sent: list[Sent] = []

    async def _call(
        self, how: str, endpoint: EndpointClass, method: str, *args: Any,
        before_send: Callable[[], None] | None = None, **kwargs: Any,
    ) -> Any:  # fmt: skip
        if before_send is not None:
            before_send()
        self.sent.append(Sent(how, endpoint, method, args, kwargs))
        if method in self.failures:
            raise self.failures[method]
        reply = self.replies.get(method)
        return reply() if callable(reply) else reply

    async def read(self, endpoint: EndpointClass, method: str, *args: Any, **kwargs: Any) -> Any:
        return await self._call("read", endpoint, method, *args, **kwargs)

    async def write(self, endpoint: EndpointClass, method: str, *args: Any, **kwargs: Any) -> Any:
        return await self._call("write", endpoint, method, *args, **kwargs)

    async def change(self, endpoint: EndpointClass, method: str, *args: Any, **kwargs: Any) -> Any:
        return await self._call("change", endpoint, method, *args, **kwargs)

    def error(self, exc: Exception) -> GatewayError:
        return from_kite(exc, self.account_id)

    def caller(self) -> KiteCaller:
        return cast(KiteCaller, self)

    def methods(self) -> list[str]:
        return [s.method for s in self.sent]


SELL_ABOVE = GttOrder(
    trigger_type="single",
    exchange="NSE",
    tradingsymbol="INFY",
    trigger_values=(Decimal("1550.5"),),
    last_price=Decimal("1500"),
    legs=(GttLeg(transaction_type="SELL", quantity=1, product="CNC", price=Decimal("1550.50")),),
)

KITE_ROW: dict[str, Any] = {
    "id": 123,
    "type": "single",
    "status": "triggered",
    "created_at": "2026-11-24 10:30:00",
    "updated_at": "2026-11-24 11:00:05",
    "expires_at": "2027-11-24 10:30:00",
    "condition": {"exchange": "NSE", "tradingsymbol": "INFY", "trigger_values": [1550.05], "last_price": 1500},
    "orders": [
        {
            "transaction_type": "SELL",
            "quantity": 1,
            "product": "CNC",
            "order_type": "LIMIT",
            "price": 1550.1,
            "result": {
                "timestamp": "2026-11-24 11:00:05",
                "order_result": {"order_id": "261124000000007", "status": "success", "rejection_reason": ""},
            },
        }
    ],
}


def not_found() -> GatewayError:
    """Kite's answer for an unknown trigger, as KiteCaller maps it (a 404 GeneralException)."""
    return from_kite(kite_exceptions.GeneralException("Trigger not found.", code=404), ACCOUNT)


async def test_every_gtt_endpoint_is_paced_as_all_other_endpoints_not_as_order_placement() -> None:
    kite = FakeKite({"place_gtt": {"trigger_id": 123}, "get_gtts": [KITE_ROW], "get_gtt": KITE_ROW})
    gtts = KiteGtt(kite.caller())
    await gtts.place_gtt(SELL_ABOVE)
    await gtts.modify_gtt(123, SELL_ABOVE)
    await gtts.delete_gtt(123)
    await gtts.get_gtts()
    await gtts.get_gtt(123)
    assert [(s.how, s.method, s.endpoint) for s in kite.sent] == [
        ("write", "place_gtt", EndpointClass.OTHER),
        ("change", "modify_gtt", EndpointClass.OTHER),
        ("change", "delete_gtt", EndpointClass.OTHER),
        ("read", "get_gtts", EndpointClass.OTHER),
        ("read", "get_gtt", EndpointClass.OTHER),
    ]


async def test_a_trigger_is_sent_with_its_numbers_as_the_official_client_serialises_them() -> None:
    kite = FakeKite({"place_gtt": {"trigger_id": "123"}})
    assert await KiteGtt(kite.caller()).place_gtt(SELL_ABOVE) == 123
    (sent,) = kite.sent
    assert sent.args == () and sent.kwargs == {
        "trigger_type": "single",
        "tradingsymbol": "INFY",
        "exchange": "NSE",
        "trigger_values": [1550.5],
        "last_price": 1500,
        "orders": [{"transaction_type": "SELL", "quantity": 1, "order_type": "LIMIT", "product": "CNC",
                    "price": 1550.5}],
    }  # fmt: skip


async def test_a_modification_names_the_trigger_and_runs_its_check_at_the_moment_of_sending() -> None:
    kite, checked = FakeKite(), list[str]()
    await KiteGtt(kite.caller()).modify_gtt(123, SELL_ABOVE, before_send=lambda: checked.append("checked"))
    (sent,) = kite.sent
    assert sent.args == (123,) and sent.kwargs["trigger_values"] == [1550.5] and checked == ["checked"]


def test_kites_trigger_json_is_read_as_a_typed_row_with_exact_decimals_and_ist_times() -> None:
    row = gtt_row(KITE_ROW)
    assert (row.gtt_id, row.status, row.trigger_type, row.exchange, row.tradingsymbol) == (
        123, "triggered", "single", "NSE", "INFY"
    )  # fmt: skip
    assert row.trigger_values == (Decimal("1550.05"),) and row.last_price == Decimal(1500)
    (leg,) = row.legs
    assert (leg.transaction_type, leg.quantity, leg.product, leg.price) == ("SELL", 1, "CNC", Decimal("1550.1"))
    fired = datetime(2026, 11, 24, 11, 0, 5, tzinfo=IST)
    assert leg.result == GttLegResult("261124000000007", "success", "", fired)
    assert row.created_at == datetime(2026, 11, 24, 10, 30, tzinfo=IST) and row.updated_at == fired


def test_a_trigger_that_has_not_fired_has_no_leg_results_and_missing_times_are_none() -> None:
    waiting = {**KITE_ROW, "status": "active", "orders": [{**KITE_ROW["orders"][0], "result": None}],
               "expires_at": None, "updated_at": "not a time"}  # fmt: skip
    row = gtt_row(waiting)
    assert row.legs[0].result is None and row.expires_at is None and row.updated_at is None


@pytest.mark.parametrize("method", ["get_gtt", "modify_gtt", "delete_gtt"])
async def test_a_trigger_kite_does_not_know_is_not_found_naming_the_trigger(method: str) -> None:
    kite = FakeKite()
    kite.failures[method] = not_found()
    gtts = KiteGtt(kite.caller())
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "get_gtt": lambda: gtts.get_gtt(987654),
        "modify_gtt": lambda: gtts.modify_gtt(987654, SELL_ABOVE),
        "delete_gtt": lambda: gtts.delete_gtt(987654),
    }
    with pytest.raises(GatewayError) as caught:
        await calls[method]()
    assert (caught.value.code, caught.value.reason) == (Status.NOT_FOUND, Reason.ORDER_NOT_FOUND)
    assert caught.value.metadata == {"account_id": ACCOUNT, "gtt_id": "987654"}
    assert "no GTT 987654 on account ZS0001" in caught.value.message


async def test_other_refusals_of_a_trigger_call_come_back_as_they_were() -> None:
    kite = FakeKite()
    refused = GatewayError(Status.FAILED_PRECONDITION, Reason.KITE_ORDER_REJECTED, "Kite: trigger already fired")
    kite.failures["delete_gtt"] = refused
    with pytest.raises(GatewayError) as caught:
        await KiteGtt(kite.caller()).delete_gtt(123)
    assert caught.value is refused


async def test_a_placement_kite_refused_is_a_gateway_error_and_one_without_an_answer_is_an_unknown_outcome() -> None:
    kite = FakeKite()
    kite.failures["place_gtt"] = kite_exceptions.InputException("Invalid trigger price.")
    with pytest.raises(GatewayError) as refused:
        await KiteGtt(kite.caller()).place_gtt(SELL_ABOVE)
    assert refused.value.code == Status.INVALID_ARGUMENT
    kite.failures["place_gtt"] = requests.exceptions.ReadTimeout("no answer")
    with pytest.raises(KiteOutcomeUnknown) as unknown:
        await KiteGtt(kite.caller()).place_gtt(SELL_ABOVE)
    assert unknown.value.cause == "ReadTimeout"
