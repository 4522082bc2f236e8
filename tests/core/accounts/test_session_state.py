"""An account session's state as a unit: what makes it NEEDS_LOGIN (no token, a refused one, an
expired one by the session's clock), ERROR, or ACTIVE, and that only an active session (or one in
ERROR) hands out its Kite caller."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest

from kite_gateway.core.accounts.session import AccountSession, SessionState
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.caller import KiteCaller, KiteConnector
from kite_gateway.kite.limits import RateLimits
from kite_wire.formats import IST

EXPIRY = datetime(2026, 3, 3, 6, 0, tzinfo=IST)


class Clock:
    def __init__(self) -> None:
        self.now = EXPIRY - timedelta(hours=8)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def kite() -> Iterator[KiteCaller]:
    with ThreadPoolExecutor(max_workers=1) as executor:
        yield KiteConnector(executor, RateLimits(10, 10), "http://127.0.0.1:9", 1.0, 0).caller("AB1234", "k", "t")


def session(clock: Clock, kite: KiteCaller | None) -> AccountSession:
    return AccountSession("AB1234", "k", "A B", False, EXPIRY - timedelta(days=1), None, EXPIRY, kite, clock=clock)


def test_a_session_without_a_token_needs_a_login(kite: KiteCaller) -> None:
    assert session(Clock(), None).state() == (
        SessionState.NEEDS_LOGIN,
        "no access token; log in to Kite for this account",
    )


def test_a_session_with_a_live_token_is_active_and_hands_out_its_caller(kite: KiteCaller) -> None:
    live = session(Clock(), kite)
    assert live.state() == (SessionState.ACTIVE, "active") and live.active() is kite


def test_a_token_kite_refused_needs_a_login_and_says_why(kite: KiteCaller) -> None:
    refused = session(Clock(), kite)
    refused.token_refused("Incorrect `api_key` or `access_token`.")
    state, detail = refused.state()
    assert state is SessionState.NEEDS_LOGIN and "Incorrect `api_key`" in detail and "log in again" in detail
    refused.token_refused("")
    assert "(TokenException)" in refused.state()[1]


def test_a_token_expires_at_its_expiry_by_the_sessions_clock(kite: KiteCaller) -> None:
    clock = Clock()
    expiring = session(clock, kite)
    clock.now = EXPIRY - timedelta(microseconds=1)
    assert expiring.state()[0] is SessionState.ACTIVE
    clock.now = EXPIRY
    assert expiring.state() == (SessionState.NEEDS_LOGIN, "access token expired at 2026-03-03 06:00 IST; log in again")


def test_kite_failing_puts_a_session_in_error_which_still_hands_out_its_caller(kite: KiteCaller) -> None:
    failing = session(Clock(), kite)
    failing.error = "Kite keeps failing"
    assert failing.state() == (SessionState.ERROR, "Kite keeps failing") and failing.active() is kite


def test_a_refused_token_outranks_an_error(kite: KiteCaller) -> None:
    both = session(Clock(), kite)
    both.error = "Kite keeps failing"
    both.token_refused("refused")
    assert both.state()[0] is SessionState.NEEDS_LOGIN


@pytest.mark.parametrize("why", ["no token", "refused", "expired"])
def test_a_session_that_needs_a_login_refuses_to_hand_out_a_caller_and_says_what_to_do(
    kite: KiteCaller, why: str
) -> None:
    clock = Clock()
    needing = session(clock, None if why == "no token" else kite)
    if why == "refused":
        needing.token_refused("refused")
    if why == "expired":
        clock.now = EXPIRY + timedelta(hours=1)
    with pytest.raises(GatewayError) as caught:
        needing.active()
    assert (caught.value.code, caught.value.reason) == (Status.UNAUTHENTICATED, Reason.ACCOUNT_NEEDS_LOGIN)
    assert caught.value.metadata == {"account_id": "AB1234"} and "GetLoginUrl" in caught.value.message
