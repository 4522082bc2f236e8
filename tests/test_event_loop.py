"""The loop the gateway runs on is the loop the suite runs on (kite_gateway/event_loop.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import uvloop

from kite_gateway import event_loop


async def test_async_tests_run_on_uvloop_as_the_served_gateway_does() -> None:
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)


def test_the_gateways_run_returns_what_its_coroutine_returns_on_uvloop() -> None:
    async def loop_kind() -> type:
        return type(asyncio.get_running_loop())

    assert event_loop.run(loop_kind()) is uvloop.Loop


def test_settling_the_heap_takes_what_is_alive_out_of_the_collectors_walks() -> None:
    """(In a process of its own: freezing this one would keep the rest of the suite's garbage.)"""
    script = "import gc; from kite_gateway.event_loop import settle_heap; settle_heap(); print(gc.get_freeze_count())"
    frozen = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert int(frozen.stdout) > 1000  # the interpreter's and the gateway's modules at least
