"""Kite's static-IP rule for orders (SEBI's retail-algo framework, enforced by Zerodha from
2026-04-01): the order endpoints (place, modify, cancel) accept requests only from an IP registered
for the developer account (developers.kite.trade -> Profile -> IP Whitelist; one IP, or a primary and
a secondary, for every app of that developer account). Everything else (the order book, positions,
market data, the WebSocket) stays open from any IP.

Sources (../shared/kite-alerts-and-rules.md section 2): the endpoints checked are Zerodha staff's
word (kite.trade forum 15912, comment 52125); the refusal's text is as a user reported it,
"IP (<address>) is not allowed" (github.com/hopit-ai/india-trade-cli issue 127), its `error_type`
and HTTP status are not documented (PermissionException with 403 is this module's assumption,
which the gateway does not rely on: it recognises the refusal by its text)."""

from __future__ import annotations

import re

from kite_wire.errors import KiteErrorType

IP_NOT_ALLOWED_ERROR_TYPE = KiteErrorType.PERMISSION
IP_NOT_ALLOWED_HTTP_STATUS = 403
WHITELIST_PAGE = "developers.kite.trade -> Profile -> IP Whitelist"

_CHECKED_METHODS = frozenset({"POST", "PUT", "DELETE"})
_REFUSAL = re.compile(r"\bIP \(([^)]*)\) is not allowed", re.IGNORECASE)


def ip_checked(method: str, path: str) -> bool:
    """Whether Kite checks the source IP of this request: placing (POST /orders/{variety}),
    modifying (PUT) and cancelling (DELETE /orders/{variety}/{order_id}) an order."""
    return method.upper() in _CHECKED_METHODS and path.startswith("/orders/")


def ip_not_allowed(address: str) -> str:
    """Kite's refusal of an order request from an address not registered for its developer account."""
    return f"IP ({address}) is not allowed"


def refused_ip(message: str) -> str | None:
    """The address a Kite refusal says is not registered ("" when it names none), or None when the
    message is not an IP refusal."""
    found = _REFUSAL.search(message)
    if found:
        return found.group(1).strip()
    lowered = message.lower()
    if "ip" in lowered.split() and ("whitelist" in lowered or "not registered" in lowered):
        return ""
    return None
