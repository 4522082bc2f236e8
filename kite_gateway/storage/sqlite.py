"""The embedded SQLite database (the default): opened once, migrated to the newest schema at start,
used through one connection on a thread of its own (so the event loop never blocks on disk), each
statement one trip to that thread and back."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from kite_gateway.storage.database import Database, DuplicateKey, Queries, Row, SchemaTooNew
from kite_gateway.storage.migrations import MIGRATIONS
from kite_gateway.storage.private_files import private_file, sqlite_files, tighten_database

DATABASE_FILE = "gateway.db"  # in the data directory
T = TypeVar("T")


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


# What runs on the database's thread: each is one trip there and back, whatever it does (aiosqlite
# took two or three per statement: execute, fetch, close the cursor, commit).


def _write(db: sqlite3.Connection, sql: str, params: tuple[Any, ...], commit: bool) -> tuple[int, int | None]:
    """(rows changed, the new row's id) of one statement, committed when `commit`."""
    try:
        cursor = db.execute(sql, params)
    except sqlite3.IntegrityError as error:
        if commit:
            db.rollback()
        if _unique(error):
            raise DuplicateKey(str(error)) from error
        raise
    if commit:
        db.commit()
    return cursor.rowcount, cursor.lastrowid


def _write_many(db: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]], commit: bool) -> None:
    try:
        db.executemany(sql, rows)
    except sqlite3.IntegrityError as error:
        if commit:
            db.rollback()
        if _unique(error):
            raise DuplicateKey(str(error)) from error
        raise
    if commit:
        db.commit()


def _write_each(db: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]], commit: bool) -> list[int]:
    """Rows changed by each statement, all committed at once when `commit` (one fsync for all)."""
    try:
        changed = [db.execute(sql, row).rowcount for row in rows]
    except BaseException as error:
        if commit:
            db.rollback()
        if isinstance(error, sqlite3.IntegrityError) and _unique(error):
            raise DuplicateKey(str(error)) from error
        raise
    if commit:
        db.commit()
    return changed


def _returning(
    db: sqlite3.Connection, sql: str, params: tuple[Any, ...], commit: bool, synced: bool = True
) -> Row | None:
    unsynced = commit and not synced
    if unsynced:  # into the WAL without an fsync: the next synced commit's fsync of the WAL takes it to disk
        db.execute("PRAGMA synchronous=NORMAL")  # (set outside a transaction, as SQLite requires)
    try:
        try:
            rows = db.execute(sql, params).fetchall()  # every row stepped: the statement is done before the commit
        except sqlite3.IntegrityError as error:
            if commit:
                db.rollback()
            if _unique(error):
                raise DuplicateKey(str(error)) from error
            raise
        if commit:
            db.commit()
    finally:
        if unsynced:
            if db.in_transaction:  # it failed before its commit: undone (it was its own transaction)
                db.rollback()
            db.execute("PRAGMA synchronous=FULL")
    return rows[0] if rows else None


def _fetch_one(db: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> Row | None:
    cursor = db.execute(sql, params)
    try:
        row: Row | None = cursor.fetchone()
        return row
    finally:
        cursor.close()


def _fetch_all(db: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[Row]:
    return list(db.execute(sql, params).fetchall())


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=5000")
    db.execute("PRAGMA synchronous=FULL")  # every commit fsynced (the default, said since _returning restores it)
    return db


class _Connection:
    """The one sqlite3 connection and the one thread that uses it, so the event loop never blocks
    on disk; calls run on the thread in the order they were made."""

    def __init__(self, db: sqlite3.Connection, thread: ThreadPoolExecutor) -> None:
        self._db = db
        self._thread = thread

    @classmethod
    async def open(cls, path: Path) -> _Connection:
        thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite")
        db = await asyncio.get_running_loop().run_in_executor(thread, _connect, path)
        return cls(db, thread)

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        """`call(connection, *args)` on the database's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, call, self._db, *args)

    async def close(self) -> None:
        try:
            await self.run(sqlite3.Connection.close)
        finally:
            self._thread.shutdown(wait=False)


class _Statements(Queries):
    """Statements on the one connection; `commit` says whether each commits by itself."""

    def __init__(self, db: _Connection, commit: bool) -> None:
        self._db = db
        self._commit = commit

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        return (await self._db.run(_write, sql, tuple(params), self._commit))[0]

    async def insert(self, sql: str, params: Iterable[Any] = (), *, returning: str) -> int:
        rowid = (await self._db.run(_write, sql, tuple(params), self._commit))[1]
        assert rowid is not None
        return rowid

    async def returning(self, sql: str, params: Iterable[Any] = (), *, synced: bool = True) -> Row | None:
        return await self._db.run(_returning, sql, tuple(params), self._commit, synced)

    async def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._db.run(_write_many, sql, [tuple(row) for row in rows], self._commit)

    async def execute_each(self, sql: str, rows: Iterable[Sequence[Any]]) -> list[int]:
        return await self._db.run(_write_each, sql, [tuple(row) for row in rows], self._commit)

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        return await self._db.run(_fetch_one, sql, tuple(params))

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return await self._db.run(_fetch_all, sql, tuple(params))


class SqliteDatabase(Database):
    """The gateway's database at `path` (created and migrated on open). Statements take turns: a
    transaction holds the connection until it ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: _Connection | None = None
        self._turn = asyncio.Lock()

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def db(self) -> _Connection:
        if self._db is None:
            raise RuntimeError("database not open")
        return self._db

    async def open(self) -> None:
        # Owner-only before SQLite creates it (its -wal and -shm files take the database's mode),
        # and tightened if an older gateway left any of the three world-readable.
        await asyncio.to_thread(private_file, self.path)
        await asyncio.to_thread(tighten_database, self.path)
        self._db = await _Connection.open(self.path)
        await self.migrate()

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

    async def schema_version(self) -> int:
        row = await self.db.run(_fetch_one, "PRAGMA user_version", ())
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
            await self.db.run(
                sqlite3.Connection.executescript, f"BEGIN; {sql}; PRAGMA user_version = {version}; COMMIT;"
            )

    def _statements(self) -> _Statements:
        return _Statements(self.db, commit=True)

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        async with self._turn:
            return await self._statements().execute(sql, params)

    async def insert(self, sql: str, params: Iterable[Any] = (), *, returning: str) -> int:
        async with self._turn:
            return await self._statements().insert(sql, params, returning=returning)

    async def returning(self, sql: str, params: Iterable[Any] = (), *, synced: bool = True) -> Row | None:
        async with self._turn:
            return await self._statements().returning(sql, params, synced=synced)

    async def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self._turn:
            await self._statements().execute_many(sql, rows)

    async def execute_each(self, sql: str, rows: Iterable[Sequence[Any]]) -> list[int]:
        async with self._turn:
            return await self._statements().execute_each(sql, rows)

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
            await self.db.run(_write, "BEGIN IMMEDIATE", (), False)
            try:
                yield _Statements(self.db, commit=False)
            except BaseException:
                await self.db.run(sqlite3.Connection.rollback)
                raise
            await self.db.run(sqlite3.Connection.commit)
