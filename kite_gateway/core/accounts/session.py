"""One Kite account's session: whether the gateway can act for it, and its Kite caller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite import KiteCaller, Profile
from kite_wire import IST

PROFILE_TTL_SECONDS = 3600.0


class SessionState(Enum):
    """Whether the gateway can act for an account."""

    ACTIVE = "active"
    NEEDS_LOGIN = "needs_login"  # no token, a token Kite refused, or an expired one
    ERROR = "error"  # the token is good but Kite keeps failing


@dataclass
class AccountSession:
    """An account, its token's lifetime and state; `kite` is set while it has a token."""

    account_id: str
    api_key: str
    user_name: str
    paper: bool
    create_time: datetime
    login_time: datetime | None = None
    token_expires_at: datetime | None = None
    kite: KiteCaller | None = None
    refused: str | None = None  # why Kite last refused the token
    error: str | None = None
    profile_cache: tuple[float, Profile] | None = field(default=None, repr=False)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False)

    def state(self) -> tuple[SessionState, str]:
        """(SessionState, detail in words) by the session's clock."""
        now = self.clock()
        if self.kite is None:
            return SessionState.NEEDS_LOGIN, "no access token; log in to Kite for this account"
        if self.refused is not None:
            return (
                SessionState.NEEDS_LOGIN,
                f"Kite refused the access token ({self.refused}); log in again",
            )
        if self.token_expires_at is not None and now >= self.token_expires_at:
            when = self.token_expires_at.astimezone(IST).strftime("%Y-%m-%d %H:%M IST")
            return SessionState.NEEDS_LOGIN, f"access token expired at {when}; log in again"
        if self.error is not None:
            return SessionState.ERROR, self.error
        return SessionState.ACTIVE, "active"

    def active(self) -> KiteCaller:
        """The Kite caller, or UNAUTHENTICATED with what to do when the account needs a login."""
        state, detail = self.state()
        if state == SessionState.NEEDS_LOGIN or self.kite is None:
            raise GatewayError(
                Status.UNAUTHENTICATED,
                Reason.ACCOUNT_NEEDS_LOGIN,
                f"account {self.account_id} needs a new Kite login: {detail}. Use AccountService.GetLoginUrl and "
                "CompleteLogin, or AddAccount with a fresh access token.",
                {"account_id": self.account_id},
            )
        return self.kite

    def token_refused(self, message: str) -> None:
        self.refused = message or "TokenException"
