"""Caller authentication (bearer tokens -> principals) and per-account authorization."""

from kite_gateway.auth.policy import authorize, authorize_kill_switch
from kite_gateway.auth.principals import (
    AuthConfigError,
    Principals,
    anonymous_name,
    current_principal,
    load_principals,
    new_token,
    token_digest,
    unrestricted,
)

__all__ = [
    "AuthConfigError",
    "Principals",
    "anonymous_name",
    "authorize",
    "authorize_kill_switch",
    "current_principal",
    "load_principals",
    "new_token",
    "token_digest",
    "unrestricted",
]
