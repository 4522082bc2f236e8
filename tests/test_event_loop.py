"""The loop the gateway runs on is the loop the suite runs on (kite_gateway/event_loop.py)."""

from __future__ import annotations

import asyncio

import uvloop

from kite_gateway import event_loop


async def test_async_tests_run_on_uvloop_as_the_served_gateway_does() -> None:
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)


def test_the_gateways_run_returns_what_its_coroutine_returns_on_uvloop() -> None:
    async def loop_kind() -> type:
        return type(asyncio.get_running_loop())

    assert event_loop.run(loop_kind()) is uvloop.Loop
