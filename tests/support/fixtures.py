"""Pytest fixtures for the real PostgreSQL server: one per test session, a fresh database per test,
and the switch KITE_GATEWAY_TEST_BACKEND=postgres that runs the gateway of every test on one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer

BACKEND_ENV = "KITE_GATEWAY_TEST_BACKEND"  # "sqlite" (the default) or "postgres"
SQLITE_ONLY = "sqlite_only"  # the marker of a test about the SQLite file itself (its modes, its size)
# Tests of parts below the gateway's composition: they never open its App, so never need a database.
NO_APP = ("wire", "kite", "simulator", "core", "storage", "streaming", "auth", "observability", "support")
TESTS = Path(__file__).resolve().parent.parent


def selected_backend() -> str:
    backend = os.environ.get(BACKEND_ENV, "sqlite")
    if backend not in ("sqlite", "postgres"):
        raise pytest.UsageError(f"{BACKEND_ENV} must be sqlite or postgres, not {backend!r}")
    return backend


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


def _may_open_the_app(request: pytest.FixtureRequest) -> bool:
    path = Path(str(request.node.path)).resolve()
    try:
        first = path.relative_to(TESTS).parts[0]
    except ValueError:
        return False
    return first not in NO_APP and request.node.get_closest_marker(SQLITE_ONLY) is None


@pytest.fixture(autouse=True)
def gateway_database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """With KITE_GATEWAY_TEST_BACKEND=postgres, every gateway a test starts (its Settings come from
    the environment, in process or as a child process) uses a fresh PostgreSQL database."""
    if selected_backend() != "postgres" or not _may_open_the_app(request):
        return
    url: str = request.getfixturevalue("postgres_url")
    monkeypatch.setenv("KITE_GATEWAY_DATABASE_URL", url)
