"""The kite_gateway.v1 API services and how they are registered on a server.

Every implemented method is wrapped so that the caller is authenticated first (kite_gateway.auth; on
a call another replica forwarded, the principal it carried: kite_gateway.grpc.forwarded_principal),
the request is checked against the API's limits (kite_gateway.grpc.request_limits: sizes, id formats,
ranges) and then authorized; a GatewayError reaches the caller as its status code, message and
details, and anything unexpected as INTERNAL with an error id to find in the logs (never a stack
trace). A request whose bytes do not decode as its message answers INVALID_ARGUMENT (grpc itself
would answer UNKNOWN for a deserializer's exception). A method a servicer does not implement
answers UNIMPLEMENTED naming itself.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
import structlog
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import DecodeError, Message
from kite_gateway_api.v1 import (
    account_pb2,
    account_pb2_grpc,
    alert_pb2,
    alert_pb2_grpc,
    market_data_pb2,
    market_data_pb2_grpc,
    order_pb2,
    order_pb2_grpc,
    portfolio_pb2,
    portfolio_pb2_grpc,
    report_pb2,
    report_pb2_grpc,
    signal_pb2,
    signal_pb2_grpc,
)

from kite_gateway import __version__
from kite_gateway.auth import Principals, anonymous_name, authorize, current_principal, unrestricted
from kite_gateway.errors import GatewayError, invalid
from kite_gateway.grpc.forwarded_principal import forwarded_caller
from kite_gateway.grpc.live_streams import LiveStreams
from kite_gateway.grpc.request_limits import check_request
from kite_gateway.grpc.status import abort


@dataclass(frozen=True)
class ApiService:
    """One API service: its descriptor and the generated servicer base."""

    descriptor: ServiceDescriptor
    servicer_base: type

    @property
    def full_name(self) -> str:
        return self.descriptor.full_name


API_SERVICES: tuple[ApiService, ...] = (
    ApiService(
        account_pb2.DESCRIPTOR.services_by_name["AccountService"],
        account_pb2_grpc.AccountServiceServicer,
    ),
    ApiService(
        order_pb2.DESCRIPTOR.services_by_name["OrderService"],
        order_pb2_grpc.OrderServiceServicer,
    ),
    ApiService(
        portfolio_pb2.DESCRIPTOR.services_by_name["PortfolioService"],
        portfolio_pb2_grpc.PortfolioServiceServicer,
    ),
    ApiService(
        market_data_pb2.DESCRIPTOR.services_by_name["MarketDataService"],
        market_data_pb2_grpc.MarketDataServiceServicer,
    ),
    ApiService(
        signal_pb2.DESCRIPTOR.services_by_name["SignalService"],
        signal_pb2_grpc.SignalServiceServicer,
    ),
    ApiService(
        alert_pb2.DESCRIPTOR.services_by_name["AlertService"],
        alert_pb2_grpc.AlertServiceServicer,
    ),
    ApiService(
        report_pb2.DESCRIPTOR.services_by_name["ReportService"],
        report_pb2_grpc.ReportServiceServicer,
    ),
)


def _unimplemented(method: MethodDescriptor) -> Callable[..., Any]:
    message = (
        f"{method.containing_service.full_name}/{method.name} is not implemented by this gateway "
        f"(version {__version__})"
    )

    async def answer(_request: Any, context: grpc.aio.ServicerContext) -> NoReturn:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, message)
        raise AssertionError("unreachable: abort raises")

    return answer


log = structlog.get_logger(__name__)


async def _fail(context: grpc.aio.ServicerContext, method: MethodDescriptor, exc: Exception) -> NoReturn:
    if isinstance(exc, GatewayError):
        await abort(context, exc)
    error_id = uuid.uuid4().hex[:12]
    log.exception("rpc.internal_error", method=method.full_name, error_id=error_id)
    await context.abort(
        grpc.StatusCode.INTERNAL,
        f"internal error in {method.containing_service.name}/{method.name} (error id {error_id} in the gateway's "
        "logs); the request may be retried",
    )
    raise AssertionError("unreachable: abort raises")


@dataclass(frozen=True)
class Undecodable:
    """What the deserializer hands the handler for bytes that are not a valid request message."""

    type_name: str
    problem: str


def _decoder(message_class: type[Message]) -> Callable[[bytes], Any]:
    def decode(data: bytes) -> Any:
        try:
            return message_class.FromString(data)
        except (DecodeError, RuntimeError, ValueError) as exc:
            return Undecodable(message_class.DESCRIPTOR.full_name, str(exc)[:200])

    return decode


def _admit(
    method: MethodDescriptor, principals: Principals | None, request: Any, context: grpc.aio.ServicerContext
) -> None:
    """Authenticate the caller, check the request against the API's limits and authorize the call
    (GatewayError if any fails); remember who is calling."""
    principal = forwarded_caller.get()  # another replica forwarded the call and its seal held
    if principal is None:
        principal = unrestricted(anonymous_name(str(context.peer()))) if principals is None else (
            principals.authenticate(context.invocation_metadata())
        )  # fmt: skip
    if isinstance(request, Undecodable):
        raise invalid(
            "request",
            f"the request bytes are not a valid {request.type_name} message ({request.problem}); "
            "send it with code generated from kite_gateway/v1's protos",
        )
    check_request(request)
    if principals is not None:
        authorize(principal, method.full_name, request)
    current_principal.set(principal)


def _translated(
    method: MethodDescriptor,
    handler: Callable[..., Any],
    principals: Principals | None,
    live_streams: LiveStreams | None = None,
) -> Callable[..., Any]:
    if inspect.isasyncgenfunction(handler):

        async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                _admit(method, principals, request, context)
                async with aclosing(handler(request, context)) as items:
                    if live_streams is None:
                        async for item in items:
                            yield item
                        return
                    async with aclosing(live_streams.run(items)) as ended_when_stopping:
                        async for item in ended_when_stopping:
                            yield item
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await _fail(context, method, exc)

        return streaming

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            _admit(method, principals, request, context)
            return await handler(request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _fail(context, method, exc)

    return unary


def register(
    server: grpc.aio.Server,
    service: ApiService,
    servicer: object,
    principals: Principals | None = None,
    live_streams: LiveStreams | None = None,
) -> None:
    """Add a servicer for a service: implemented methods with caller authentication (when
    `principals` are configured) and error translation, the others UNIMPLEMENTED. Its streams are
    kept in `live_streams` (when given), which ends them when the server stops.

    Handlers are built from the service's descriptor. A servicer may name, in `raw_responses`,
    streaming methods that yield already-serialized response bytes (serialize once, send to many).
    """
    if not isinstance(servicer, service.servicer_base):
        raise TypeError(f"{type(servicer).__name__} is not a {service.servicer_base.__name__}")
    raw: frozenset[str] = getattr(servicer, "raw_responses", frozenset())
    handlers = {}
    for method in service.descriptor.methods:
        if getattr(type(servicer), method.name) is getattr(service.servicer_base, method.name):
            behaviour = _unimplemented(method)
        else:
            behaviour = _translated(method, getattr(servicer, method.name), principals, live_streams)
        request = message_factory.GetMessageClass(method.input_type)
        response = message_factory.GetMessageClass(method.output_type)
        make = grpc.unary_stream_rpc_method_handler if method.server_streaming else grpc.unary_unary_rpc_method_handler
        handlers[method.name] = make(
            behaviour,
            request_deserializer=_decoder(request),
            response_serializer=bytes if method.name in raw else response.SerializeToString,
        )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
    server.add_registered_method_handlers(service.full_name, handlers)
