"""Kite's failures as the gateway's: the official client's exceptions and transport errors mapped
once, onto GatewayError by the table documented in protos/kite_gateway/v1/errors.proto, and which of
them leave a write's outcome unknown."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TypeVar

import requests
from kiteconnect import exceptions as kite_exceptions

from kite_gateway.errors import GatewayError, Reason, Status
from kite_wire import WHITELIST_PAGE, KiteErrorType, refused_ip
from kite_wire import errors as wire

T = TypeVar("T")

# Kite's error_type -> (gRPC status, ErrorReason), as documented in errors.proto.
_KITE_TYPES: Mapping[str, tuple[Status, Reason]] = {
    KiteErrorType.TOKEN: (Status.UNAUTHENTICATED, Reason.ACCOUNT_NEEDS_LOGIN),
    KiteErrorType.INPUT: (Status.INVALID_ARGUMENT, Reason.KITE_INPUT_REJECTED),
    KiteErrorType.ORDER: (Status.FAILED_PRECONDITION, Reason.KITE_ORDER_REJECTED),
    KiteErrorType.MARGIN: (Status.FAILED_PRECONDITION, Reason.KITE_INSUFFICIENT_MARGIN),
    KiteErrorType.HOLDING: (Status.FAILED_PRECONDITION, Reason.KITE_INSUFFICIENT_HOLDINGS),
    KiteErrorType.PERMISSION: (Status.PERMISSION_DENIED, Reason.KITE_PERMISSION_DENIED),
    KiteErrorType.USER: (Status.PERMISSION_DENIED, Reason.KITE_PERMISSION_DENIED),
    KiteErrorType.NETWORK: (Status.UNAVAILABLE, Reason.KITE_UNAVAILABLE),
    KiteErrorType.DATA: (Status.UNAVAILABLE, Reason.KITE_UNAVAILABLE),
}


def from_kite(exc: Exception, account_id: str) -> GatewayError:
    """A Kite client exception, or a transport failure on the way to Kite, as a GatewayError."""
    if isinstance(exc, kite_exceptions.KiteException):
        message, http_status = str(exc), int(getattr(exc, "code", 0) or 0)
        error = kite_refusal(type(exc).__name__, message, http_status, account_id)
        refused = refused_ip(message)
        if refused is not None and error.reason is not Reason.KITE_RATE_LIMITED:
            return _ip_not_registered(exc, account_id, refused, error.metadata)
        return error
    if isinstance(exc, requests.exceptions.RequestException):
        return GatewayError(
            Status.UNAVAILABLE,
            Reason.KITE_UNAVAILABLE,
            f"Kite could not be reached for account {account_id}: {type(exc).__name__}. Retry later.",
            {"account_id": account_id, "transport_error": type(exc).__name__},
            retry_after=1.0,
        )
    raise TypeError(f"not a Kite failure: {exc!r}")


EGRESS_NOTE = "kite_gateway_egress"  # the attribute KiteCaller sets on a failure: the egress it left through


def _ip_not_registered(exc: Exception, account_id: str, refused: str, metadata: dict[str, str]) -> GatewayError:
    """Kite refused an order call for the IP it came from: what to register, or where to map the account."""
    egress = str(getattr(exc, EGRESS_NOTE, "") or "the egress the gateway maps it to")
    seen = f" Kite saw the call come from {refused}." if refused else ""
    return GatewayError(
        Status.FAILED_PRECONDITION,
        Reason.IP_NOT_REGISTERED,
        f"Kite refused the order call of account {account_id} for the IP it came from: {metadata['kite_message']}."
        f"{seen} Nothing was placed, and sending it again from the same IP is refused again. The "
        f"account's order calls leave through {egress}. Register that IP for the account's developer account "
        f"at {WHITELIST_PAGE}, or map the account to the egress whose IP is registered there "
        "(KITE_GATEWAY_EGRESS_FILE).",
        {**metadata, "egress": egress, "refused_ip": refused},
    )


def kite_refusal(kind: str, message: str, http_status: int, account_id: str) -> GatewayError:
    """Kite's error (its error_type, message and HTTP status: a raised exception's, or one inside a
    success payload such as an autoslice child's) as a GatewayError."""
    if kind == KiteErrorType.GENERAL:
        # The Python client folds MarginException, HoldingException and UserException into GeneralException.
        kind = str(wire.refine_general(message))
    metadata = {"account_id": account_id, "kite_error_type": kind, "kite_message": message,
                "kite_http_status": str(http_status)}  # fmt: skip
    if http_status == wire.TOO_MANY_REQUESTS:
        return GatewayError(
            Status.RESOURCE_EXHAUSTED,
            Reason.KITE_RATE_LIMITED,
            f"Kite rate limit reached for account {account_id}: {message}. Retry after a second.",
            metadata,
            retry_after=1.0,
        )
    if kind not in _KITE_TYPES:
        return _general(account_id, message, http_status, metadata)
    code, reason = _KITE_TYPES[kind]
    if kind == KiteErrorType.INPUT and wire.is_market_closed(message):
        return GatewayError(
            Status.FAILED_PRECONDITION,
            Reason.MARKET_CLOSED,
            f"Kite: {message} The exchange is not in session: nothing was placed. Send it as VARIETY_AMO "
            "to queue it for the next session, or as a GTT (MarketDataService/GetMarketStatus says when "
            "each exchange opens).",
            metadata,
        )
    if kind == KiteErrorType.TOKEN:
        text = (
            f"Kite refused the access token of account {account_id} ({message}). The account needs a new "
            "login: AccountService.GetLoginUrl then CompleteLogin, or AddAccount with a fresh token."
        )
    else:
        text = f"Kite: {message}"
    return GatewayError(code, reason, text, metadata)


def _general(account_id: str, message: str, http_status: int, metadata: dict[str, str]) -> GatewayError:
    """Kite's unclassified errors (GeneralException, or a type this table does not know), never
    UNKNOWN: NOT_FOUND for what Kite says does not exist (404, "... not found"), UNAVAILABLE with a
    retry for Kite's own failures (5xx, or no HTTP status), FAILED_PRECONDITION for other refusals."""
    reason = Reason.KITE_GENERAL_ERROR
    if http_status == 404 or "not found" in message.lower():
        return GatewayError(Status.NOT_FOUND, reason, f"Kite: {message}", metadata)
    if http_status >= 500 or not http_status:
        return GatewayError(
            Status.UNAVAILABLE,
            reason,
            f"Kite failed for account {account_id}: {message}. Retry later.",
            metadata,
            retry_after=1.0,
        )
    return GatewayError(Status.FAILED_PRECONDITION, reason, f"Kite refused: {message}", metadata)


def is_kite_failure(exc: BaseException) -> bool:
    return isinstance(exc, kite_exceptions.KiteException | requests.exceptions.RequestException)


def outcome_unknown(exc: BaseException) -> bool:
    """Whether a failed write may nevertheless have taken effect at Kite (timeouts, dropped
    connections, 5xx gateway errors), as opposed to a definite refusal."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False  # never connected: nothing was sent
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return True
    if isinstance(exc, kite_exceptions.KiteException):
        return wire.outcome_unknown(type(exc).__name__, int(getattr(exc, "code", 0) or 0))
    return False


class KiteOutcomeUnknown(Exception):
    """A write that failed in a way that leaves open whether Kite acted on it (a timeout, a dropped
    connection, a 5xx): the caller must look before it sends again. `error` is the failure as the
    gateway reports it, `cause` the name of what happened on the way (e.g. "ReadTimeout")."""

    def __init__(self, error: GatewayError, cause: str) -> None:
        super().__init__(error.message)
        self.error = error
        self.cause = cause


def write_failure(exc: Exception, account_id: str) -> GatewayError | KiteOutcomeUnknown:
    """A failed write as what to raise: KiteOutcomeUnknown when it may have taken effect, else the
    definite refusal as a GatewayError."""
    error = from_kite(exc, account_id)
    return KiteOutcomeUnknown(error, type(exc).__name__) if outcome_unknown(exc) else error


async def written(call: Awaitable[T], account_id: str) -> T:
    """The result of a raw write (KiteCaller.write/write_now), its Kite failures raised as
    `write_failure` says; other exceptions pass through."""
    try:
        return await call
    except Exception as exc:
        if not is_kite_failure(exc):
            raise
        raise write_failure(exc, account_id) from None


def retryable_read(exc: BaseException) -> bool:
    """Whether a failed read is worth retrying: transport failures, 429 and 5xx."""
    if isinstance(exc, requests.exceptions.RequestException):
        return True
    if isinstance(exc, kite_exceptions.KiteException):
        return wire.retryable(type(exc).__name__, int(getattr(exc, "code", 0) or 0))
    return False


__all__ = [
    "KiteOutcomeUnknown",
    "from_kite",
    "is_kite_failure",
    "kite_refusal",
    "outcome_unknown",
    "retryable_read",
    "write_failure",
    "written",
]
