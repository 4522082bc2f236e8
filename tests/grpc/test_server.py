"""The gRPC server: every API service is served, reflected and health-checked; shutdown drains."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf.descriptor_pb2 import FileDescriptorProto
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from kite_gateway_api.v1 import account_pb2, account_pb2_grpc, market_data_pb2, market_data_pb2_grpc

from kite_gateway.config import Settings
from kite_gateway.grpc.registry import API_SERVICES
from kite_gateway.grpc.server import Gateway, StartupError

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
API_NAMES = {
    "kite_gateway.v1.AccountService",
    "kite_gateway.v1.OrderService",
    "kite_gateway.v1.PortfolioService",
    "kite_gateway.v1.MarketDataService",
    "kite_gateway.v1.SignalService",
    "kite_gateway.v1.AlertService",
    "kite_gateway.v1.ReportService",
}


def test_the_api_services_are_the_ones_registered() -> None:
    assert {service.full_name for service in API_SERVICES} == API_NAMES


async def test_reflection_lists_and_describes_every_service_without_proto_files(gateway: Gateway) -> None:
    def describe() -> tuple[set[str], dict[str, list[str]]]:
        with grpc.insecure_channel(f"127.0.0.1:{gateway.port}") as chan:
            database = ProtoReflectionDescriptorDatabase(chan)
            services = set(database.get_services())
            pool = DescriptorPool(database)
            methods = {name: [m.name for m in pool.FindServiceByName(name).methods] for name in API_NAMES}
        return services, methods

    services, methods = await asyncio.to_thread(describe)
    assert services == API_NAMES | {
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
    }
    for service in API_SERVICES:
        assert methods[service.full_name] == [m.name for m in service.descriptor.methods]


async def test_reflection_v1_answers_as_v1alpha_does_for_tools_that_ask_for_v1_first(channel: grpc.aio.Channel) -> None:
    ask = channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="kite_gateway.v1.OrderService"),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="grpc.reflection.v1.ServerReflection"),
    ]
    listed, order_file, itself = [reply async for reply in ask(iter(requests))]
    assert "grpc.reflection.v1.ServerReflection" in {s.name for s in listed.list_services_response.service}
    (first, *_) = order_file.file_descriptor_response.file_descriptor_proto
    assert FileDescriptorProto.FromString(first).name == "kite_gateway/v1/order.proto"
    files = [FileDescriptorProto.FromString(f) for f in itself.file_descriptor_response.file_descriptor_proto]
    assert [(f.name, f.package) for f in files] == [("grpc/reflection/v1/reflection.proto", "grpc.reflection.v1")]


async def test_health_reports_serving_for_the_server_and_each_service(channel: grpc.aio.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for name in ["", *sorted(API_NAMES)]:
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=name))
        assert reply.status == SERVING, name


async def test_health_of_an_unknown_service_is_not_found(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service="nope.Service"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_method_not_built_yet_answers_unimplemented_naming_itself(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await account_pb2_grpc.AccountServiceStub(channel).ListAccounts(account_pb2.ListAccountsRequest())
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "kite_gateway.v1.AccountService/ListAccounts is not implemented" in (caught.value.details() or "")


async def test_a_streaming_method_not_built_yet_answers_unimplemented(channel: grpc.aio.Channel) -> None:
    stream = market_data_pb2_grpc.MarketDataServiceStub(channel).StreamTicks(
        market_data_pb2.StreamTicksRequest(account_id="AB1234")
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stream.read()
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "MarketDataService/StreamTicks" in (caught.value.details() or "")


async def test_shutdown_turns_health_not_serving_before_the_server_goes_away(gateway: Gateway) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as chan:
        watch = health_pb2_grpc.HealthStub(chan).Watch(
            health_pb2.HealthCheckRequest(service="kite_gateway.v1.OrderService")
        )
        assert (await watch.read()).status == SERVING
        stopping = asyncio.create_task(gateway.stop(grace=1))
        async with asyncio.timeout(5):
            assert (await watch.read()).status == NOT_SERVING
        await stopping


class SlowAccounts(account_pb2_grpc.AccountServiceServicer):
    """ListAccounts takes a while, so a call can be in flight when shutdown begins."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def ListAccounts(
        self, request: account_pb2.ListAccountsRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.ListAccountsResponse:
        self.started.set()
        await asyncio.sleep(0.5)
        return account_pb2.ListAccountsResponse(accounts=[account_pb2.Account(account_id="AB1234")])


async def test_shutdown_lets_an_in_flight_call_finish_and_refuses_new_ones(settings: Settings) -> None:
    accounts = SlowAccounts()  # type: ignore[abstract]  # the other methods answer UNIMPLEMENTED
    gateway = Gateway(settings, servicers={"kite_gateway.v1.AccountService": accounts})
    await gateway.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as chan:
        stub = account_pb2_grpc.AccountServiceStub(chan)
        in_flight = asyncio.ensure_future(stub.ListAccounts(account_pb2.ListAccountsRequest()))
        await accounts.started.wait()
        stopping = asyncio.create_task(gateway.stop(grace=5))
        reply = await in_flight
        assert [a.account_id for a in reply.accounts] == ["AB1234"]
        await stopping
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListAccounts(account_pb2.ListAccountsRequest(), timeout=2)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_port_in_use_is_reported_with_what_to_do(gateway: Gateway, settings: Settings) -> None:
    second = Gateway(settings.model_copy(update={"gateway_listen": f"127.0.0.1:{gateway.port}"}))
    with pytest.raises(StartupError, match=r"cannot listen on 127\.0\.0\.1:\d+.*--listen"):
        await second.start()


async def test_an_unwritable_data_directory_is_reported(settings: Settings, tmp_path: object) -> None:
    blocker = settings.gateway_data_dir.parent / "a-file"
    blocker.write_text("")
    gateway = Gateway(settings.model_copy(update={"gateway_data_dir": blocker / "data"}))
    with pytest.raises(StartupError, match=r"data directory .* is not usable"):
        await gateway.start()
