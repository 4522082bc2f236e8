"""The alerts tests' ports: the SQLite alert store in a temporary directory and a clock they move."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kite_gateway.storage import AlertStore, SqliteDatabase
from tests.core.alerts.fakes import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    opened = SqliteDatabase(tmp_path / "gateway.db")
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
def store(database: SqliteDatabase) -> AlertStore:
    return AlertStore(database)
