"""Order postbacks reach the app's URL with Kite's checksum and the reference payload's shape."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from kite_simulator.threaded import ThreadedSimulator
from kite_wire.checksums import postback_checksum
from tests.conftest import free_port
from tests.simulator.conftest import login, place, regular_hours
from tests.simulator.http.test_reference_shapes import REFERENCE, shape_errors


def test_each_order_change_is_posted_with_a_valid_checksum() -> None:
    port = free_port()
    received: list[dict[str, Any]] = []
    with ThreadedSimulator(regular_hours(postback_url=f"http://127.0.0.1:{port}/postback")) as running:

        async def collect(request: web.Request) -> web.Response:
            received.append(await request.json())
            return web.Response(text="ok")

        async def serve() -> web.AppRunner:
            app = web.Application()
            app.router.add_post("/postback", collect)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            return runner

        runner = running.run(serve())
        try:
            kite = login(running)
            order_id = place(kite)
            rejected = place(kite, transaction_type="SELL", quantity=99)
            deadline = time.monotonic() + 10
            while len(received) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            running.run(runner.cleanup())
            running.run(asyncio.sleep(0))
    assert [(p["order_id"], p["status"]) for p in received] == [(order_id, "COMPLETE"), (rejected, "REJECTED")]
    secret = "sim_api_secret"
    for payload in received:
        assert payload["checksum"] == postback_checksum(payload["order_id"], payload["order_timestamp"], secret)
        assert payload["user_id"] == "ZS0001" and payload["app_id"] == 1001
    reference = REFERENCE / "postback.json"
    if reference.exists():
        assert shape_errors([json.loads(reference.read_text())], received[0]) == []
