"""All accounts of the gateway: loaded from storage at start, added by login or token, removed."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urlencode

import structlog

from kite_gateway.core.accounts.session import PROFILE_TTL_SECONDS, AccountSession
from kite_gateway.errors import GatewayError, Reason, Status, invalid
from kite_gateway.kite import KiteCaller, KiteConnector, KiteLogin, KiteUser, MarginSegment, Profile, UserMargins
from kite_gateway.storage import CredentialStore, StoredAccount
from kite_wire import IST

NEW_APP = "(an app without accounts yet)"  # the rate-limit bucket of login calls for new apps
LOGIN_API_KEY_PARAM = "kg_api_key"  # echoed back by Kite's redirect, so the callback knows the app


def next_token_expiry(login: datetime) -> datetime:
    """Kite tokens die at 06:00 IST after login."""
    local = login.astimezone(IST)
    expiry = local.replace(hour=6, minute=0, second=0, microsecond=0)
    return expiry if expiry > local else expiry + timedelta(days=1)


class UserApi(Protocol):
    """What accounts ask of Kite's user endpoints (kite_gateway.kite.user.KiteUser)."""

    async def generate_session(self, request_token: str, api_secret: str) -> KiteLogin: ...

    async def profile(self) -> Profile: ...

    async def margins(self, segment: MarginSegment | None = None) -> UserMargins: ...

    async def invalidate_access_token(self) -> None: ...


class AccountManager:
    """`connector` makes the Kite callers of accounts and of logins; `users` the user endpoints over one."""

    def __init__(
        self,
        credentials: CredentialStore,
        connector: KiteConnector,
        login_endpoint: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        users: Callable[[KiteCaller], UserApi] = KiteUser,
    ) -> None:
        self.credentials = credentials
        self.connector = connector
        self.login_endpoint = login_endpoint
        self.now = now
        self.users = users
        self.sessions: dict[str, AccountSession] = {}
        self.paper = False
        self.log = structlog.get_logger(__name__)

    # Lifecycle --------------------------------------------------------------------------------

    async def load(self) -> None:
        for stored in await self.credentials.accounts():
            self.sessions[stored.account_id] = self._session(stored)
        self.log.info("accounts.loaded", accounts=sorted(self.sessions))

    async def refresh(self) -> set[str]:
        """Take in what other replicas stored since (clustered mode: accounts added, logged in again
        or removed through another replica); returns the account ids whose session changed."""
        stored = {account.account_id: account for account in await self.credentials.accounts()}
        changed = {account_id for account_id in self.sessions if account_id not in stored}
        for account_id in changed:
            del self.sessions[account_id]
        for account_id, account in stored.items():
            session = self.sessions.get(account_id)
            held = session.kite.access_token if session is not None and session.kite is not None else ""
            if (  # a new token counts even with the same login_time (two logins within one second)
                session is None or session.login_time != account.login_time or held != (account.access_token or "")
            ):
                self.sessions[account_id] = self._session(account)
                changed.add(account_id)
        if changed:
            self.log.info("accounts.refreshed", changed=sorted(changed))
        return changed

    def _session(self, stored: StoredAccount) -> AccountSession:
        session = AccountSession(
            account_id=stored.account_id,
            api_key=stored.api_key,
            user_name=stored.user_name,
            paper=stored.paper,
            create_time=stored.created_at,
            login_time=stored.login_time,
            token_expires_at=stored.token_expires_at,
            clock=self.now,
        )
        if stored.access_token:
            session.kite = self._caller(session, stored.access_token)
        return session

    def _caller(self, session: AccountSession, access_token: str) -> KiteCaller:
        def refused(message: str) -> None:
            session.token_refused(message)
            self.log.warning("account.token_refused", account_id=session.account_id, kite_message=message)

        return self.connector.caller(session.account_id, session.api_key, access_token, refused)

    def _app(self, api_key: str, access_token: str | None = None) -> UserApi:
        """The user endpoints for an app's login, or for a token whose account is not known yet."""
        # An app no account uses yet shares one bucket: a limiter per api_key a caller names would be
        # kept forever, one for every made-up key.
        known = any(session.api_key == api_key for session in self.sessions.values())
        return self.users(self.connector.caller("", api_key, access_token, bucket=None if known else NEW_APP))

    # Lookups ----------------------------------------------------------------------------------

    def get(self, account_id: str) -> AccountSession:
        if not account_id:
            raise invalid("account_id", "required: the Kite user id of the account, e.g. AB1234")
        session = self.sessions.get(account_id)
        if session is None:
            raise GatewayError(
                Status.NOT_FOUND,
                Reason.ACCOUNT_NOT_FOUND,
                f"no account {account_id} in this gateway; add it with AccountService.AddAccount or CompleteLogin",
                {"account_id": account_id},
            )
        return session

    def all(self) -> list[AccountSession]:
        return [self.sessions[k] for k in sorted(self.sessions)]

    # Logging in -------------------------------------------------------------------------------

    def login_url(self, api_key: str, redirect_params: dict[str, str]) -> str:
        if not api_key:
            raise invalid("api_key", "required: the Kite Connect app's api_key")
        echoed = urlencode({**redirect_params, LOGIN_API_KEY_PARAM: api_key})
        query = urlencode({"v": "3", "api_key": api_key, "redirect_params": echoed})
        return f"{self.login_endpoint}/connect/login?{query}"

    async def _secret(self, api_key: str, api_secret: str) -> str:
        if api_secret:
            return api_secret
        stored = await self.credentials.app_secret(api_key)
        if stored is None:
            raise invalid("api_secret", f"required: the gateway has no api_secret for api_key {api_key} yet")
        return stored

    async def complete_login(
        self, api_key: str, request_token: str, api_secret: str = "", paper: bool = False
    ) -> AccountSession:
        """Kite's session exchange (signed with the app's secret), then store and activate the account."""
        if not api_key:
            raise invalid("api_key", "required: the app the login was made with")
        if not request_token:
            raise invalid("request_token", "required: the request_token from Kite's login redirect")
        secret = await self._secret(api_key, api_secret)
        login = await self._app(api_key).generate_session(request_token, secret)
        if api_secret:
            await self.credentials.save_app(api_key, api_secret)
        return await self._activate(
            api_key, login.user_id, login.user_name, login.access_token, login.login_time or self.now(), paper
        )

    async def add_account(self, api_key: str, access_token: str, api_secret: str = "") -> AccountSession:
        """An account from an access token obtained elsewhere, checked by fetching its profile."""
        if not api_key:
            raise invalid("api_key", "required: the app the access token was issued to")
        if not access_token:
            raise invalid("access_token", "required: a valid Kite access token")
        profile = await self._app(api_key, access_token).profile()
        if api_secret:
            await self.credentials.save_app(api_key, api_secret)
        elif await self.credentials.app_secret(api_key) is None:
            raise invalid("api_secret", f"required: the gateway has no api_secret for api_key {api_key} yet")
        return await self._activate(api_key, profile.user_id, profile.user_name, access_token, self.now(), False)

    async def _activate(
        self, api_key: str, account_id: str, user_name: str, access_token: str, login: datetime, paper: bool
    ) -> AccountSession:
        expires = next_token_expiry(login)
        await self.credentials.save_account(account_id, api_key, user_name, access_token, login, expires, paper)
        previous = self.sessions.get(account_id)
        session = AccountSession(
            account_id=account_id,
            api_key=api_key,
            user_name=user_name,
            paper=paper,
            create_time=previous.create_time if previous else self.now(),
            login_time=login,
            token_expires_at=expires,
            clock=self.now,
        )
        session.kite = self._caller(session, access_token)
        self.sessions[account_id] = session
        self.log.info("account.logged_in", account_id=account_id, api_key=api_key, paper=paper)
        return session

    async def remove(self, account_id: str, invalidate_token: bool) -> None:
        session = self.get(account_id)
        if invalidate_token and session.kite is not None:
            try:
                await self.users(session.kite).invalidate_access_token()
            except GatewayError as exc:
                kind = exc.metadata.get("kite_error_type") or exc.metadata.get("transport_error") or exc.reason.name
                self.log.warning("account.logout_failed", account_id=account_id, error=kind)
        await self.credentials.remove_account(account_id)
        del self.sessions[account_id]
        self.log.info("account.removed", account_id=account_id, invalidated=invalidate_token)

    async def app_secret_of(self, account_id: str) -> str | None:
        """The api_secret of the app an account belongs to (None for an unknown account or app)."""
        session = self.sessions.get(account_id)
        return await self.credentials.app_secret(session.api_key) if session else None

    # The account's own data -------------------------------------------------------------------

    async def profile(self, session: AccountSession) -> Profile:
        """The profile, cached for an hour."""
        cached = session.profile_cache
        if cached is not None and time.monotonic() - cached[0] < PROFILE_TTL_SECONDS:
            return cached[1]
        profile = await self.users(session.active()).profile()
        session.profile_cache = (time.monotonic(), profile)
        return profile

    async def margins(self, session: AccountSession, segment: MarginSegment | None = None) -> UserMargins:
        """The account's margins, of one segment or (None) of both."""
        return await self.users(session.active()).margins(segment)
