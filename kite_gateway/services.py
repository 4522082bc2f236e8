"""The four kite_gateway.v1 API services and how they are registered on a server.

A servicer that does not (yet) implement a method answers it with UNIMPLEMENTED and a message
naming the method, instead of grpc's generic "Method not implemented!".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from kite_gateway import __version__
from kite_gateway.v1 import (
    account_pb2,
    account_pb2_grpc,
    market_data_pb2,
    market_data_pb2_grpc,
    order_pb2,
    order_pb2_grpc,
    portfolio_pb2,
    portfolio_pb2_grpc,
)


@dataclass(frozen=True)
class ApiService:
    """One API service: its descriptor, the generated servicer base, and the registration call."""

    descriptor: ServiceDescriptor
    servicer_base: type
    add_to_server: Callable[[Any, grpc.aio.Server], None]

    @property
    def full_name(self) -> str:
        return self.descriptor.full_name


API_SERVICES: tuple[ApiService, ...] = (
    ApiService(
        account_pb2.DESCRIPTOR.services_by_name["AccountService"],
        account_pb2_grpc.AccountServiceServicer,
        account_pb2_grpc.add_AccountServiceServicer_to_server,
    ),
    ApiService(
        order_pb2.DESCRIPTOR.services_by_name["OrderService"],
        order_pb2_grpc.OrderServiceServicer,
        order_pb2_grpc.add_OrderServiceServicer_to_server,
    ),
    ApiService(
        portfolio_pb2.DESCRIPTOR.services_by_name["PortfolioService"],
        portfolio_pb2_grpc.PortfolioServiceServicer,
        portfolio_pb2_grpc.add_PortfolioServiceServicer_to_server,
    ),
    ApiService(
        market_data_pb2.DESCRIPTOR.services_by_name["MarketDataService"],
        market_data_pb2_grpc.MarketDataServiceServicer,
        market_data_pb2_grpc.add_MarketDataServiceServicer_to_server,
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


def register(server: grpc.aio.Server, service: ApiService, servicer: object) -> None:
    """Add a servicer for a service, answering its unimplemented methods with UNIMPLEMENTED."""
    if not isinstance(servicer, service.servicer_base):
        raise TypeError(f"{type(servicer).__name__} is not a {service.servicer_base.__name__}")
    for method in service.descriptor.methods:
        if getattr(type(servicer), method.name) is getattr(service.servicer_base, method.name):
            setattr(servicer, method.name, _unimplemented(method))
    service.add_to_server(servicer, server)
