"""The embedded SQLite database (the default): opened once, migrated to the newest schema at start,
used through one connection on a thread of its own (so the event loop never blocks on disk), each
statement one trip to that thread and back."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
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


# What runs on the database's thread, each one trip there and back whatever it does (aiosqlite took
# two or three per statement: execute, fetch, close the cursor, commit). The writes neither commit nor
# roll back: the thread does, for each write on its own or for several that arrived together.


def _unique_violation(error: sqlite3.IntegrityError) -> Exception:
    return DuplicateKey(str(error)) if _unique(error) else error


def _write(db: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> tuple[int, int | None]:
    """(rows changed, the new row's id) of one statement."""
    try:
        cursor = db.execute(sql, params)
    except sqlite3.IntegrityError as error:
        raise _unique_violation(error) from error
    return cursor.rowcount, cursor.lastrowid


def _write_many(db: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    try:
        db.executemany(sql, rows)
    except sqlite3.IntegrityError as error:
        raise _unique_violation(error) from error


def _write_each(db: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> list[int]:
    """Rows changed by each statement."""
    try:
        return [db.execute(sql, row).rowcount for row in rows]
    except sqlite3.IntegrityError as error:
        raise _unique_violation(error) from error


def _returning(db: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> Row | None:
    try:
        rows = db.execute(sql, params).fetchall()  # every row stepped: the statement is done before the commit
    except sqlite3.IntegrityError as error:
        raise _unique_violation(error) from error
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
    db.execute("PRAGMA synchronous=FULL")  # every commit fsynced (the default, said since unsynced writes restore it)
    return db


GROUP_MOST = 64  # writes committed together at most
_SEVERAL_STATEMENTS = (_write_each, _write_many)  # writes that are more than one statement


@dataclass
class _Job:
    """One call for the database's thread, and where its outcome goes. A `write` outside any
    transaction is committed by the thread, together with the writes queued right behind it."""

    call: Callable[..., Any]
    args: tuple[Any, ...]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    write: bool = False
    synced: bool = True

    def settle(self, result: Any = None, error: BaseException | None = None) -> None:
        with contextlib.suppress(RuntimeError):  # its event loop is closed: nobody is waiting any more
            self.loop.call_soon_threadsafe(self._settle, result, error)

    def _settle(self, result: Any, error: BaseException | None) -> None:
        if self.future.done():  # its caller gave up (cancelled)
            return
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(result)


class _Connection:
    """The one sqlite3 connection and the one thread that uses it, so the event loop never blocks
    on disk; calls run on the thread in the order they were made.

    Group commit: the writes outside a transaction that are waiting for the thread when it is free
    are committed together, one fsync for all (a write that fails fails alone: see _commit_group),
    and none of their callers hears back before that commit: each write is as durable
    when its caller learns of it as it was committed alone, and a burst of writes (order updates,
    fills, an order's records) costs the disk one sync, not one each."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._db: sqlite3.Connection | None = None
        self._thread = threading.Thread(target=self._work, name="sqlite", daemon=True)

    @classmethod
    async def open(cls, path: Path) -> _Connection:
        connection = cls(path)
        connection._thread.start()
        await connection.run(lambda db: None)  # connected (or the error, here)
        return connection

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        """`call(connection, *args)` on the database's thread."""
        return await self._submit(call, args, write=False)

    async def write(self, call: Callable[..., T], *args: Any, synced: bool = True) -> T:
        """`call(connection, *args)`, a write outside any transaction, committed once it has run.
        `synced=False`: its commit need not fsync (when it is committed alone: with others, the
        group's commit is synced if any of them must be)."""
        return await self._submit(call, args, write=True, synced=synced)

    async def _submit(self, call: Callable[..., T], args: tuple[Any, ...], write: bool, synced: bool = True) -> T:
        loop = asyncio.get_running_loop()
        job = _Job(call, args, loop, loop.create_future(), write, synced)
        self._jobs.put(job)
        result: T = await job.future
        return result

    async def close(self) -> None:
        await self.run(sqlite3.Connection.close)
        self._jobs.put(None)

    # On the thread ------------------------------------------------------------------------------

    def _work(self) -> None:
        try:
            self._db = _connect(self._path)
        except BaseException as error:
            self._fail_all(error)
            return
        waiting: list[_Job | None] = []
        while True:
            job = waiting.pop(0) if waiting else self._jobs.get()
            if job is None:
                return
            if not job.write:
                self._plain(job)
                continue
            group = [job]
            while len(group) < GROUP_MOST:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None or not more.write:
                    waiting.append(more)  # after the group, in order
                    break
                group.append(more)
            try:
                self._commit_group(group)
            except BaseException as error:  # (restoring the pragma failed): the thread goes on serving
                for failed in group:
                    failed.settle(error=error)  # those already answered keep their answer

    def _plain(self, job: _Job) -> None:
        assert self._db is not None
        try:
            job.settle(job.call(self._db, *job.args))
        except BaseException as error:
            job.settle(error=error)

    def _commit_group(self, group: list[_Job]) -> None:
        """Run the writes and commit them at once. A write that fails is undone alone: SQLite backs
        out the one statement that failed (a savepoint holds a write of several statements), or the
        whole of a write that was alone; a failure that ended the transaction fails the writes made
        in it; a failed commit fails them all. Each statement costs its own trip through the GIL, so
        nothing is run that a write alone does not need."""
        db = self._db
        assert db is not None
        synced = any(job.synced for job in group)
        alone = len(group) == 1
        outcomes: list[tuple[Any, BaseException | None]] = []
        if not synced:
            db.execute("PRAGMA synchronous=NORMAL")  # (outside a transaction, as SQLite requires)
        try:
            for job in group:
                contained = not alone and job.call in _SEVERAL_STATEMENTS
                if contained:
                    db.execute("SAVEPOINT write")
                try:
                    outcomes.append((job.call(db, *job.args), None))
                except Exception as error:
                    if alone:
                        db.rollback()
                    elif contained and db.in_transaction:
                        db.execute("ROLLBACK TO write")
                        db.execute("RELEASE write")
                    elif not db.in_transaction:  # SQLite ended the transaction: the writes before went with it
                        outcomes = [(None, error)] * len(outcomes)
                    outcomes.append((None, error))
                    continue
                if contained:
                    db.execute("RELEASE write")
            db.commit()
        except BaseException as error:  # the commit failed: nothing of the group stands
            if db.in_transaction:
                db.rollback()
            outcomes = [(None, error)] * len(group)
        finally:
            if not synced:
                db.execute("PRAGMA synchronous=FULL")
        for job, (result, failure) in zip(group, outcomes, strict=True):
            job.settle(result, failure)

    def _fail_all(self, error: BaseException) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job.settle(error=error)


class _Statements(Queries):
    """Statements on the one connection: each committed by itself (`autocommit`), or in the
    transaction that is open."""

    def __init__(self, db: _Connection, autocommit: bool) -> None:
        self._db = db
        self._autocommit = autocommit

    async def _write(self, call: Callable[..., T], *args: Any, synced: bool = True) -> T:
        if self._autocommit:
            return await self._db.write(call, *args, synced=synced)
        return await self._db.run(call, *args)

    async def execute(self, sql: str, params: Iterable[Any] = (), *, synced: bool = True) -> int:
        return (await self._write(_write, sql, tuple(params), synced=synced))[0]

    async def insert(self, sql: str, params: Iterable[Any] = (), *, returning: str) -> int:
        rowid = (await self._write(_write, sql, tuple(params)))[1]
        assert rowid is not None
        return rowid

    async def returning(self, sql: str, params: Iterable[Any] = (), *, synced: bool = True) -> Row | None:
        return await self._write(_returning, sql, tuple(params), synced=synced)

    async def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._write(_write_many, sql, [tuple(row) for row in rows])

    async def execute_each(self, sql: str, rows: Iterable[Sequence[Any]]) -> list[int]:
        return await self._write(_write_each, sql, [tuple(row) for row in rows])

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        return await self._db.run(_fetch_one, sql, tuple(params))

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return await self._db.run(_fetch_all, sql, tuple(params))


class _Turns:
    """Statements outside a transaction may be in flight together (the thread runs them in order);
    a transaction waits until none is, and has the connection to itself until it ends (statements
    arriving meanwhile wait for it)."""

    def __init__(self) -> None:
        self._one_transaction = asyncio.Lock()
        self._transaction = False  # open, or waiting for the statements in flight
        self._statements = 0
        self._no_transaction = asyncio.Event()
        self._no_transaction.set()
        self._no_statements = asyncio.Event()
        self._no_statements.set()

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[None]:
        while self._transaction:
            await self._no_transaction.wait()
        self._statements += 1
        self._no_statements.clear()
        try:
            yield
        finally:
            self._statements -= 1
            if not self._statements:
                self._no_statements.set()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        async with self._one_transaction:
            self._transaction = True
            self._no_transaction.clear()
            try:
                while self._statements:
                    await self._no_statements.wait()
                yield
            finally:
                self._transaction = False
                self._no_transaction.set()


class SqliteDatabase(Database):
    """The gateway's database at `path` (created and migrated on open). Statements outside a
    transaction run in the order they are made, several in flight at once (those that reach the
    thread together are committed together); a transaction holds the connection until it ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: _Connection | None = None
        self._turns = _Turns()

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
        return _Statements(self.db, autocommit=True)

    async def execute(self, sql: str, params: Iterable[Any] = (), *, synced: bool = True) -> int:
        async with self._turns.statement():
            return await self._statements().execute(sql, params, synced=synced)

    async def insert(self, sql: str, params: Iterable[Any] = (), *, returning: str) -> int:
        async with self._turns.statement():
            return await self._statements().insert(sql, params, returning=returning)

    async def returning(self, sql: str, params: Iterable[Any] = (), *, synced: bool = True) -> Row | None:
        async with self._turns.statement():
            return await self._statements().returning(sql, params, synced=synced)

    async def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self._turns.statement():
            await self._statements().execute_many(sql, rows)

    async def execute_each(self, sql: str, rows: Iterable[Sequence[Any]]) -> list[int]:
        async with self._turns.statement():
            return await self._statements().execute_each(sql, rows)

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        async with self._turns.statement():
            return await self._statements().fetch_one(sql, params)

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self._turns.statement():
            return await self._statements().fetch_all(sql, params)

    def transaction(self) -> AbstractAsyncContextManager[Queries]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Queries]:
        async with self._turns.transaction():
            await self.db.run(_write, "BEGIN IMMEDIATE", ())
            try:
                yield _Statements(self.db, autocommit=False)
            except BaseException:
                await self.db.run(sqlite3.Connection.rollback)
                raise
            await self.db.run(sqlite3.Connection.commit)
