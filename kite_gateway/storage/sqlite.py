"""The embedded SQLite database (the default): opened once, migrated to the newest schema at start,
used through aiosqlite (one connection, its own thread, so the event loop never blocks on disk)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from kite_gateway.storage.database import Database, DuplicateKey, Queries, Row, SchemaTooNew
from kite_gateway.storage.migrations import MIGRATIONS
from kite_gateway.storage.private_files import private_file, sqlite_files, tighten_database

DATABASE_FILE = "gateway.db"  # in the data directory


def set_aside_database(path: Path, suffix: str) -> Path | None:
    """Move a closed database and its WAL files to `<name><suffix>` beside it (still openable
    there), replacing an older one, so the next open starts an empty database; where it went, or
    None when there was none (blocking: run it on a thread)."""
    aside = path.with_name(path.name + suffix)
    if not path.exists():
        return None
    for source, target in zip(sqlite_files(path), sqlite_files(aside), strict=True):
        try:
            os.replace(source, target)
        except FileNotFoundError:  # no WAL left: remove an older one that would not match
            target.unlink(missing_ok=True)
    return aside


def _unique(error: sqlite3.IntegrityError) -> bool:
    return str(error).startswith("UNIQUE constraint failed")


class _Statements(Queries):
    """Statements on the one connection; `commit` says whether each commits by itself."""

    def __init__(self, db: aiosqlite.Connection, commit: bool) -> None:
        self._db = db
        self._commit = commit

    async def _run(self, sql: str, params: Iterable[Any]) -> aiosqlite.Cursor:
        try:
            cursor = await self._db.execute(sql, tuple(params))
        except sqlite3.IntegrityError as error:
            if self._commit:
                await self._db.rollback()
            if _unique(error):
                raise DuplicateKey(str(error)) from error
            raise
        if self._commit:
            await self._db.commit()
        return cursor

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        return (await self._run(sql, params)).rowcount

    async def insert(self, sql: str, params: Iterable[Any] = (), *, returning: str) -> int:
        cursor = await self._run(sql, params)
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            await self._db.executemany(sql, [tuple(row) for row in rows])
        except sqlite3.IntegrityError as error:
            if self._commit:
                await self._db.rollback()
            if _unique(error):
                raise DuplicateKey(str(error)) from error
            raise
        if self._commit:
            await self._db.commit()

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        async with self._db.execute(sql, tuple(params)) as cursor:
            row: Row | None = await cursor.fetchone()
            return row

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self._db.execute(sql, tuple(params)) as cursor:
            return list(await cursor.fetchall())


class SqliteDatabase(Database):
    """The gateway's database at `path` (created and migrated on open). Statements take turns: a
    transaction holds the connection until it ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._turn = asyncio.Lock()

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("database not open")
        return self._db

    async def open(self) -> None:
        # Owner-only before SQLite creates it (its -wal and -shm files take the database's mode),
        # and tightened if an older gateway left any of the three world-readable.
        await asyncio.to_thread(private_file, self.path)
        await asyncio.to_thread(tighten_database, self.path)
        self._db = await aiosqlite.connect(self.path)
        self._db.row_factory = aiosqlite.Row
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA foreign_keys=ON")
        await self._db.execute("PRAGMA busy_timeout=5000")
        await self.migrate()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def schema_version(self) -> int:
        async with self.db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def tables(self) -> set[str]:
        rows = await self.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {str(row["name"]) for row in rows}

    async def migrate(self) -> None:
        """Apply every migration newer than the database's version, each in its own transaction."""
        current = await self.schema_version()
        newest = MIGRATIONS[-1][0]
        if current > newest:
            raise SchemaTooNew(self.location, current, newest)
        for version, _description, sql in MIGRATIONS:
            if version <= current:
                continue
            await self.db.executescript(f"BEGIN; {sql}; PRAGMA user_version = {version}; COMMIT;")

    def _statements(self) -> _Statements:
        return _Statements(self.db, commit=True)

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        async with self._turn:
            return await self._statements().execute(sql, params)

    async def insert(self, sql: str, params: Iterable[Any] = (), *, returning: str) -> int:
        async with self._turn:
            return await self._statements().insert(sql, params, returning=returning)

    async def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self._turn:
            await self._statements().execute_many(sql, rows)

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        async with self._turn:
            return await self._statements().fetch_one(sql, params)

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self._turn:
            return await self._statements().fetch_all(sql, params)

    def transaction(self) -> AbstractAsyncContextManager[Queries]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Queries]:
        async with self._turn:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield _Statements(self.db, commit=False)
            except BaseException:
                await self.db.rollback()
                raise
            await self.db.commit()
