"""Kite Connect apps, users and their sessions: request tokens, access tokens, expiry, logout.

As Kite does it: a login issues a single-use request_token valid for a few minutes; the app
exchanges it at `POST /session/token` with sha256(api_key + request_token + api_secret); the
access token lasts until 06:00 IST the next morning or until logout.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from kite_simulator.clock import Clock
from kite_simulator.errors import KiteError, input_error, permission_error, token_error
from kite_wire import IST, checksums_match, session_checksum

REQUEST_TOKEN_LIFETIME = timedelta(minutes=5)
TOKEN_EXPIRY_TIME = time(6, 0)


@dataclass
class App:
    """A Kite Connect app."""

    api_key: str
    api_secret: str
    app_id: int
    redirect_url: str = ""
    postback_url: str = ""


@dataclass
class User:
    """A Kite user (one trading account)."""

    user_id: str
    user_name: str
    email: str
    password: str = ""
    exchanges: tuple[str, ...] = ("BSE", "BFO", "CDS", "MCX", "NSE", "NFO", "BCD")
    products: tuple[str, ...] = ("CNC", "NRML", "MIS", "MTF")
    order_types: tuple[str, ...] = ("MARKET", "LIMIT", "SL", "SL-M")

    @property
    def shortname(self) -> str:
        return self.user_name.split()[0]


@dataclass
class Session:
    """A logged-in session of one user through one app."""

    user_id: str
    api_key: str
    access_token: str
    public_token: str
    login_time: datetime
    expires_at: datetime
    valid: bool = True


@dataclass
class _RequestToken:
    user_id: str
    api_key: str
    issued_at: datetime
    used: bool = False


def next_expiry(moment: datetime) -> datetime:
    """06:00 IST after `moment`."""
    local = moment.astimezone(IST)
    expiry = datetime.combine(local.date(), TOKEN_EXPIRY_TIME, IST)
    return expiry if expiry > local else expiry + timedelta(days=1)


@dataclass
class SessionStore:
    """Apps, users, request tokens and access tokens."""

    clock: Clock
    apps: dict[str, App] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    _request_tokens: dict[str, _RequestToken] = field(default_factory=dict)
    _sessions: dict[str, Session] = field(default_factory=dict)

    def add_app(self, app: App) -> App:
        self.apps[app.api_key] = app
        return app

    def add_user(self, user: User) -> User:
        self.users[user.user_id] = user
        return user

    def login(self, api_key: str, user_id: str, password: str | None = None) -> str:
        """A user logs in on the login page; returns the request_token for the redirect."""
        if api_key not in self.apps:
            raise input_error("Invalid `api_key`.")
        user = self.users.get(user_id)
        if user is None or (password is not None and user.password and password != user.password):
            raise input_error("Invalid `user_id` or `password`.")
        token = secrets.token_urlsafe(24)
        self._request_tokens[token] = _RequestToken(user_id, api_key, self.clock.now())
        return token

    def exchange(self, api_key: str, request_token: str, checksum: str) -> Session:
        """`POST /session/token`: a request_token and its checksum for an access token."""
        app = self.apps.get(api_key)
        if app is None:
            raise input_error("Invalid `api_key`.")
        grant = self._request_tokens.get(request_token)
        now = self.clock.now()
        if grant is None or grant.used or grant.api_key != api_key or now - grant.issued_at > REQUEST_TOKEN_LIFETIME:
            raise token_error("Token is invalid or has expired.")
        if not checksums_match(session_checksum(api_key, request_token, app.api_secret), checksum):
            raise token_error("Invalid checksum.")
        grant.used = True
        session = Session(
            user_id=grant.user_id,
            api_key=api_key,
            access_token=secrets.token_urlsafe(24),
            public_token=secrets.token_urlsafe(16),
            login_time=now,
            expires_at=next_expiry(now),
        )
        self._sessions[session.access_token] = session
        return session

    def issue(self, api_key: str, user_id: str) -> Session:
        """A session created directly (what a completed login yields), for fixtures and paper mode."""
        return self.exchange(
            api_key,
            token := self.login(api_key, user_id),
            session_checksum(api_key, token, self.apps[api_key].api_secret),
        )

    def authenticate(self, api_key: str, access_token: str) -> Session:
        """The session behind an `Authorization: token api_key:access_token` header."""
        session = self._sessions.get(access_token)
        if session is None or session.api_key != api_key or not session.valid:
            raise token_error()
        if self.clock.now() >= session.expires_at:
            session.valid = False
            raise token_error("Token is invalid or has expired.")
        return session

    def invalidate(self, api_key: str, access_token: str) -> None:
        """`DELETE /session/token` (logout)."""
        session = self._sessions.get(access_token)
        if session is None or session.api_key != api_key:
            raise token_error()
        session.valid = False

    def app_of(self, api_key: str) -> App:
        app = self.apps.get(api_key)
        if app is None:
            raise permission_error("Invalid `api_key`.")
        return app

    def live_sessions(self, user_id: str) -> list[Session]:
        now = self.clock.now()
        return [s for s in self._sessions.values() if s.user_id == user_id and s.valid and now < s.expires_at]


__all__ = ["App", "KiteError", "Session", "SessionStore", "User", "next_expiry"]
