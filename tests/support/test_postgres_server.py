"""The test suite's own PostgreSQL server: fresh databases, and a crash it comes back from."""

from __future__ import annotations

import asyncpg
import pytest

from tests.support.postgres import PostgresServer


async def _count_tables(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
    finally:
        await connection.close()


async def test_each_new_database_is_empty_and_separate(postgres_server: PostgresServer) -> None:
    first, second = postgres_server.new_database(), postgres_server.new_database()
    assert first != second
    connection = await asyncpg.connect(first)
    try:
        await connection.execute("CREATE TABLE only_in_first (n BIGINT)")
    finally:
        await connection.close()
    assert await _count_tables(first) == 1
    assert await _count_tables(second) == 0


async def test_server_killed_with_sigkill_starts_again_with_its_data(postgres_server: PostgresServer) -> None:
    if not postgres_server.managed:
        pytest.skip("a configured server is not the tests' to kill")
    url = postgres_server.new_database()
    connection = await asyncpg.connect(url)
    await connection.execute("CREATE TABLE kept (n BIGINT); INSERT INTO kept VALUES (7)")
    postgres_server.kill()
    assert not postgres_server.running
    with pytest.raises((asyncpg.PostgresConnectionError, ConnectionError, OSError)):
        await connection.fetchval("SELECT 1")
    connection.terminate()
    postgres_server.start()
    connection = await asyncpg.connect(url)
    try:
        assert await connection.fetchval("SELECT n FROM kept") == 7
    finally:
        await connection.close()


def test_url_shown_in_messages_has_no_password(postgres_server: PostgresServer) -> None:
    password = postgres_server.url.split("@")[0].rpartition(":")[2]
    assert password and password not in postgres_server.safe_url
