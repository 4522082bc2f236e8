"""Kite accounts served by the gateway: their sessions and how they log in."""

from kite_gateway.core.accounts.manager import LOGIN_API_KEY_PARAM, AccountManager
from kite_gateway.core.accounts.session import AccountSession, SessionState

__all__ = ["LOGIN_API_KEY_PARAM", "AccountManager", "AccountSession", "SessionState"]
