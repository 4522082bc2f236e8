"""A stream that fails after it started ends with one error event (or JSON line) carrying the
google.rpc.Status, and the call is cancelled whatever way the stream ends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import grpc
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from google.protobuf.message import Message
from kite_gateway_api.v1 import common_pb2, order_pb2

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.grpc import STATUS_DETAILS_KEY, rpc_status
from kite_gateway.http.sse import sse_event, stream_response
from kite_gateway.http.transcoding import to_json


class FakeCall:
    cancelled = False

    def cancel(self) -> bool:
        self.cancelled = True
        return True


def heartbeat() -> order_pb2.StreamOrderUpdatesResponse:
    return order_pb2.StreamOrderUpdatesResponse(heartbeat=common_pb2.Heartbeat())


async def failing() -> AsyncIterator[Message]:
    yield heartbeat()
    error = GatewayError(Status.UNAVAILABLE, Reason.GATEWAY_SHUTTING_DOWN, "the gateway is stopping")
    trailing = grpc.aio.Metadata((STATUS_DETAILS_KEY, rpc_status(error).SerializeToString()))
    raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), trailing, "the gateway is stopping")


async def serve_once(accept: str) -> tuple[str, FakeCall]:
    call = FakeCall()

    async def handler(request: web.Request) -> web.StreamResponse:
        return await stream_response(request, heartbeat(), failing(), call, to_json)

    app = web.Application()
    app.router.add_get("/s", handler)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/s", headers={"Accept": accept})
        assert response.status == 200
        return await response.text(), call


async def test_a_failure_mid_stream_is_one_last_error_event_with_the_status() -> None:
    text, call = await serve_once("text/event-stream")
    events = [block for block in text.split("\n\n") if block]
    assert len(events) == 3 and events[0] == events[1]
    kind, data = events[2].split("\n")
    assert kind == "event: error"
    status = json.loads(data.removeprefix("data: "))
    assert status["code"] == 14 and status["details"][0]["reason"] == "GATEWAY_SHUTTING_DOWN"
    assert call.cancelled


async def test_a_failure_mid_stream_is_an_error_line_when_json_lines_were_asked_for() -> None:
    text, _ = await serve_once("application/x-ndjson")
    lines = [json.loads(line) for line in text.splitlines()]
    assert [next(iter(line)) for line in lines] == ["result", "result", "error"]
    assert lines[0]["result"]["heartbeat"]["upstream_state"] == "UPSTREAM_STATE_UNSPECIFIED"
    assert lines[2]["error"]["message"] == "the gateway is stopping"


def test_an_event_is_one_data_line_and_a_blank_line() -> None:
    assert sse_event('{"a": 1}') == b'data: {"a": 1}\n\n'
    assert sse_event("{}", "error") == b"event: error\ndata: {}\n\n"
