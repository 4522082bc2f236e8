"""The transcoder's own answers, before or without the gateway's server: a server that is not up
is 503 UNAVAILABLE as JSON, and a refusal by the transcoder never reaches the server (which would
answer 503 here), including a body announced or made larger than a request may be."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from google.api import http_pb2
from yarl import URL

from kite_gateway.http import JsonApi, Router, bindings_of
from tests.http.test_bindings import method


def api(target: str) -> web.Application:
    rule = http_pb2.HttpRule(get="/v1/accounts/{account_id}/orders")
    kill = http_pb2.HttpRule(post="/v1/accounts/{account_id}/killSwitch", body="*")
    bindings = bindings_of(method("ListOrders"), rule) + bindings_of(method("SetKillSwitch"), kill)
    transcoder = JsonApi(Router(bindings), target)
    app = web.Application()
    transcoder.mount(app)
    app.on_cleanup.append(lambda _app: transcoder.close())
    return app


async def test_a_gateway_server_that_is_not_listening_is_503_unavailable_as_json(tmp_path: Path) -> None:
    async with TestClient(TestServer(api(f"unix:{tmp_path}/absent.sock"))) as client:
        response = await client.get("/v1/accounts/ZS0001/orders")
        assert response.status == 503 and response.content_type == "application/json"
        assert (await response.json())["code"] == 14


async def test_a_request_the_transcoder_refuses_is_answered_without_the_server(tmp_path: Path) -> None:
    async with TestClient(TestServer(api(f"unix:{tmp_path}/absent.sock"))) as client:
        response = await client.get("/v1/accounts/ZS0001/orders?statuses=SOMETIMES")
        assert response.status == 400
        body = await response.json()
        assert body["details"][1]["field_violations"][0]["field"] == "statuses"


async def test_a_body_announced_larger_than_the_limit_is_413_before_it_is_read(tmp_path: Path) -> None:
    async with TestClient(TestServer(api(f"unix:{tmp_path}/absent.sock"))) as client:
        reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
        writer.write(
            b"POST /v1/accounts/ZS0001/killSwitch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 999999999\r\n\r\n{"
        )  # and no more: before the fix the server waited for the rest of the gigabyte
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n")
        writer.close()
        assert head.startswith(b"HTTP/1.1 413")


async def test_a_request_message_larger_than_grpc_takes_is_413_not_grpcs_429(tmp_path: Path) -> None:
    async with TestClient(TestServer(api(f"unix:{tmp_path}/absent.sock"))) as client:
        body = json.dumps({"enabled": True, "reason": "x" * 1_500_000})  # within the JSON limit, over gRPC's
        response = await client.post("/v1/accounts/ZS0001/killSwitch", data=body)
        assert response.status == 413 and "1048576 bytes of request message" in (await response.json())["message"]


async def test_a_forwarded_header_longer_than_grpc_metadata_holds_is_refused_naming_it(tmp_path: Path) -> None:
    async with TestClient(TestServer(api(f"unix:{tmp_path}/absent.sock"))) as client:
        response = await client.get("/v1/accounts/ZS0001/orders", headers={"X-Request-Id": "r" * 5000})
        assert response.status == 400
        assert (await response.json())["details"][1]["field_violations"][0]["field"] == "x-request-id"


async def test_a_path_with_an_encoded_newline_or_only_the_prefix_is_answered_as_json(tmp_path: Path) -> None:
    async with TestClient(TestServer(api(f"unix:{tmp_path}/absent.sock"))) as client:
        for path in ("/v1/accounts/%0D%0ASet-Cookie:%20x=1/orders", "/v1/accounts/ZS0001/orders%0A", "/v1"):
            response = await client.get(URL(path, encoded=True))
            assert response.content_type == "application/json", path  # aiohttp's own text/plain 404 before
            assert response.status in (404, 503) and "Set-Cookie" not in response.headers  # 503: no server here
