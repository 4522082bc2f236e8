"""The transcoder's own answers, before or without the gateway's server: a server that is not up
is 503 UNAVAILABLE as JSON, and a refusal by the transcoder never reaches the server."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from google.api import http_pb2

from kite_gateway.http import JsonApi, Router, bindings_of
from tests.http.test_bindings import method


def api(target: str) -> web.Application:
    rule = http_pb2.HttpRule(get="/v1/accounts/{account_id}/orders")
    transcoder = JsonApi(Router(bindings_of(method("ListOrders"), rule)), target)
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
