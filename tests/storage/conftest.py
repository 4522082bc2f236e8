"""The storage tests run against both backends: the embedded SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kite_gateway.storage import Database, open_database

BACKENDS = ("sqlite", "postgres")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None for SQLite; a fresh PostgreSQL database's URL for PostgreSQL."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def database(database_url: str | None, tmp_path: Path) -> AsyncIterator[Database]:
    """An opened, migrated database of each backend."""
    opened = open_database(database_url, tmp_path)
    await opened.open()
    yield opened
    await opened.close()
