"""An order call Kite refuses for the IP it came from: FAILED_PRECONDITION with reason
IP_NOT_REGISTERED, saying which egress the account's writes leave through and where to register its
IP, never that retrying helps; whatever error type carries it, it never marks the session as
needing a login, and it is a definite refusal (nothing was placed)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_exceptions

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.egress import Egress
from kite_gateway.kite.errors import from_kite, outcome_unknown, write_failure
from kite_gateway.kite.limits import EndpointClass, RateLimits
from kite_wire import ip_not_allowed
from tests.support.kite_calls import InProcessCalls


class Refusing:
    api_key = "app_key"
    access_token = "token"

    def __init__(self, failure: Exception) -> None:
        self.failure = failure

    def profile(self) -> Any:
        raise self.failure


@pytest.fixture
def calls() -> InProcessCalls:
    return InProcessCalls()


def test_the_refusal_says_what_to_register_and_never_to_retry() -> None:
    error = from_kite(kite_exceptions.PermissionException(ip_not_allowed("127.0.0.3"), code=403), "ZS0002")
    assert (error.code, error.reason) == (Status.FAILED_PRECONDITION, Reason.IP_NOT_REGISTERED)
    assert "developers.kite.trade -> Profile -> IP Whitelist" in error.message
    assert "KITE_GATEWAY_EGRESS_FILE" in error.message and "127.0.0.3" in error.message
    assert "retrying is safe" not in error.message.lower() and error.retry_after is None
    assert error.metadata["refused_ip"] == "127.0.0.3" and error.metadata["kite_error_type"] == "PermissionException"


@pytest.mark.parametrize(
    "failure",
    [
        kite_exceptions.InputException(ip_not_allowed("10.1.1.1"), code=400),
        kite_exceptions.GeneralException(ip_not_allowed("10.1.1.1"), code=403),
        kite_exceptions.OrderException(ip_not_allowed("10.1.1.1"), code=400),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_the_refusal_is_recognised_by_its_text_whatever_error_type_carries_it(failure: Exception) -> None:
    assert from_kite(failure, "ZS0001").reason == Reason.IP_NOT_REGISTERED
    assert not outcome_unknown(failure)  # definite: nothing exists at Kite


async def test_a_write_refused_for_its_ip_names_the_egress_it_left_through(calls: InProcessCalls) -> None:
    refusal = kite_exceptions.PermissionException(ip_not_allowed("127.0.0.3"), code=403)
    caller = KiteCaller(
        "ZS0002", cast(KiteConnect, Refusing(refusal)), calls, RateLimits(1000, 100), 0,
        egress=Egress("family-b", source_address="127.0.0.3"),
    )  # fmt: skip
    with pytest.raises(kite_exceptions.PermissionException) as raised:
        await caller.write(EndpointClass.ORDERS, "profile")
    error = write_failure(raised.value, "ZS0002")
    assert isinstance(error, GatewayError) and error.reason == Reason.IP_NOT_REGISTERED
    assert error.metadata["egress"] == 'egress "family-b" (source address 127.0.0.3)'
    assert 'egress "family-b" (source address 127.0.0.3)' in error.message


async def test_an_ip_refusal_sent_as_a_token_exception_does_not_ask_for_a_login(calls: InProcessCalls) -> None:
    refusals: list[str] = []
    caller = KiteCaller(
        "ZS0001", cast(KiteConnect, Refusing(kite_exceptions.TokenException(ip_not_allowed("1.2.3.4"), code=403))),
        calls, RateLimits(1000, 100), 0, refusals.append,
    )  # fmt: skip
    with pytest.raises(kite_exceptions.TokenException):
        await caller.write(EndpointClass.ORDERS, "profile")
    assert refusals == []
    with pytest.raises(GatewayError) as changed:
        await caller.change(EndpointClass.ORDERS, "profile")
    assert changed.value.reason == Reason.IP_NOT_REGISTERED and refusals == []
