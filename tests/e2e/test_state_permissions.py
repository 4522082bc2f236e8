"""The gateway's state (order book, audit trail, sealed credentials, recordings) is readable by
the gateway alone: directories 0700, files 0600, and loose ones left by older versions are
tightened at start."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kite_gateway.app import App
from kite_gateway.config import Settings
from kite_gateway.streaming.recorder import FrameRecorder
from kite_simulator import ThreadedSimulator
from tests.e2e.conftest import start_stack, stop_stack

pytestmark = pytest.mark.sqlite_only  # the modes of the SQLite file and its WAL


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_data_directory_and_the_database_with_its_wal_and_shm_are_readable_by_the_gateway_alone(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    stack = await start_stack(tmp_path, sim, sealing_key)  # it makes data/ with the default 0755 first
    try:
        data = stack.settings.gateway_data_dir
        files = {p.name: mode(p) for p in data.iterdir()}
        assert mode(data) == 0o700
        assert {"gateway.db", "gateway.db-wal", "gateway.db-shm"} <= set(files)
        assert all(m == 0o600 for m in files.values()), {n: oct(m) for n, m in files.items()}
    finally:
        await stop_stack(stack)


async def test_a_world_readable_data_directory_database_and_key_left_by_an_older_gateway_are_tightened_at_start(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    settings = Settings(gateway_data_dir=data)
    runtime = await App.open(settings, paper=True)  # creates the database and the paper key
    await runtime.close()
    os.chmod(data, 0o755)
    for path in data.iterdir():
        os.chmod(path, 0o644)
    runtime = await App.open(settings, paper=True)
    try:
        assert mode(data) == 0o700
        loose = {p.name: oct(mode(p)) for p in data.iterdir() if mode(p) != 0o600}
        assert not loose and (data / "secret.key").exists() and (data / "gateway.db").exists()
    finally:
        await runtime.close()


async def test_ticker_recordings_and_their_directory_are_readable_by_the_gateway_alone(tmp_path: Path) -> None:
    directory = tmp_path / "recordings"
    directory.mkdir(mode=0o755)
    recorder = await FrameRecorder.create(directory, "ZS0001")
    recorder.record(0, '{"type": "order", "data": {}}')
    await recorder.close()
    assert mode(directory) == 0o700 and mode(recorder.path) == 0o600
