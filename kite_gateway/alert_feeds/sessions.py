"""Session alerts' events: every `interval` seconds, each account's session (AccountManager) as a
SessionEvent: ACTIVE, NEEDS_LOGIN or ERROR, when its token expires, and the login URL a person
follows to log in again (AccountManager.login_url, as AccountService.GetLoginUrl builds it). The
engine fires on the change (a session needing a login) and on time (a token about to expire)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from kite_gateway.alert_feeds.outlet import Emit, Outlet
from kite_gateway.alert_feeds.polling import DEFAULT_INTERVAL, Sleep, every
from kite_gateway.core.accounts import AccountManager, AccountSession
from kite_gateway.core.alerts import SessionEvent, SessionStatus
from kite_gateway.errors import GatewayError


class SessionAlerts:
    """Wire: `SessionAlerts(app.accounts, center.offer)`, and run `run()` as a task (cancel it to stop)."""

    def __init__(
        self,
        accounts: AccountManager,
        emit: Emit,
        clock: Callable[[], datetime] | None = None,
        sleep: Sleep = asyncio.sleep,
        interval: float = DEFAULT_INTERVAL,
        redirect_params: dict[str, str] | None = None,
    ) -> None:
        """`clock`: default the accounts' (the one deciding token expiry); `redirect_params`: what
        the login URL carries back to the callback (as GetLoginUrl's)."""
        self.accounts = accounts
        self.emit = Outlet(emit)
        self.clock = clock or accounts.now
        self.sleep = sleep
        self.interval = interval
        self.redirect_params = dict(redirect_params or {})
        self.owns: Callable[[str], bool] | None = None  # clustered: only the accounts this replica owns

    async def run(self) -> None:
        await every(self.interval, self.sleep, self.look, "sessions")

    def look(self) -> None:
        now = self.clock()
        for session in self.accounts.all():
            if self.owns is None or self.owns(session.account_id):
                self.emit(self.event(session, now))

    def event(self, session: AccountSession, now: datetime) -> SessionEvent:
        state, _detail = session.state()
        return SessionEvent(
            account_id=session.account_id,
            state=SessionStatus(state.value),
            expires_at=session.token_expires_at if session.kite is not None else None,
            login_url=self._login_url(session),
            at=now,
        )

    def _login_url(self, session: AccountSession) -> str:
        try:
            return self.accounts.login_url(session.api_key, self.redirect_params)
        except GatewayError:  # an account stored without its app's api_key: nothing to follow
            return ""
