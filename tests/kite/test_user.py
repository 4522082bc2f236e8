"""KiteUser as a unit: Kite's user JSON read into typed rows (exact decimals, absent numbers as 0,
IST login times), the margins of one segment or both, and a refused session exchange that says
request tokens are single-use."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_exceptions

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.limits import RateLimits
from kite_gateway.kite.portfolio import SegmentMargins
from kite_gateway.kite.user import KiteUser, login_of, profile_of
from kite_wire.formats import IST
from tests.support.kite_calls import InProcessCalls

SEGMENT = {
    "enabled": True,
    "net": 99725.05,
    "available": {"cash": 245431.6, "opening_balance": "245431.6", "live_balance": 99725.05},
    "utilised": {"debits": 145706.55, "exposure": 38981.25},
}


class UserClient:
    """The user endpoints of the official client, answering canned JSON (or raising)."""

    api_key = "app_key"
    access_token = "token"

    def __init__(self, failure: Exception | None = None) -> None:
        self.failure = failure
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def _answer(self, name: str, *args: Any) -> Any:
        self.calls.append((name, args))
        if self.failure is not None:
            raise self.failure
        return {
            "margins": {"equity": SEGMENT, "commodity": {"enabled": False}},
            "margins_segment": SEGMENT,
            "generate_session": {"user_id": "AB1234", "access_token": "new", "login_time": datetime(2026, 3, 2, 9)},
        }.get(name)

    def margins(self, segment: str | None = None) -> Any:
        return self._answer("margins_segment" if segment else "margins", *([segment] if segment else []))

    def generate_session(self, request_token: str, api_secret: str) -> Any:
        return self._answer("generate_session", request_token, api_secret)


@pytest.fixture
def calls() -> InProcessCalls:
    return InProcessCalls()


def user(calls: InProcessCalls, client: UserClient) -> KiteUser:
    return KiteUser(KiteCaller("AB1234", cast(KiteConnect, client), calls, RateLimits(1000, 100), max_retries=3))


def test_a_segments_numbers_are_read_as_the_exact_decimals_kite_wrote_and_absent_ones_as_zero() -> None:
    segment = SegmentMargins.of(SEGMENT)
    assert segment.enabled and segment.net == Decimal("99725.05")
    assert segment.available.cash == Decimal("245431.6") and segment.available.opening_balance == Decimal("245431.6")
    assert segment.available.collateral == 0 and segment.utilised.exposure == Decimal("38981.25")
    assert SegmentMargins.of({}).utilised.delivery == 0 and not SegmentMargins.of({}).enabled


def test_a_profile_reads_lists_as_tuples_missing_text_as_empty_and_the_demat_consent_from_meta() -> None:
    profile = profile_of(
        {"user_id": "AB1234", "exchanges": ["NSE", "BSE"], "avatar_url": None, "meta": {"demat_consent": "consent"}}
    )
    assert (profile.user_id, profile.exchanges, profile.products) == ("AB1234", ("NSE", "BSE"), ())
    assert (profile.avatar_url, profile.email, profile.demat_consent) == ("", "", "consent")
    assert profile_of({"meta": None}).demat_consent == ""


def test_a_logins_time_kite_sends_without_a_zone_is_ist_and_an_absent_one_stays_absent() -> None:
    login = login_of({"user_id": "AB1234", "access_token": "t", "login_time": datetime(2026, 3, 2, 9, 15)})
    assert login.login_time == datetime(2026, 3, 2, 9, 15, tzinfo=IST) and login.user_name == ""
    assert login_of({"user_id": "AB1234", "access_token": "t", "login_time": None}).login_time is None


async def test_margins_without_a_segment_are_both_and_with_one_only_that_one(calls: InProcessCalls) -> None:
    client = UserClient()
    both = await user(calls, client).margins()
    assert both.equity is not None and both.commodity is not None and not both.commodity.enabled
    one = await user(calls, client).margins("commodity")
    assert one.equity is None and one.commodity is not None and one.commodity.net == Decimal("99725.05")
    assert client.calls == [("margins", ()), ("margins_segment", ("commodity",))]


async def test_the_session_exchange_returns_the_user_and_the_new_token(calls: InProcessCalls) -> None:
    client = UserClient()
    login = await user(calls, client).generate_session("request", "secret")
    assert (login.user_id, login.access_token) == ("AB1234", "new")
    assert client.calls == [("generate_session", ("request", "secret"))]


async def test_a_refused_session_exchange_says_request_tokens_are_single_use(calls: InProcessCalls) -> None:
    client = UserClient(kite_exceptions.TokenException("Token is invalid or has expired.", code=403))
    with pytest.raises(GatewayError) as caught:
        await user(calls, client).generate_session("used", "secret")
    assert (caught.value.code, caught.value.reason) == (Status.UNAUTHENTICATED, Reason.ACCOUNT_NEEDS_LOGIN)
    assert "single-use" in caught.value.message and caught.value.metadata["kite_error_type"] == "TokenException"


async def test_a_session_exchange_kite_fails_is_not_retried(calls: InProcessCalls) -> None:
    client = UserClient(kite_exceptions.NetworkException("gateway timeout", code=504))
    with pytest.raises(GatewayError) as caught:
        await user(calls, client).generate_session("request", "secret")
    assert caught.value.code == Status.UNAVAILABLE and len(client.calls) == 1
