"""A failed call as HTTP: the google.rpc.Status the gRPC call ended with (ErrorInfo, BadRequest,
PreconditionFailure, RetryInfo details, each with its "@type"), as JSON, under the HTTP status that
google.api's mapping gives its code, a Retry-After header when the status says when to retry, and
WWW-Authenticate on a 401 (RFC 6750's Bearer challenge)."""

from __future__ import annotations

import json

import grpc
from aiohttp import web
from google.protobuf import json_format
from google.rpc import code_pb2, error_details_pb2, status_pb2

from kite_gateway.errors import GatewayError
from kite_gateway.grpc import STATUS_DETAILS_KEY, rpc_status

# google.rpc.Code -> HTTP status (google/rpc/code.proto, as grpc-gateway and ESP map them).
HTTP_STATUS: dict[int, int] = {
    code_pb2.OK: 200,
    code_pb2.CANCELLED: 499,
    code_pb2.UNKNOWN: 500,
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.DEADLINE_EXCEEDED: 504,
    code_pb2.NOT_FOUND: 404,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.PERMISSION_DENIED: 403,
    code_pb2.UNAUTHENTICATED: 401,
    code_pb2.RESOURCE_EXHAUSTED: 429,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.ABORTED: 409,
    code_pb2.OUT_OF_RANGE: 400,
    code_pb2.UNIMPLEMENTED: 501,
    code_pb2.INTERNAL: 500,
    code_pb2.UNAVAILABLE: 503,
    code_pb2.DATA_LOSS: 500,
}
JSON_TYPE = "application/json"


def status_of_rpc_error(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The google.rpc.Status a call ended with (from its trailing details, else its code and text)."""
    raw = dict(error.trailing_metadata() or ()).get(STATUS_DETAILS_KEY)
    if isinstance(raw, bytes):
        try:
            return status_pb2.Status.FromString(raw)
        except ValueError:
            pass
    return status_pb2.Status(code=error.code().value[0], message=error.details() or "")


def status_of_gateway_error(error: GatewayError) -> status_pb2.Status:
    status: status_pb2.Status = rpc_status(error)
    return status


def status_json(status: status_pb2.Status) -> str:
    data = json_format.MessageToDict(status, preserving_proto_field_name=True)
    return json.dumps(data, ensure_ascii=False)


def retry_after(status: status_pb2.Status) -> int | None:
    """Whole seconds of the status's RetryInfo, if it has one."""
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            seconds: int = info.retry_delay.seconds + (1 if info.retry_delay.nanos > 0 else 0)
            return max(1, seconds)
    return None


def error_response(status: status_pb2.Status, http_status: int | None = None) -> web.Response:
    headers = {}
    delay = retry_after(status)
    if delay is not None:
        headers["Retry-After"] = str(delay)
    code = http_status or HTTP_STATUS.get(status.code, 500)
    if code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="kite-gateway"'  # RFC 6750: how to authenticate
    return web.Response(
        status=code,
        text=status_json(status),
        content_type=JSON_TYPE,
        headers=headers,
    )
