"""Caller authentication (bearer tokens -> principals) and per-account authorization."""

from kite_gateway.auth.policy import (
    accounts_named,
    authorize,
    authorize_kill_switch,
    authorize_read,
    authorize_trade,
)
from kite_gateway.auth.principals import (
    AuthConfigError,
    Principal,
    Principals,
    anonymous_name,
    current_principal,
    load_principals,
    new_token,
    token_digest,
    unauthenticated,
    unrestricted,
)

__all__ = [
    "AuthConfigError",
    "Principal",
    "Principals",
    "accounts_named",
    "anonymous_name",
    "authorize",
    "authorize_kill_switch",
    "authorize_read",
    "authorize_trade",
    "current_principal",
    "load_principals",
    "new_token",
    "token_digest",
    "unauthenticated",
    "unrestricted",
]
