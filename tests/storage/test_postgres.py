"""What only the PostgreSQL backend does: migrate once when replicas start together, keep and check
its schema version in a table, and survive the server going away (UNAVAILABLE meanwhile, then
reconnecting by itself); its URL's password never shows."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import grpc
import pytest

from kite_gateway.errors import Status
from kite_gateway.grpc.status import grpc_code
from kite_gateway.storage import DatabaseUnavailable, PostgresDatabase, SchemaTooNew, open_database
from kite_gateway.storage.migrations import MIGRATIONS
from kite_gateway.storage.postgres import SCHEMA_TABLE, numbered, redacted
from tests.support.postgres import PostgresServer

NEWEST = MIGRATIONS[-1][0]


@pytest.fixture
async def database(postgres_url: str) -> AsyncIterator[PostgresDatabase]:
    opened = PostgresDatabase(postgres_url)
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
def managed(postgres_server: PostgresServer) -> PostgresServer:
    if not postgres_server.managed:
        pytest.skip("a configured server (KITE_GATEWAY_TEST_POSTGRES_URL) is not the tests' to stop")
    return postgres_server


async def _versions(url: str) -> list[int]:
    connection = await asyncpg.connect(url)
    try:
        return [row[0] for row in await connection.fetch(f"SELECT version FROM {SCHEMA_TABLE}")]
    finally:
        await connection.close()


async def test_three_replicas_opening_a_new_database_at_once_migrate_it_exactly_once(postgres_url: str) -> None:
    replicas = [PostgresDatabase(postgres_url) for _ in range(3)]
    try:
        await asyncio.gather(*(replica.open() for replica in replicas))
        assert [await replica.schema_version() for replica in replicas] == [NEWEST] * 3
        assert await _versions(postgres_url) == [NEWEST]
        await asyncio.gather(*(replica.execute("INSERT INTO meta (name, value) VALUES (?, ?)", (f"r{n}", "x"))
                               for n, replica in enumerate(replicas)))  # fmt: skip
        assert len(await replicas[0].fetch_all("SELECT name FROM meta")) == 3
    finally:
        await asyncio.gather(*(replica.close() for replica in replicas))


async def test_the_schema_version_is_kept_in_a_table_and_reopening_migrates_nothing(
    database: PostgresDatabase, postgres_url: str
) -> None:
    await database.execute("INSERT INTO meta (name, value) VALUES ('kept', 'yes')")
    again = PostgresDatabase(postgres_url)
    await again.open()
    try:
        assert await again.fetch_one("SELECT value FROM meta WHERE name = 'kept'") is not None
        assert await _versions(postgres_url) == [NEWEST]
    finally:
        await again.close()


async def test_a_database_migrated_by_a_newer_gateway_is_refused_at_open(
    database: PostgresDatabase, postgres_url: str
) -> None:
    await database.execute(f"UPDATE {SCHEMA_TABLE} SET version = ?", (NEWEST + 1,))
    older = PostgresDatabase(postgres_url)
    with pytest.raises(SchemaTooNew, match=f"schema version {NEWEST + 1}, newer than this gateway knows"):
        await older.open()
    assert "password" not in str(older.location) and older._pool is None  # closed again


async def test_a_stopped_server_answers_unavailable_then_the_pool_reconnects_by_itself(
    database: PostgresDatabase, managed: PostgresServer
) -> None:
    await database.execute("INSERT INTO meta (name, value) VALUES ('before', 'restart')")
    managed.stop()
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            await database.fetch_one("SELECT value FROM meta WHERE name = 'before'")
        assert caught.value.code is Status.UNAVAILABLE and grpc_code(caught.value.code) is grpc.StatusCode.UNAVAILABLE
        assert caught.value.retry_after is not None and caught.value.metadata == {"dependency": "database"}
        assert not await database.ping() and not database.available
    finally:
        managed.start()
    row = await database.fetch_one("SELECT value FROM meta WHERE name = 'before'")
    assert row is not None and row["value"] == "restart" and database.available and await database.ping()


async def _wait_for_query(url: str, text: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + 10
        query = "SELECT count(*) FROM pg_stat_activity WHERE query = $1 AND state = 'active'"
        while not await connection.fetchval(query, text):
            assert time.monotonic() < deadline, f"{text!r} never started"
            await asyncio.sleep(0.01)  # polling interval
    finally:
        await connection.close()


async def test_a_server_killed_mid_statement_fails_that_statement_unavailable_and_the_next_one_works(
    database: PostgresDatabase, managed: PostgresServer, postgres_url: str
) -> None:
    sleeping = "SELECT pg_sleep(30)"
    running = asyncio.create_task(database.fetch_one(sleeping))
    await _wait_for_query(postgres_url, sleeping)
    managed.kill()
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            await running
        assert grpc_code(caught.value.code) is grpc.StatusCode.UNAVAILABLE
    finally:
        managed.start()
    assert await database.execute("INSERT INTO meta (name, value) VALUES ('after', 'crash')") == 1
    assert [tuple(r) for r in await database.fetch_all("SELECT name, value FROM meta")] == [("after", "crash")]


async def test_a_server_that_is_down_at_start_fails_the_open_unavailable_without_the_password(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    database = open_database(f"postgresql://gw:hunter2-secret@127.0.0.1:{port}/kite", tmp_path)
    with pytest.raises(DatabaseUnavailable) as caught:
        await database.open()
    assert "hunter2" not in caught.value.message and f"127.0.0.1:{port}/kite" in caught.value.message


def test_question_marks_become_numbered_parameters_except_in_strings_identifiers_and_comments() -> None:
    assert numbered("SELECT ? , '?', \"a?\" FROM t WHERE a = ? -- why?\nAND b = ?") == (
        "SELECT $1 , '?', \"a?\" FROM t WHERE a = $2 -- why?\nAND b = $3"
    )
    assert numbered("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', $1"


def test_the_location_shown_in_messages_has_neither_password_nor_query() -> None:
    shown = redacted("postgresql://gw:s3cret@db.internal:5432/kite?sslpassword=other")
    assert shown == "postgresql://gw@db.internal:5432/kite"


def test_a_url_of_another_database_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="postgresql://"):
        open_database("mysql://gw@db/kite", tmp_path)
