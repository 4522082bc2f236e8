"""The API as HTTP/JSON: each request is routed to its RPC by the `google.api.http` bindings,
transcoded, and invoked through a real gRPC channel to the gateway's own server (its internal unix
socket), with the caller's Authorization header as the call's metadata. So authentication,
authorization, request limits, metrics, the audit trail and errors are exactly the gRPC ones; this
module only turns the answer, or the google.rpc.Status, into HTTP.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import grpc
import structlog
from aiohttp import web
from google.protobuf.message import Message

from kite_gateway.errors import GatewayError, Reason, Status, invalid
from kite_gateway.grpc import MAX_REQUEST_BYTES
from kite_gateway.http.bindings import Binding, Router
from kite_gateway.http.sse import stream_response
from kite_gateway.http.statuses import error_response, status_of_gateway_error, status_of_rpc_error
from kite_gateway.http.transcoding import message_class, request_message, response_json

log = structlog.get_logger(__name__)

# The largest request body: JSON of the largest valid request (gRPC's limit is 1 MiB of protobuf,
# which JSON spells in up to about twice as many bytes).
MAX_BODY_BYTES = 2 * 1024 * 1024
# Headers passed on as call metadata (lower case, as gRPC metadata keys are), and their longest value
# (gRPC refuses more than 8 KiB of metadata in all; a bearer token is at most 256 characters).
FORWARDED_HEADERS = ("authorization", "x-request-id")
MAX_HEADER_CHARS = 1024
_CHANNEL_OPTIONS = (("grpc.max_receive_message_length", -1),)  # responses are as large as the server sends


def _error(code: Status, message: str, http_status: int | None = None) -> web.Response:
    return error_response(status_of_gateway_error(GatewayError(code, Reason.UNSPECIFIED, message)), http_status)


class JsonApi:
    """The aiohttp side of the transcoder: mount it on an application, close it on shutdown."""

    def __init__(self, router: Router, target: str) -> None:
        """`target`: the gRPC address of the gateway's own server, e.g. "unix:/data/http.sock"."""
        self.router = router
        self.target = target
        self._channel: grpc.aio.Channel | None = None

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    def mount(self, app: web.Application) -> None:
        for prefix in self.router.prefixes:
            app.router.add_route("*", prefix, self.handle)
            # Any character: aiohttp matches the decoded path, where %0A is a newline `.` would not match.
            app.router.add_route("*", prefix + r"/{tail:[\s\S]*}", self.handle)

    def _call(self, binding: Binding) -> Any:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.target, options=_CHANNEL_OPTIONS)
        response = message_class(binding.method.output_type)
        make = self._channel.unary_stream if binding.streaming else self._channel.unary_unary
        return make(binding.rpc_path, request_serializer=_serialize, response_deserializer=response.FromString)

    async def call_get(
        self, request: web.Request, path: str, **overrides: Any
    ) -> tuple[Message, Message] | web.Response:
        """The unary RPC bound to GET `path`, called with the request's query parameters (fields in
        `overrides` set over them) and its forwarded headers: (the request message, its answer), or
        the HTTP error response to send."""
        routed = self.router.route("GET", path)
        if isinstance(routed, list) or routed.binding.streaming:
            return _error(Status.NOT_FOUND, f"no API route {path}; the routes are listed at /openapi.json")
        binding = routed.binding
        try:
            metadata = _metadata(request)
            query = [(k, v) for k, v in request.query.items() if k not in overrides and k != "table"]
            message = request_message(binding, routed.path_values, query, await _stray_body(request))
        except GatewayError as exc:
            return error_response(status_of_gateway_error(exc))
        for name, value in overrides.items():
            setattr(message, name, value)
        try:
            answer: Message = await self._call(binding)(message, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            return error_response(status_of_rpc_error(exc))
        return message, answer

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.raw_path.partition("?")[0]
        routed = self.router.route(request.method, raw_path)
        if isinstance(routed, list):
            if not routed:
                return _error(Status.NOT_FOUND, f"no API route {raw_path}; the routes are listed at /openapi.json")
            response = _error(
                Status.UNIMPLEMENTED, f"{request.method} is not served at {raw_path}; use {', '.join(routed)}", 405
            )
            response.headers["Allow"] = ", ".join(routed)
            return response
        binding = routed.binding
        try:
            metadata = _metadata(request)
            if (request.content_length or 0) > MAX_BODY_BYTES:  # refused before a byte of it is read
                raise web.HTTPRequestEntityTooLarge(MAX_BODY_BYTES, request.content_length or 0)
            body = await request.read() if binding.body else await _stray_body(request)
            message = request_message(binding, routed.path_values, request.query.items(), body)
            if message.ByteSize() > MAX_REQUEST_BYTES:  # gRPC would refuse it as RESOURCE_EXHAUSTED: a 429
                raise web.HTTPRequestEntityTooLarge(MAX_REQUEST_BYTES, message.ByteSize())
        except web.HTTPRequestEntityTooLarge:
            return _error(
                Status.INVALID_ARGUMENT,
                f"the request is larger than this listener accepts: at most {MAX_BODY_BYTES} bytes of JSON "
                f"that make at most {MAX_REQUEST_BYTES} bytes of request message",
                413,
            )
        except GatewayError as exc:
            return error_response(status_of_gateway_error(exc))
        call = self._call(binding)(message, metadata=metadata)
        try:
            if binding.streaming:
                first = await call.read()
                if first is grpc.aio.EOF:
                    return web.Response(status=204)  # the stream ended before its first message
                return await stream_response(request, first, _rest(call), call, lambda m: response_json(binding, m))
            answer = await call
        except grpc.aio.AioRpcError as exc:
            return error_response(status_of_rpc_error(exc))
        except Exception:
            call.cancel()
            error_id = uuid.uuid4().hex[:12]
            log.exception("http.internal_error", path=raw_path, rpc=binding.rpc_path, error_id=error_id)
            return _error(Status.INTERNAL, f"internal error answering {raw_path} (error id {error_id} in the logs)")
        return web.json_response(response_json(binding, answer), dumps=_dumps)


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


async def _rest(call: Any) -> Any:
    while (message := await call.read()) is not grpc.aio.EOF:
        yield message


def _metadata(request: web.Request) -> tuple[tuple[str, str], ...]:
    """The forwarded headers as call metadata; gRPC takes printable ASCII only."""
    found = []
    for name in FORWARDED_HEADERS:
        value = request.headers.get(name)
        if value is None:
            continue
        if not (value.isascii() and value.isprintable()):
            raise invalid(name, "the header must be printable ASCII, e.g. 'Authorization: Bearer <token>'")
        if len(value) > MAX_HEADER_CHARS:
            raise invalid(name, f"the header is longer than {MAX_HEADER_CHARS} characters")
        found.append((name, value))
    return tuple(found)


async def _stray_body(request: web.Request) -> bytes:
    """The body of a route that takes none (read, so that a stray body can be refused by name)."""
    return await request.read() if request.can_read_body else b""


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)
