"""Pytest fixtures for the real PostgreSQL server: one per test session, a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (KITE_GATEWAY_TEST_POSTGRES_URL's, or one started here)."""
    server = PostgresServer.from_environment()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    url = postgres_server.new_database()
    yield url
    if postgres_server.running or not postgres_server.managed:
        postgres_server.drop_database(url)
