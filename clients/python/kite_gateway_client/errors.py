"""`GatewayCallError`: a failed call, with the gateway's structured details decoded.

The gateway sends a google.rpc.Status in the `grpc-status-details-bin` trailer: an ErrorInfo (a
stable `reason` such as KILL_SWITCH_ACTIVE and its metadata), a BadRequest (which fields were wrong)
and a RetryInfo (how long to wait) when they apply. Callers of the client see only this type, never
grpc.aio.AioRpcError.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request (google.rpc.BadRequest.FieldViolation)."""

    field: str
    description: str
    reason: str = ""


@dataclass(eq=False)
class GatewayCallError(Exception):
    """A call the gateway (or the connection to it) failed.

    `code` is the gRPC status, `message` its text (it says what to do). `reason`, `domain` and
    `metadata` come from the ErrorInfo detail ("" and {} without one), `field_violations` from a
    BadRequest, `retry_delay` (seconds) from a RetryInfo (None without one); `status` is the whole
    decoded google.rpc.Status for any other detail (None when the gateway sent none).
    """

    code: grpc.StatusCode
    message: str
    reason: str = ""
    domain: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    field_violations: tuple[FieldViolation, ...] = ()
    retry_delay: float | None = None
    status: status_pb2.Status | None = None

    def __str__(self) -> str:
        reason = f" ({self.reason})" if self.reason else ""
        fields = "".join(f"; {v.field}: {v.description}" for v in self.field_violations)
        return f"{self.code.name}{reason}: {self.message}{fields}"

    @classmethod
    def from_rpc_error(cls, error: grpc.aio.AioRpcError | grpc.RpcError) -> GatewayCallError:
        """The error of a failed call, its status details decoded from the trailers."""
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        message = error.details() if hasattr(error, "details") else str(error)
        trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
        return cls.from_status(code, message or "", status_details(trailers))

    @classmethod
    def from_status(cls, code: grpc.StatusCode, message: str, status: status_pb2.Status | None) -> GatewayCallError:
        reason, domain, metadata = "", "", {}
        violations: list[FieldViolation] = []
        retry_delay: float | None = None
        for detail in status.details if status is not None else ():
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, domain, metadata = info.reason, info.domain, dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations += [FieldViolation(v.field, v.description, v.reason) for v in bad.field_violations]
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                retry_delay = retry.retry_delay.ToTimedelta().total_seconds()
        return cls(code, message, reason, domain, metadata, tuple(violations), retry_delay, status)


def status_details(trailers: object) -> status_pb2.Status | None:
    """The google.rpc.Status of a call's trailing metadata, or None when there is none (or it is
    not readable: the code and message still say what happened)."""
    if not trailers:
        return None
    raw = dict(trailers).get(STATUS_DETAILS_KEY)  # type: ignore[call-overload]
    if not isinstance(raw, bytes):
        return None
    try:
        return status_pb2.Status.FromString(raw)
    except DecodeError:
        return None
