"""AccountManager's login flow as a unit, over a fake of Kite's user endpoints and a real sealed
credential store: the session exchange signed with the app's secret (given once, then stored), the
token's expiry at the next 06:00 IST, accounts added from a token checked by their profile, removal
that logs the token out, and the one rate bucket logins of unknown apps share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from kite_gateway.core.accounts.manager import NEW_APP, AccountManager, UserApi
from kite_gateway.core.accounts.session import SessionState
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.caller import KiteCaller, KiteConnector
from kite_gateway.kite.limits import EndpointClass, RateLimits
from kite_gateway.kite.user import KiteLogin, MarginSegment, Profile, UserMargins
from kite_gateway.storage.credentials import CredentialStore
from kite_gateway.storage.sealing import Sealer
from kite_gateway.storage.sqlite import SqliteDatabase
from kite_wire.formats import IST

NOW = datetime(2026, 3, 2, 9, 15, tzinfo=IST)
PROFILE = Profile("AB1234", "A Trader", "A", "individual", "a@example.com", "ZERODHA", ("NSE",), (), (), "", "")


@dataclass
class FakeKite:
    """Kite's user endpoints as the manager sees them; every call is logged with the caller's token."""

    calls: list[tuple[str, ...]] = field(default_factory=list)
    refuse: GatewayError | None = None
    login_time: datetime | None = NOW

    def users(self, kite: KiteCaller) -> UserApi:
        return FakeUser(self, kite)


@dataclass
class FakeUser:
    fake: FakeKite
    kite: KiteCaller

    async def _call(self, *call: str) -> None:
        await self.kite.acquire(EndpointClass.OTHER)  # as KiteCaller would, so the bucket is visible
        self.fake.calls.append((*call, self.kite.api_key, self.kite.access_token))
        if self.fake.refuse is not None:
            raise self.fake.refuse

    async def generate_session(self, request_token: str, api_secret: str) -> KiteLogin:
        await self._call("generate_session", request_token, api_secret)
        return KiteLogin("AB1234", "A Trader", f"token-for-{request_token}", self.fake.login_time)

    async def profile(self) -> Profile:
        await self._call("profile")
        return PROFILE

    async def margins(self, segment: MarginSegment | None = None) -> UserMargins:
        await self._call("margins")
        return UserMargins()

    async def invalidate_access_token(self) -> None:
        await self._call("invalidate_access_token")


@dataclass
class Accounts:
    manager: AccountManager
    kite: FakeKite
    limits: RateLimits
    credentials: CredentialStore

    def reopened(self) -> AccountManager:
        return AccountManager(self.credentials, self.manager.connector, "https://kite.example", lambda: NOW)


@pytest.fixture
async def accounts(tmp_path: Path) -> AsyncIterator[Accounts]:
    database = SqliteDatabase(tmp_path / "gateway.db")
    await database.open()
    credentials = CredentialStore(database, Sealer(Sealer.generate_key()))
    limits = RateLimits(1000, 100)
    kite = FakeKite()
    with ThreadPoolExecutor(max_workers=1) as executor:
        connector = KiteConnector(executor, limits, "http://127.0.0.1:9", 1.0, 0)
        manager = AccountManager(credentials, connector, "https://kite.example", lambda: NOW, kite.users)
        yield Accounts(manager, kite, limits, credentials)
    await database.close()


async def test_a_login_exchanges_the_request_token_with_the_apps_secret_and_activates_the_account(
    accounts: Accounts,
) -> None:
    session = await accounts.manager.complete_login("app_key", "rt1", "secret")
    assert accounts.kite.calls == [("generate_session", "rt1", "secret", "app_key", "")]
    assert (session.account_id, session.user_name, session.state()[0]) == ("AB1234", "A Trader", SessionState.ACTIVE)
    assert session.active().access_token == "token-for-rt1" and session.login_time == NOW
    assert session.token_expires_at == datetime(2026, 3, 3, 6, 0, tzinfo=IST)  # the next 06:00 IST
    assert accounts.manager.get("AB1234") is session


async def test_the_apps_secret_is_given_once_and_then_read_from_the_store(accounts: Accounts) -> None:
    await accounts.manager.complete_login("app_key", "rt1", "secret")
    await accounts.manager.complete_login("app_key", "rt2")
    assert accounts.kite.calls[1][:3] == ("generate_session", "rt2", "secret")


async def test_a_login_of_an_app_without_a_known_secret_asks_for_it_before_calling_kite(accounts: Accounts) -> None:
    with pytest.raises(GatewayError) as caught:
        await accounts.manager.complete_login("app_key", "rt1")
    assert caught.value.field_violations == [
        ("api_secret", "required: the gateway has no api_secret for api_key app_key yet")
    ]
    assert accounts.kite.calls == []


async def test_a_login_kite_refuses_leaves_no_account_and_no_stored_secret(accounts: Accounts) -> None:
    accounts.kite.refuse = GatewayError(Status.UNAUTHENTICATED, Reason.ACCOUNT_NEEDS_LOGIN, "single-use")
    with pytest.raises(GatewayError):
        await accounts.manager.complete_login("app_key", "used", "secret")
    assert accounts.manager.all() == [] and await accounts.credentials.app_secret("app_key") is None


async def test_a_login_without_a_time_from_kite_is_timed_by_the_managers_clock(accounts: Accounts) -> None:
    accounts.kite.login_time = None
    assert (await accounts.manager.complete_login("app_key", "rt1", "secret")).login_time == NOW


async def test_logins_of_unknown_apps_share_one_bucket_and_a_known_apps_wait_in_its_own(accounts: Accounts) -> None:
    await accounts.manager.complete_login("app_key", "rt1", "secret")
    await accounts.manager.complete_login("app_key", "rt2")
    assert set(accounts.limits._limiters) == {(NEW_APP, EndpointClass.OTHER), ("app_key", EndpointClass.OTHER)}


async def test_an_account_added_from_a_token_is_checked_by_its_profile(accounts: Accounts) -> None:
    session = await accounts.manager.add_account("app_key", "outside-token", "secret")
    assert accounts.kite.calls == [("profile", "app_key", "outside-token")]
    assert (session.account_id, session.active().access_token) == ("AB1234", "outside-token")


async def test_a_stored_account_comes_back_active_with_its_token_after_a_restart(accounts: Accounts) -> None:
    await accounts.manager.complete_login("app_key", "rt1", "secret")
    again = accounts.reopened()
    await again.load()
    restored = again.get("AB1234")
    assert restored.state()[0] is SessionState.ACTIVE and restored.active().access_token == "token-for-rt1"


async def test_removing_with_invalidation_logs_the_token_out_and_a_failed_logout_still_removes(
    accounts: Accounts,
) -> None:
    await accounts.manager.complete_login("app_key", "rt1", "secret")
    accounts.kite.refuse = GatewayError(Status.UNAVAILABLE, Reason.KITE_UNAVAILABLE, "down")
    await accounts.manager.remove("AB1234", invalidate_token=True)
    assert accounts.kite.calls[-1] == ("invalidate_access_token", "app_key", "token-for-rt1")
    assert accounts.manager.all() == [] and await accounts.credentials.accounts() == []
    with pytest.raises(GatewayError) as caught:
        accounts.manager.get("AB1234")
    assert caught.value.reason == Reason.ACCOUNT_NOT_FOUND


async def test_the_profile_is_asked_of_kite_once_an_hour(accounts: Accounts) -> None:
    session = await accounts.manager.complete_login("app_key", "rt1", "secret")
    assert await accounts.manager.profile(session) == await accounts.manager.profile(session) == PROFILE
    assert [call[0] for call in accounts.kite.calls].count("profile") == 1


async def test_a_replica_takes_in_a_login_removal_and_logout_stored_by_another_replica(accounts: Accounts) -> None:
    other = AccountManager(
        accounts.credentials, accounts.manager.connector, "https://kite.example", lambda: NOW, accounts.kite.users
    )
    await other.load()
    await accounts.manager.complete_login("app_key", "rt1", "secret")
    assert await other.refresh() == {"AB1234"}
    assert other.get("AB1234").active().access_token == "token-for-rt1"
    assert await other.refresh() == set()  # nothing new: the session (and its caller) is kept
    accounts.kite.login_time = datetime(2026, 3, 2, 10, 0, tzinfo=IST)
    await accounts.manager.complete_login("app_key", "rt2")
    assert await other.refresh() == {"AB1234"}
    assert other.get("AB1234").active().access_token == "token-for-rt2"
    await accounts.credentials.forget_token("AB1234")
    assert await other.refresh() == {"AB1234"} and other.get("AB1234").state()[0] is SessionState.NEEDS_LOGIN
    await accounts.manager.remove("AB1234", invalidate_token=False)
    assert await other.refresh() == {"AB1234"} and other.all() == []
