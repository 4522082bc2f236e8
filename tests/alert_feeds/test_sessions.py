"""Session events, polled: each account's state, its token's expiry and the login URL GetLoginUrl
would give, every `interval` seconds (the sleep is injected: no real waiting); a look that fails
does not end the loop."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from kite_gateway.alert_feeds import SessionAlerts
from kite_gateway.core.accounts import AccountSession
from kite_gateway.core.alerts import SessionEvent, SessionStatus
from tests.alert_feeds.accounts import accounts_of, session
from tests.alert_feeds.fakes import NOW, Broken, Recorder


class Steps:
    """A sleep that records how long it was asked for and ends the loop after `rounds` of them."""

    def __init__(self, rounds: int) -> None:
        self.asked: list[float] = []
        self.rounds = rounds

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        if len(self.asked) >= self.rounds:
            raise asyncio.CancelledError


async def test_each_account_is_told_with_its_state_expiry_and_the_gateways_login_url() -> None:
    expired = session("ZS0003", expires_in=timedelta(minutes=-1))
    failing = session("ZS0004")
    failing.error = "Kite answers 500"
    accounts = accounts_of(session("ZS0001"), session("ZS0002", token=None), expired, failing)
    recorder = Recorder()
    SessionAlerts(accounts, recorder).look()
    url = accounts.login_url("key-ZS0001", {})
    assert recorder.events[0] == SessionEvent("ZS0001", SessionStatus.ACTIVE, NOW + timedelta(hours=8), url, NOW)
    assert [(e.account_id, e.state, e.expires_at is None) for e in recorder.events] == [  # type: ignore[union-attr]
        ("ZS0001", SessionStatus.ACTIVE, False),
        ("ZS0002", SessionStatus.NEEDS_LOGIN, True),  # no token: no expiry to speak of
        ("ZS0003", SessionStatus.NEEDS_LOGIN, False),
        ("ZS0004", SessionStatus.ERROR, False),
    ]
    assert all(e.login_url == accounts.login_url(f"key-{e.account_id}", {}) for e in recorder.events)  # type: ignore[union-attr]
    assert url.startswith("https://kite.example/connect/login?")


async def test_the_loop_looks_at_once_then_every_interval_until_cancelled() -> None:
    recorder, steps = Recorder(), Steps(rounds=3)
    alerts = SessionAlerts(accounts_of(session("ZS0001")), recorder, sleep=steps, interval=30.0)
    with pytest.raises(asyncio.CancelledError):
        await alerts.run()
    assert steps.asked == [30.0, 30.0, 30.0] and len(recorder.events) == 3


async def test_a_look_that_fails_is_logged_and_the_next_one_comes_on_time() -> None:
    accounts = accounts_of(session("ZS0001"))
    steps, recorder, looks = Steps(rounds=2), Recorder(), 0

    def sometimes() -> list[AccountSession]:
        nonlocal looks
        looks += 1
        if looks == 1:
            raise RuntimeError("the accounts are being reloaded")
        return [accounts.sessions["ZS0001"]]

    accounts.all = sometimes  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await SessionAlerts(accounts, recorder, sleep=steps).run()
    assert looks == 2 and len(recorder.events) == 1 and steps.asked == [30.0, 30.0]


async def test_an_alert_center_that_raises_does_not_end_the_loop() -> None:
    broken, steps = Broken(), Steps(rounds=2)
    with pytest.raises(asyncio.CancelledError):
        await SessionAlerts(accounts_of(session("ZS0001")), broken, sleep=steps).run()
    assert broken.calls == 2


async def test_clustered_a_replica_tells_only_the_sessions_of_the_accounts_it_owns() -> None:
    recorder = Recorder()
    alerts = SessionAlerts(accounts_of(session("ZS0001"), session("ZS0002")), recorder)
    alerts.owns = {"ZS0002"}.__contains__
    alerts.look()
    assert [e.account_id for e in recorder.events] == ["ZS0002"]  # type: ignore[union-attr]
