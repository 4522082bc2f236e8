"""`kite-gateway call SERVICE/METHOD 'JSON'`: one RPC from the command line, with nothing installed
but the gateway itself. The request is parsed from JSON against the generated descriptors of
kite_gateway_api (and grpc.health.v1), the reply printed as JSON with the proto's field names; a
server stream prints one JSON object per line. A failed call prints its status as JSON on stderr
(code name, message, and the decoded details: ErrorInfo reason and metadata, BadRequest field
violations, RetryInfo, ...) and exits 1; a request that cannot be made (unknown method, bad JSON)
exits 2."""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from kite_gateway_api.v1 import (
    account_pb2,
    errors_pb2,
    market_data_pb2,
    order_pb2,
    portfolio_pb2,
    report_pb2,
    signal_pb2,
)

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# The API's package: a service named without one (`OrderService`) is looked up here.
DEFAULT_PACKAGE = "kite_gateway.v1"
# Importing these registers their descriptors in the default pool (what `resolve` searches).
KNOWN_FILES = (
    account_pb2,
    market_data_pb2,
    order_pb2,
    portfolio_pb2,
    signal_pb2,
    report_pb2,
    errors_pb2,
    health_pb2,
    error_details_pb2,
)
KNOWN_SERVICES = tuple(
    service.full_name for module in KNOWN_FILES for service in module.DESCRIPTOR.services_by_name.values()
)
STATUS_DETAILS_KEY = "grpc-status-details-bin"
UNARY_TIMEOUT = 30.0


class CallError(Exception):
    """The call cannot be made as asked; the message says why and what would work."""


def resolve(name: str, pool: descriptor_pool.DescriptorPool | None = None) -> MethodDescriptor:
    """The method `SERVICE/METHOD` names: a short service name (`OrderService`) is one of
    kite_gateway.v1, a dotted one (`grpc.health.v1.Health`) is taken as the full name; a leading
    slash and the `SERVICE.METHOD` form are accepted too."""
    pool = pool or descriptor_pool.Default()
    path = name.strip().lstrip("/")
    service_name, sep, method_name = path.rpartition("/")
    if not sep:
        service_name, sep, method_name = path.rpartition(".")
    if not sep or not service_name or not method_name:
        raise CallError(f"{name!r}: name the method as SERVICE/METHOD, e.g. OrderService/ListOrders")
    full = service_name if "." in service_name else f"{DEFAULT_PACKAGE}.{service_name}"
    try:
        service: ServiceDescriptor = pool.FindServiceByName(full)
    except KeyError:
        known = ", ".join(_short(known) for known in KNOWN_SERVICES)
        raise CallError(f"{name!r}: no service {full}; the services are {known}") from None
    method = service.methods_by_name.get(method_name)
    if method is None:
        methods = ", ".join(service.methods_by_name)
        raise CallError(f"{name!r}: {_short(full)} has no method {method_name}; its methods are {methods}")
    if method.client_streaming:
        raise CallError(f"{name!r}: a client-streaming method cannot be called with one JSON body")
    return method


def _short(full_name: str) -> str:
    package, _, service = full_name.rpartition(".")
    return service if package == DEFAULT_PACKAGE else full_name


def request_of(method: MethodDescriptor, body: str) -> Message:
    """The method's request message parsed from JSON (proto field names or their JSON names)."""
    request = message_factory.GetMessageClass(method.input_type)()
    try:
        json_format.Parse(body, request)
    except json_format.ParseError as exc:
        raise CallError(f"the body is not a valid {method.input_type.full_name}: {exc}") from None
    return request


def to_json(message: Message, indent: int | None = 2) -> str:
    """A message as JSON, with the field names one types in a request body."""
    return json_format.MessageToJson(message, preserving_proto_field_name=True, indent=indent, ensure_ascii=False)


def error_json(code: grpc.StatusCode, message: str, details: bytes | None, hint: str = "") -> str:
    """A failed call's status as JSON: the code's name, the message, each decoded detail, and a hint
    of what to do when the failure is this program's side of the connection."""
    rendered: dict[str, Any] = {"code": code.name, "message": message}
    if details:
        status = status_pb2.Status.FromString(details)
        rendered["details"] = [_detail(detail) for detail in status.details]
    if hint:
        rendered["hint"] = hint
    return json.dumps(rendered, indent=2, ensure_ascii=False)


def unreachable_hint(address: str) -> str:
    return (
        f"no gateway answered at {address}: start one (`make run`, or `kite-gateway serve --paper`), "
        "or name where it listens with --address HOST:PORT (and --tls-ca if it serves TLS)"
    )


def _detail(detail: Any) -> dict[str, Any]:
    try:
        return json_format.MessageToDict(detail, preserving_proto_field_name=True)
    except (TypeError, KeyError):  # a detail type this program does not know
        return {"@type": detail.type_url, "value": detail.value.hex()}


def add_parser(commands: Any) -> None:
    """The `call` subcommand's arguments (`commands` is the argparse subparsers object)."""
    call = commands.add_parser(
        "call",
        help="call one RPC with a JSON body and print the reply as JSON",
        description="Call one RPC of a running gateway: kite-gateway call MarketDataService/GetQuote "
        '\'{"account_id":"ZS0001","instruments":[{"symbol":"NSE:INFY"}]}\'. Short service names are '
        "kite_gateway.v1's; full names (grpc.health.v1.Health/Check) work too. A server stream prints one "
        "JSON object per line. Exit 1 when the call fails (its status printed as JSON on stderr), 2 when it "
        "cannot be made.",
    )
    call.add_argument("method", nargs="?", help="SERVICE/METHOD, e.g. OrderService/ListOrders")
    call.add_argument("body", nargs="?", default="{}", help="the request as JSON ('-' reads stdin; default {})")
    call.add_argument("--address", default="127.0.0.1:50051", help="HOST:PORT of the gateway")
    call.add_argument("--token", help="bearer token of the caller (when the gateway has principals)")
    call.add_argument("--token-file", type=Path, help="a file holding the bearer token")
    call.add_argument("--tls-ca", type=Path, help="connect with TLS, trusting this CA (or the server's own cert)")
    call.add_argument(
        "--timeout",
        type=float,
        help=f"seconds to wait for the reply (default {UNARY_TIMEOUT:g}); for a stream, how long to watch it "
        "(default: until --max-messages or Ctrl-C)",
    )
    call.add_argument("--max-messages", type=int, help="stop a stream after this many messages")
    call.add_argument("--list", action="store_true", help="list the served services (or METHOD's service's methods)")


def call(args: argparse.Namespace) -> int:
    """Run `kite-gateway call` as parsed by `add_parser`'s arguments."""
    try:
        return _call(args)
    except CallError as exc:
        print(f"kite-gateway call: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to print
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _call(args: argparse.Namespace) -> int:
    if args.list:
        return _list(args)
    if not args.method:
        raise CallError("name the method: kite-gateway call SERVICE/METHOD 'JSON' (or --list)")
    method = resolve(args.method)
    request = request_of(method, sys.stdin.read() if args.body == "-" else args.body)
    metadata = _metadata(args)
    with _channel(args) as channel:
        if method.server_streaming:
            return _stream(channel, method, request, metadata, args)
        return _unary(channel, method, request, metadata, args)


def _metadata(args: argparse.Namespace) -> list[tuple[str, str]]:
    token = args.token
    if args.token_file:
        try:
            token = args.token_file.read_text().strip()
        except OSError as exc:
            raise CallError(f"--token-file={args.token_file}: cannot read it ({exc.strerror})") from None
    return [("authorization", f"Bearer {token}")] if token else []


def _channel(args: argparse.Namespace) -> grpc.Channel:
    if not args.tls_ca:
        return grpc.insecure_channel(args.address)
    try:
        ca = args.tls_ca.read_bytes()
    except OSError as exc:
        raise CallError(f"--tls-ca={args.tls_ca}: cannot read it ({exc.strerror})") from None
    return grpc.secure_channel(args.address, grpc.ssl_channel_credentials(ca))


class _CallDetails(
    collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,  # type: ignore[misc]
):
    pass


class _WithMetadata(grpc.StreamStreamClientInterceptor):  # type: ignore[misc]
    """Adds the caller's metadata (the bearer token) to calls made by code that takes no metadata
    (the reflection client behind --list)."""

    def __init__(self, metadata: list[tuple[str, str]]) -> None:
        self.metadata = metadata

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        metadata = [*(details.metadata or ()), *self.metadata]
        return continuation(
            _CallDetails(
                details.method, details.timeout, metadata, details.credentials, details.wait_for_ready,
                details.compression,
            ),
            requests,
        )  # fmt: skip


def _path(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def _reply_class(method: MethodDescriptor) -> Any:
    return message_factory.GetMessageClass(method.output_type)


def _unary(
    channel: grpc.Channel,
    method: MethodDescriptor,
    request: Message,
    metadata: list[tuple[str, str]],
    args: argparse.Namespace,
) -> int:
    stub = channel.unary_unary(
        _path(method), request_serializer=_serialize, response_deserializer=_reply_class(method).FromString
    )
    try:
        reply = stub(request, metadata=metadata, timeout=args.timeout or UNARY_TIMEOUT)
    except grpc.RpcError as exc:
        return _failed(exc, args.address)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    print(to_json(reply))
    return 0


def _stream(
    channel: grpc.Channel,
    method: MethodDescriptor,
    request: Message,
    metadata: list[tuple[str, str]],
    args: argparse.Namespace,
) -> int:
    stub = channel.unary_stream(
        _path(method), request_serializer=_serialize, response_deserializer=_reply_class(method).FromString
    )
    replies = stub(request, metadata=metadata, timeout=args.timeout)
    count = 0
    try:
        for reply in replies:
            print(to_json(reply, indent=None), flush=True)
            count += 1
            if args.max_messages is not None and count >= args.max_messages:
                replies.cancel()
                return 0
    except grpc.RpcError as exc:
        if exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED and args.timeout is not None:
            return 0  # watched for as long as asked
        return _failed(exc, args.address)
    except KeyboardInterrupt:
        replies.cancel()
        return EXIT_INTERRUPTED
    return 0


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def _failed(exc: grpc.RpcError, address: str) -> int:
    call: Any = exc  # a failed call is both the error and the call (code, details, trailers)
    details = dict(call.trailing_metadata() or ()).get(STATUS_DETAILS_KEY)
    # UNAVAILABLE without the gateway's details is the connection's, not an answer of the gateway
    lost = call.code() is grpc.StatusCode.UNAVAILABLE and not details
    hint = unreachable_hint(address) if lost else ""
    print(error_json(call.code(), call.details() or "", details, hint), file=sys.stderr)
    return EXIT_FAILED


def _list(args: argparse.Namespace) -> int:
    if args.method:  # the methods of one service, from the descriptors this program knows
        service_name = args.method.strip("/").split("/")[0]
        full = service_name if "." in service_name else f"{DEFAULT_PACKAGE}.{service_name}"
        try:
            service = descriptor_pool.Default().FindServiceByName(full)
        except KeyError:
            raise CallError(f"no service {full}") from None
        for method in service.methods:
            stream = "stream " if method.server_streaming else ""
            print(f"{_short(full)}/{method.name}  {method.input_type.name} -> {stream}{method.output_type.name}")
        return 0
    with _channel(args) as channel:  # what the server says it serves (reflection)
        reflection = grpc.intercept_channel(channel, _WithMetadata(_metadata(args)))
        try:
            services = ProtoReflectionDescriptorDatabase(reflection).get_services()
        except grpc.RpcError as exc:
            return _failed(exc, args.address)
    for name in services:
        print(name)
    return 0
