"""Accounts for the feeds' tests: an AccountManager holding sessions made here (no credentials, no
Kite), each ACTIVE unless told otherwise."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import cast

from kite_gateway.core.accounts import AccountManager, AccountSession
from kite_gateway.kite import KiteCaller, KiteConnector
from kite_gateway.storage import CredentialStore
from tests.alert_feeds.fakes import NOW, clock

LOGIN_ENDPOINT = "https://kite.example"


def caller(token: str) -> KiteCaller:
    return cast(KiteCaller, SimpleNamespace(client=SimpleNamespace(access_token=token)))


def session(account_id: str, token: str | None = "token", expires_in: timedelta = timedelta(hours=8)) -> AccountSession:
    return AccountSession(
        account_id=account_id,
        api_key=f"key-{account_id}",
        user_name=account_id,
        paper=False,
        create_time=NOW - timedelta(days=1),
        login_time=NOW - timedelta(hours=1),
        token_expires_at=NOW + expires_in,
        kite=caller(f"{token}-{account_id}") if token else None,
        clock=clock,
    )


def accounts_of(*sessions: AccountSession, now: datetime = NOW) -> AccountManager:
    manager = AccountManager(cast(CredentialStore, None), cast(KiteConnector, None), LOGIN_ENDPOINT, now=lambda: now)
    manager.sessions = {s.account_id: s for s in sessions}
    return manager
