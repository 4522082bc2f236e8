"""Shared fixtures: an in-process gateway on a loopback port, and paths to the project's tools."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from kite_gateway.config import Settings
from kite_gateway.event_loop import new_event_loop
from kite_gateway.grpc.server import Gateway
from kite_gateway.storage.sealing import Sealer
from tests.support.fixtures import SQLITE_ONLY, gateway_database, postgres_server, postgres_url  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], Any]]:
    """Every async test on the loop the gateway runs on (kite_gateway/event_loop.py)."""
    return {"gateway-loop": new_event_loop}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{SQLITE_ONLY}: about the SQLite file itself; keeps SQLite under KITE_GATEWAY_TEST_BACKEND=postgres"
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(gateway_listen="127.0.0.1:0", gateway_data_dir=tmp_path / "data", gateway_shutdown_grace=2)


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    server = Gateway(settings)
    await server.start()
    yield server
    await server.stop(0)


@pytest.fixture
async def channel(gateway: Gateway) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as chan:
        yield chan


def buf_binary() -> str:
    """The buf CLI installed from npm by the project's set-up (`make test` runs `npm ci`)."""
    found = ROOT / "node_modules" / ".bin" / "buf"
    if found.exists():
        return str(found)
    on_path = shutil.which("buf")
    if on_path:
        return on_path
    pytest.fail("buf CLI not found: run `npm ci` in the project root (make test does it)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GatewayProcess:
    """A `kite-gateway serve` child process on a loopback port."""

    def __init__(self, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "kite_gateway", "serve", "--listen", self.address]
        command += ["--data-dir", str(tmp_path / "data"), "--http-listen", f"127.0.0.1:{free_port()}", *args]
        key = {"KITE_GATEWAY_SECRET_KEY": Sealer.generate_key().decode()}
        self.proc = subprocess.Popen(
            command,
            env={**os.environ, **key, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_serving(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited with {self.proc.returncode}: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"gateway did not listen on {self.address} within {timeout}s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=10)


@pytest.fixture
def gateway_process(tmp_path: Path) -> Iterator[GatewayProcess]:
    proc = GatewayProcess(tmp_path)
    proc.wait_serving()
    yield proc
    proc.stop()
