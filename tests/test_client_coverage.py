"""Every RPC of every service in kite_gateway_api.v1 is a method of both Python clients, of the
snake_case name of the RPC, taking its request message as `request=`; server streams are (async)
iterators, the rest coroutines on AsyncGatewayClient."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import kite_gateway_api.v1
from google.protobuf.descriptor import MethodDescriptor
from kite_gateway_client import AsyncGatewayClient, GatewayClient


def rpcs() -> Iterator[MethodDescriptor]:
    for info in pkgutil.iter_modules(kite_gateway_api.v1.__path__):
        if info.name.endswith("_pb2"):
            module = importlib.import_module(f"kite_gateway_api.v1.{info.name}")
            for service in module.DESCRIPTOR.services_by_name.values():
                yield from service.methods


def method_name(rpc: MethodDescriptor) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", rpc.name).lower()


def test_the_descriptors_list_the_four_services() -> None:
    services = {rpc.containing_service.name for rpc in rpcs()}
    assert {"AccountService", "OrderService", "PortfolioService", "MarketDataService"} <= services


def test_every_rpc_has_a_method_on_both_clients() -> None:
    missing = [
        f"{client.__name__}.{method_name(rpc)} ({rpc.full_name})"
        for rpc in rpcs()
        for client in (AsyncGatewayClient, GatewayClient)
        if not callable(getattr(client, method_name(rpc), None))
    ]
    assert not missing, "RPCs without a client method: " + ", ".join(missing)


def test_every_method_takes_its_request_message_and_streams_are_iterators() -> None:
    wrong = []
    for rpc in rpcs():
        method = getattr(AsyncGatewayClient, method_name(rpc), None)
        if method is None:
            continue  # reported by the test above
        request = inspect.signature(method).parameters.get("request")
        if request is None or rpc.input_type.name not in str(request.annotation):
            wrong.append(f"{rpc.name}: no request: {rpc.input_type.name} | None parameter")
        streams = inspect.isasyncgenfunction(method)
        if rpc.server_streaming != streams:
            wrong.append(f"{rpc.name}: {'an async iterator' if rpc.server_streaming else 'a coroutine'} expected")
        if not rpc.server_streaming and not inspect.iscoroutinefunction(method):
            wrong.append(f"{rpc.name}: not a coroutine function")
    assert not wrong, wrong


def test_the_blocking_client_has_the_async_clients_signatures() -> None:
    differ = [
        rpc.name
        for rpc in rpcs()
        if hasattr(GatewayClient, method_name(rpc))
        and inspect.signature(getattr(GatewayClient, method_name(rpc))).parameters.keys()
        != inspect.signature(getattr(AsyncGatewayClient, method_name(rpc))).parameters.keys()
    ]
    assert not differ, differ


def test_the_guides_table_of_methods_names_every_rpcs_method_under_its_service() -> None:
    guide = Path(__file__).resolve().parent.parent / "clients" / "README.md"
    table = {
        row.split("|")[1].strip(): set(re.findall(r"`(\w+)`", row.split("|")[2]))
        for row in guide.read_text().splitlines()
        if row.startswith("| ") and row.endswith(" |") and row.split("|")[1].strip().endswith("Service")
    }
    missing = [
        f"{rpc.containing_service.name}: {method_name(rpc)}"
        for rpc in rpcs()
        if rpc.containing_service.full_name.startswith("kite_gateway.v1.")
        and method_name(rpc) not in table.get(rpc.containing_service.name, set())
    ]
    assert not missing, "clients/README.md's table of methods lacks " + ", ".join(missing)
