"""The aiohttp poster against a local server: it sends the body and headers as given, answers the
status without following a redirect, raises on a timeout; and the deliverer over it delivers an
alert whose signature the receiver verifies from the raw bytes it got."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kite_gateway.core.alerts import (
    SEQUENCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Alert,
    AlertKind,
    Severity,
    WebhookDeliverer,
    WebhookSink,
    verify,
)
from kite_gateway.http.webhook_poster import AiohttpPoster
from kite_gateway.storage import DELIVERED, AlertStore, SqliteDatabase

T0 = datetime(2026, 12, 3, 9, 15, tzinfo=UTC)
SECRET = "receiver-shared-secret"


class Receiver:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.never = asyncio.Event()

    async def ok(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        return web.Response(status=200)

    async def fail(self, request: web.Request) -> web.Response:
        return web.Response(status=503)

    async def moved(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/ok")

    async def slow(self, request: web.Request) -> web.Response:
        await self.never.wait()
        return web.Response(status=200)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, TestServer]]:
    hooks = Receiver()
    app = web.Application()
    app.router.add_post("/ok", hooks.ok)
    app.router.add_post("/fail", hooks.fail)
    app.router.add_post("/moved", hooks.moved)
    app.router.add_post("/slow", hooks.slow)
    server = TestServer(app)
    await server.start_server()
    yield hooks, server
    hooks.never.set()
    await server.close()


async def test_the_poster_sends_body_and_headers_and_answers_the_status_without_following_redirects(
    receiver: tuple[Receiver, TestServer],
) -> None:
    hooks, server = receiver
    poster = AiohttpPoster(timeout=5)
    try:
        assert await poster.post(str(server.make_url("/ok")), b'{"a":"1"}', {"X-Test": "yes"}) == 200
        assert await poster.post(str(server.make_url("/fail")), b"{}", {}) == 503
        assert await poster.post(str(server.make_url("/moved")), b"{}", {}) == 302
    finally:
        await poster.close()
    [(headers, body)] = hooks.received  # the redirect was not followed to /ok
    assert body == b'{"a":"1"}' and headers["X-Test"] == "yes"


async def test_a_receiver_that_does_not_answer_in_time_is_a_timeout(receiver: tuple[Receiver, TestServer]) -> None:
    _, server = receiver
    poster = AiohttpPoster(timeout=0.2)
    try:
        with pytest.raises(TimeoutError):
            await poster.post(str(server.make_url("/slow")), b"{}", {})
    finally:
        await poster.close()


async def test_the_deliverer_over_http_delivers_an_alert_the_receiver_verifies(
    receiver: tuple[Receiver, TestServer], tmp_path: Path
) -> None:
    hooks, server = receiver
    database = SqliteDatabase(tmp_path / "gateway.db")
    await database.open()
    poster = AiohttpPoster(timeout=5)
    try:
        store = AlertStore(database)
        fields = {"kept_order_id": "1", "duplicate_order_id": "2"}
        alert = Alert("dup", AlertKind.DUPLICATE_DETECTED, Severity.CRITICAL, "ZS0001", "Duplicate order",
                      "Account ZS0001 has two orders", fields, T0)  # fmt: skip
        await store.append([alert], deliver_to=[["ops"]], now=T0)
        sink = WebhookSink("ops", str(server.make_url("/ok")), "OPS_SECRET", SECRET)
        assert await WebhookDeliverer(store, [sink], poster, clock=lambda: T0).deliver_due() == 1
        [(headers, body)] = hooks.received
        assert headers[SEQUENCE_HEADER] == "1" and headers["Content-Type"] == "application/json"
        assert verify(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
        delivery = await store.delivery("ops", 1)
        assert delivery is not None and delivery.state == DELIVERED
    finally:
        await poster.close()
        await database.close()
