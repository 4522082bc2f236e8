"""Kite's errors as data: the `error_type`s of its error envelope, the HTTP status each travels with,
and the pure rules of which failures leave a write's outcome unknown and which reads are worth retrying."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class KiteErrorType(StrEnum):
    """Kite's `error_type`s (the official Python client raises an exception class of each name, but
    folds MarginException, HoldingException and UserException into GeneralException)."""

    TOKEN = "TokenException"
    INPUT = "InputException"
    ORDER = "OrderException"
    MARGIN = "MarginException"
    HOLDING = "HoldingException"
    PERMISSION = "PermissionException"
    USER = "UserException"
    NETWORK = "NetworkException"
    DATA = "DataException"
    GENERAL = "GeneralException"


# The HTTP status each error type usually travels with (429 is a NetworkException; 404 a GeneralException).
HTTP_STATUS: Mapping[KiteErrorType, int] = MappingProxyType(
    {
        KiteErrorType.TOKEN: 403,
        KiteErrorType.INPUT: 400,
        KiteErrorType.ORDER: 400,
        KiteErrorType.MARGIN: 400,
        KiteErrorType.HOLDING: 400,
        KiteErrorType.PERMISSION: 403,
        KiteErrorType.USER: 403,
        KiteErrorType.NETWORK: 503,
        KiteErrorType.DATA: 502,
        KiteErrorType.GENERAL: 500,
    }
)
TOO_MANY_REQUESTS = 429
NOT_FOUND = 404

_KITE_FAILURES = (KiteErrorType.NETWORK, KiteErrorType.DATA)


def error_body(error_type: str, message: str, data: Any = None) -> dict[str, Any]:
    """Kite's error envelope."""
    return {"status": "error", "message": message, "data": data, "error_type": error_type}


def outcome_unknown(error_type: str, http_status: int) -> bool:
    """Whether a write Kite answered with this error may nevertheless have taken effect: its own
    failures (5xx, or a Network/DataException other than 429), as opposed to a definite refusal."""
    return http_status >= 500 or (error_type in _KITE_FAILURES and http_status != TOO_MANY_REQUESTS)


def retryable(error_type: str, http_status: int) -> bool:
    """Whether a read that failed with this error is worth retrying: 429, 5xx, Network/DataException."""
    return http_status == TOO_MANY_REQUESTS or http_status >= 500 or error_type in _KITE_FAILURES


MARKETS_CLOSED = "Markets are closed right now. Use GTT for placing long standing orders instead."
AMO_WHILE_OPEN = "After market orders can be placed only when the market is closed."
# Since 2026-04-01 (SEBI's retail-algo rules as Zerodha enforces them): a MARKET or SL-M order with
# market protection 0 is refused with this text (reported by a user, ../shared kite-alerts-and-rules.md
# section 2); MCX takes no IOC orders from the API (Zerodha's notice; Kite's exact words are not
# published, so these are ours).
MARKET_PROTECTION_REQUIRED = (
    "Market orders without market protection are not allowed via API. Please set market protection or use a "
    "Limit order."
)
MCX_IOC_REFUSED = "IOC orders are not allowed for MCX via API (the exchange's algo segment takes no IOC orders)."


def is_market_closed(message: str) -> bool:
    """Whether an order refusal is Kite's "the exchange is not in session" (an InputException)."""
    return message.startswith("Markets are closed")


def refine_general(message: str) -> KiteErrorType:
    """The error type a GeneralException's message shows it to be (the official client folds
    MarginException and HoldingException into GeneralException)."""
    lowered = message.lower()
    if "insufficient funds" in lowered or "margin" in lowered:
        return KiteErrorType.MARGIN
    if "holding" in lowered:
        return KiteErrorType.HOLDING
    return KiteErrorType.GENERAL
