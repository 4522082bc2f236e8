"""The PostgreSQL database (clustered mode, KITE_GATEWAY_DATABASE_URL): an asyncpg pool, the same
migrations as SQLite (their column types translated), the schema version in a table, and
migrating under an advisory lock so that replicas starting together migrate once.

A lost connection (the server restarting, the network) surfaces as DatabaseUnavailable
(UNAVAILABLE); the pool replaces its connections and the next statement connects again."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import structlog

from kite_gateway.storage.database import Database, DatabaseUnavailable, DuplicateKey, Queries, Row, SchemaTooNew
from kite_gateway.storage.migrations import MIGRATIONS, postgres_ddl

log = structlog.get_logger(__name__)

SCHEMA_TABLE = "schema_version"
MIGRATION_LOCK = 0x6B69_7465_6777_0001  # the advisory lock key migrations take ("kitegw" 1): any fixed bigint

# What a lost or refused connection raises: the server shut down, crashed or is starting, the
# socket broke, or the connection or statement timed out.
CONNECTION_LOST: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    OSError,
    TimeoutError,
)

_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|\?")


@lru_cache(maxsize=4096)
def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, ...` (never inside a string, an identifier or a comment)."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if match.group() != "?":
            return match.group()
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(replace, sql)


def redacted(url: str) -> str:
    """The URL as messages show it: no password, no query (it may carry one too)."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{user}{parts.hostname or ''}{port}{parts.path}"


def _changed(status: str) -> int:
    """Rows a statement changed, from its status ("INSERT 0 1", "UPDATE 3", "CREATE TABLE")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


def _lost(error: BaseException) -> bool:
    if isinstance(error, CONNECTION_LOST):
        return True
    return isinstance(error, asyncpg.InterfaceError) and "connection" in str(error) and "closed" in str(error)


class _Statements(Queries):
    """Statements on one connection."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, params: Iterable[Any] = (), *, synced: bool = True) -> int:
        return _changed(await self._connection.execute(numbered(sql), *params))

    async def insert(self, sql: str, params: Iterable[Any] = (), *, returning: str) -> int:
        return int(await self._connection.fetchval(f"{numbered(sql)} RETURNING {returning}", *params))

    async def returning(self, sql: str, params: Iterable[Any] = (), *, synced: bool = True) -> Row | None:
        row: Row | None = await self._connection.fetchrow(numbered(sql), *params)
        return row

    async def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(row) for row in rows]
        if batch:
            await self._connection.executemany(numbered(sql), batch)  # atomic: in a transaction of its own

    async def execute_each(self, sql: str, rows: Iterable[Sequence[Any]]) -> list[int]:
        statement = numbered(sql)
        async with self._connection.transaction():  # a savepoint inside an open transaction
            return [_changed(await self._connection.execute(statement, *row)) for row in rows]

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        row: Row | None = await self._connection.fetchrow(numbered(sql), *params)
        return row

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return list(await self._connection.fetch(numbered(sql), *params))


# The advisory lock key of "how this database is used" (claim): any constant the gateway alone uses.
USE_LOCK = 0x6B6974_6567_77  # "kitegw"


class PostgresDatabase(Database):
    """The gateway's database in PostgreSQL at `url` (a postgresql:// URL; it may carry a password,
    so it is never logged: `location` is the URL without it)."""

    def __init__(
        self,
        url: str,
        *,
        min_connections: int = 1,
        max_connections: int = 10,
        connect_timeout: float = 5.0,
        statement_timeout: float = 30.0,
    ) -> None:
        self._url = url
        self._min = min_connections
        self._max = max_connections
        self._connect_timeout = connect_timeout
        self._statement_timeout = statement_timeout
        self._pool: asyncpg.Pool | None = None
        self._claim: asyncpg.Connection | None = None

    @property
    def location(self) -> str:
        return redacted(self._url)

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("database not open")
        return self._pool

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self._url,
                min_size=self._min,
                max_size=self._max,
                timeout=self._connect_timeout,
                command_timeout=self._statement_timeout,
                server_settings={"application_name": "kite-gateway"},
            )
        except Exception as error:
            if _lost(error):
                raise DatabaseUnavailable(f"cannot connect to {self.location}: {_describe(error)}") from None
            raise
        try:
            await self.migrate()
        except BaseException:
            await self.close()
            raise

    async def claim(self, shared: bool) -> bool:
        """Hold, while this database is open, the lock saying how it is used: shared by the replicas
        of one cluster (`shared`), or exclusively by one gateway process alone. False, holding
        nothing, when the other kind (or, exclusively, any other process) holds it: a start-time
        guard against a second single process, or a single process beside a cluster, on one database."""
        connection = await asyncpg.connect(self._url, timeout=self._connect_timeout)
        function = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
        if await connection.fetchval(f"SELECT {function}($1)", USE_LOCK):
            self._claim = connection
            return True
        await connection.close()
        return False

    async def close(self) -> None:
        if self._claim is not None:
            claim, self._claim = self._claim, None
            claim.terminate()  # its session ends, and its lock with it
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                async with asyncio.timeout(10):
                    await pool.close()
            except TimeoutError:
                pool.terminate()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; its failures translated (a lost one makes the pool start afresh)."""
        pool = self.pool
        try:
            async with pool.acquire(timeout=self._connect_timeout) as connection:
                yield connection
        except asyncpg.UniqueViolationError as error:
            raise DuplicateKey(str(error)) from error
        except Exception as error:
            if not _lost(error):
                raise
            await pool.expire_connections()  # the others are likely broken too: reconnect on next use
            if self.available:
                log.warning("database.unavailable", location=self.location, error=_describe(error))
            self.available = False
            raise DatabaseUnavailable(_describe(error)) from None
        if not self.available:
            log.info("database.available", location=self.location)
            self.available = True

    async def schema_version(self) -> int:
        async with self._connection() as connection:
            return await _version(connection)

    async def tables(self) -> set[str]:
        rows = await self.fetch_all("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return {str(row["tablename"]) for row in rows}

    async def migrate(self) -> None:
        """Apply every migration newer than the database's version, in one transaction under an
        advisory lock: a replica starting meanwhile waits, then finds the schema migrated."""
        newest = MIGRATIONS[-1][0]
        async with self._connection() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await connection.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (version BIGINT NOT NULL)")
            current = await _version(connection)
            if current > newest:
                raise SchemaTooNew(self.location, current, newest)
            if current == newest:
                return
            for version, description, sql in MIGRATIONS:
                if version > current:
                    await connection.execute(postgres_ddl(sql))
                    log.info("database.migrated", version=version, description=description)
            await connection.execute(f"DELETE FROM {SCHEMA_TABLE}")
            await connection.execute(f"INSERT INTO {SCHEMA_TABLE} (version) VALUES ($1)", newest)

    async def execute(self, sql: str, params: Iterable[Any] = (), *, synced: bool = True) -> int:
        async with self._connection() as connection:
            return await _Statements(connection).execute(sql, params)

    async def insert(self, sql: str, params: Iterable[Any] = (), *, returning: str) -> int:
        async with self._connection() as connection:
            return await _Statements(connection).insert(sql, params, returning=returning)

    async def returning(self, sql: str, params: Iterable[Any] = (), *, synced: bool = True) -> Row | None:
        async with self._connection() as connection:  # every commit synced (synchronous_commit as configured)
            return await _Statements(connection).returning(sql, params)

    async def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self._connection() as connection:
            await _Statements(connection).execute_many(sql, rows)

    async def execute_each(self, sql: str, rows: Iterable[Sequence[Any]]) -> list[int]:
        async with self._connection() as connection:
            return await _Statements(connection).execute_each(sql, rows)

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        async with self._connection() as connection:
            return await _Statements(connection).fetch_one(sql, params)

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self._connection() as connection:
            return await _Statements(connection).fetch_all(sql, params)

    def transaction(self) -> AbstractAsyncContextManager[Queries]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Queries]:
        async with self._connection() as connection, connection.transaction():
            yield _Statements(connection)


async def _version(connection: asyncpg.Connection) -> int:
    exists = await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", SCHEMA_TABLE)
    if not exists:
        return 0
    return int(await connection.fetchval(f"SELECT COALESCE(MAX(version), 0) FROM {SCHEMA_TABLE}"))


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
