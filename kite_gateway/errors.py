"""The gateway's one error model: every failure becomes a GatewayError with a status (the canonical
codes, as google.rpc.Code numbers them), a reason (the API's ErrorReason, by the same numbers), a
message a person can act on and details (field violations, a retry delay, precondition failures).

This module knows nothing of gRPC or protobuf: kite_gateway/grpc/status.py renders a GatewayError as
google.rpc.Status with ErrorInfo/BadRequest/RetryInfo/PreconditionFailure details, and
kite_gateway/kite/errors.py maps Kite's exceptions onto it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# Bounds on what an error carries, whatever went into it (a caller's input, Kite's text): the
# message and details travel in HTTP/2 headers, which clients refuse beyond 8-16 KiB.
MAX_MESSAGE = 1000
MAX_DETAIL = 300


def _bounded(text: str, most: int) -> str:
    if len(text) <= most:
        return text
    suffix = f"... ({len(text)} characters in all)"
    return text[: max(0, most - len(suffix))] + suffix


class Status(enum.IntEnum):
    """The canonical status codes (google.rpc.Code); grpc/status.py maps them onto Status."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class Reason(enum.IntEnum):
    """Why a call failed: kite_gateway.v1.ErrorReason without its prefix, by the same numbers (a test
    holds the two equal)."""

    UNSPECIFIED = 0
    INVALID_FIELD = 1
    ACCOUNT_NOT_FOUND = 2
    INSTRUMENT_NOT_FOUND = 3
    ORDER_NOT_FOUND = 4
    IDEMPOTENCY_KEY_REUSED = 5
    ACCOUNT_EXISTS = 6
    CALLER_UNAUTHENTICATED = 10
    ACCOUNT_ACCESS_DENIED = 11
    ACCOUNT_NEEDS_LOGIN = 12
    KITE_INPUT_REJECTED = 20
    KITE_ORDER_REJECTED = 21
    KITE_INSUFFICIENT_MARGIN = 22
    KITE_INSUFFICIENT_HOLDINGS = 23
    KITE_PERMISSION_DENIED = 24
    KITE_UNAVAILABLE = 25
    KITE_RATE_LIMITED = 26
    KITE_GENERAL_ERROR = 27
    ORDER_OUTCOME_UNKNOWN = 28
    RISK_LIMIT_BREACHED = 30
    KILL_SWITCH_ACTIVE = 31
    GATEWAY_LIMIT_REACHED = 32
    SEQUENCE_OUT_OF_RANGE = 33
    GATEWAY_SHUTTING_DOWN = 34
    ORDER_QUEUE_FULL = 35
    MARKET_CLOSED = 36
    IP_NOT_REGISTERED = 37
    ACCOUNT_MOVING = 38


@dataclass
class GatewayError(Exception):
    """A failure to report to the caller: code, reason, a message a person can act on, and details."""

    code: Status
    reason: Reason
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
        return self.reason.name


def invalid(field_name: str, problem: str) -> GatewayError:
    """INVALID_ARGUMENT for one field."""
    return GatewayError(
        Status.INVALID_ARGUMENT,
        Reason.INVALID_FIELD,
        f"{field_name}: {problem}",
        field_violations=[(field_name, problem)],
    )


__all__ = ["GatewayError", "Reason", "Status", "invalid"]
