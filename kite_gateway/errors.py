"""The gateway's one error model: every failure becomes a GatewayError with a gRPC status code, an
ErrorReason and details (google.rpc.ErrorInfo always; BadRequest, RetryInfo, PreconditionFailure
where they apply), and Kite's exceptions map onto it by the table in protos/.../errors.proto."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc
import requests
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from kiteconnect import exceptions as kite_exceptions

from kite_gateway.v1 import errors_pb2

DOMAIN = "kite-gateway"
STATUS_DETAILS_KEY = "grpc-status-details-bin"
# Bounds on what an error carries, whatever went into it (a caller's input, Kite's text): the
# message and details travel in HTTP/2 headers, which clients refuse beyond 8-16 KiB.
MAX_MESSAGE = 1000
MAX_DETAIL = 300


def _bounded(text: str, most: int) -> str:
    if len(text) <= most:
        return text
    suffix = f"... ({len(text)} characters in all)"
    return text[: max(0, most - len(suffix))] + suffix


@dataclass
class GatewayError(Exception):
    """A failure to report to the caller: code, reason, a message a person can act on, and details."""

    code: grpc.StatusCode
    reason: int  # an errors_pb2.ErrorReason value
    message: str
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: list[tuple[str, str]] = field(default_factory=list)
    retry_after: float | None = None
    precondition_violations: list[tuple[str, str, str]] = field(default_factory=list)  # type, subject, description

    def __post_init__(self) -> None:
        self.message = _bounded(self.message, MAX_MESSAGE)
        self.metadata = {_bounded(k, 64): _bounded(v, MAX_DETAIL) for k, v in self.metadata.items()}
        self.field_violations = [(_bounded(f, 200), _bounded(t, MAX_DETAIL)) for f, t in self.field_violations]
        super().__init__(self.message)

    @property
    def reason_name(self) -> str:
        return errors_pb2.ErrorReason.Name(self.reason).removeprefix("ERROR_REASON_")  # type: ignore[arg-type]

    def status(self) -> status_pb2.Status:
        """As a google.rpc.Status with its details."""
        details: list[Any] = [
            error_details_pb2.ErrorInfo(reason=self.reason_name, domain=DOMAIN, metadata=self.metadata)
        ]
        if self.field_violations:
            violations = [
                error_details_pb2.BadRequest.FieldViolation(field=name, description=text)
                for name, text in self.field_violations
            ]
            details.append(error_details_pb2.BadRequest(field_violations=violations))
        if self.precondition_violations:
            failures = [
                error_details_pb2.PreconditionFailure.Violation(type=kind, subject=subject, description=text)
                for kind, subject, text in self.precondition_violations
            ]
            details.append(error_details_pb2.PreconditionFailure(violations=failures))
        if self.retry_after is not None:
            delay = duration_pb2.Duration()
            delay.FromTimedelta(timedelta(seconds=self.retry_after))
            details.append(error_details_pb2.RetryInfo(retry_delay=delay))
        packed = []
        for detail in details:
            wrapper = any_pb2.Any()
            wrapper.Pack(detail)
            packed.append(wrapper)
        return status_pb2.Status(code=self.code.value[0], message=self.message, details=packed)

    def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
        return ((STATUS_DETAILS_KEY, self.status().SerializeToString()),)


def invalid(field_name: str, problem: str) -> GatewayError:
    """INVALID_ARGUMENT for one field."""
    return GatewayError(
        grpc.StatusCode.INVALID_ARGUMENT,
        errors_pb2.ERROR_REASON_INVALID_FIELD,
        f"{field_name}: {problem}",
        field_violations=[(field_name, problem)],
    )


# Kite's error_type -> (gRPC status, ErrorReason), as documented in errors.proto.
_KITE_TYPES: Mapping[str, tuple[grpc.StatusCode, int]] = {
    "TokenException": (grpc.StatusCode.UNAUTHENTICATED, errors_pb2.ERROR_REASON_ACCOUNT_NEEDS_LOGIN),
    "InputException": (grpc.StatusCode.INVALID_ARGUMENT, errors_pb2.ERROR_REASON_KITE_INPUT_REJECTED),
    "OrderException": (grpc.StatusCode.FAILED_PRECONDITION, errors_pb2.ERROR_REASON_KITE_ORDER_REJECTED),
    "MarginException": (grpc.StatusCode.FAILED_PRECONDITION, errors_pb2.ERROR_REASON_KITE_INSUFFICIENT_MARGIN),
    "HoldingException": (grpc.StatusCode.FAILED_PRECONDITION, errors_pb2.ERROR_REASON_KITE_INSUFFICIENT_HOLDINGS),
    "PermissionException": (grpc.StatusCode.PERMISSION_DENIED, errors_pb2.ERROR_REASON_KITE_PERMISSION_DENIED),
    "UserException": (grpc.StatusCode.PERMISSION_DENIED, errors_pb2.ERROR_REASON_KITE_PERMISSION_DENIED),
    "NetworkException": (grpc.StatusCode.UNAVAILABLE, errors_pb2.ERROR_REASON_KITE_UNAVAILABLE),
    "DataException": (grpc.StatusCode.UNAVAILABLE, errors_pb2.ERROR_REASON_KITE_UNAVAILABLE),
}


def from_kite(exc: Exception, account_id: str) -> GatewayError:
    """A Kite client exception, or a transport failure on the way to Kite, as a GatewayError."""
    if isinstance(exc, kite_exceptions.KiteException):
        kind = type(exc).__name__
        http_status = int(getattr(exc, "code", 0) or 0)
        message = str(exc)
        if kind == "GeneralException":
            # The Python client folds MarginException, HoldingException and UserException into GeneralException.
            kind = _guess_general(message, kind)
        metadata = {"account_id": account_id, "kite_error_type": kind, "kite_message": message,
                    "kite_http_status": str(http_status)}  # fmt: skip
        if http_status == 429:
            return GatewayError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                errors_pb2.ERROR_REASON_KITE_RATE_LIMITED,
                f"Kite rate limit reached for account {account_id}: {message}. Retry after a second.",
                metadata,
                retry_after=1.0,
            )
        if kind not in _KITE_TYPES:
            return _general(account_id, message, http_status, metadata)
        code, reason = _KITE_TYPES[kind]
        if kind == "TokenException":
            text = (
                f"Kite refused the access token of account {account_id} ({message}). The account needs a new "
                "login: AccountService.GetLoginUrl then CompleteLogin, or AddAccount with a fresh token."
            )
        else:
            text = f"Kite: {message}"
        return GatewayError(code, reason, text, metadata)
    if isinstance(exc, requests.exceptions.RequestException):
        return GatewayError(
            grpc.StatusCode.UNAVAILABLE,
            errors_pb2.ERROR_REASON_KITE_UNAVAILABLE,
            f"Kite could not be reached for account {account_id}: {type(exc).__name__}. Retry later.",
            {"account_id": account_id, "transport_error": type(exc).__name__},
            retry_after=1.0,
        )
    raise TypeError(f"not a Kite failure: {exc!r}")


def _general(account_id: str, message: str, http_status: int, metadata: dict[str, str]) -> GatewayError:
    """Kite's unclassified errors (GeneralException, or a type this table does not know), never
    UNKNOWN: NOT_FOUND for what Kite says does not exist (404, "... not found"), UNAVAILABLE with a
    retry for Kite's own failures (5xx, or no HTTP status), FAILED_PRECONDITION for other refusals."""
    reason = errors_pb2.ERROR_REASON_KITE_GENERAL_ERROR
    if http_status == 404 or "not found" in message.lower():
        return GatewayError(grpc.StatusCode.NOT_FOUND, reason, f"Kite: {message}", metadata)
    if http_status >= 500 or not http_status:
        return GatewayError(
            grpc.StatusCode.UNAVAILABLE,
            reason,
            f"Kite failed for account {account_id}: {message}. Retry later.",
            metadata,
            retry_after=1.0,
        )
    return GatewayError(grpc.StatusCode.FAILED_PRECONDITION, reason, f"Kite refused: {message}", metadata)


def _guess_general(message: str, kind: str) -> str:
    lowered = message.lower()
    if "insufficient funds" in lowered or "margin" in lowered:
        return "MarginException"
    if "holding" in lowered:
        return "HoldingException"
    return kind


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
        status = int(getattr(exc, "code", 0) or 0)
        return status >= 500 or (type(exc).__name__ in ("NetworkException", "DataException") and status != 429)
    return False


def retryable_read(exc: BaseException) -> bool:
    """Whether a failed read is worth retrying: transport failures, 429 and 5xx."""
    if isinstance(exc, requests.exceptions.RequestException):
        return True
    if isinstance(exc, kite_exceptions.KiteException):
        status = int(getattr(exc, "code", 0) or 0)
        return status == 429 or status >= 500 or type(exc).__name__ in ("NetworkException", "DataException")
    return False


__all__ = ["GatewayError", "from_kite", "invalid", "is_kite_failure", "outcome_unknown", "retryable_read"]
