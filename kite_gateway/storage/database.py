"""The SQLite database: opened once, migrated to the newest schema at start, used through aiosqlite
(one connection, its own thread, so the event loop never blocks on disk)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

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


def now_text() -> str:
    return datetime.now(UTC).isoformat()


class Database:
    """The gateway's database at `path` (created and migrated on open)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None

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

    async def migrate(self) -> None:
        """Apply every migration newer than the database's version, each in its own transaction."""
        current = await self.schema_version()
        newest = MIGRATIONS[-1][0]
        if current > newest:
            raise RuntimeError(
                f"database {self.path} has schema version {current}, newer than this gateway knows ({newest}); "
                "run a newer gateway or restore a backup"
            )
        for version, _description, sql in MIGRATIONS:
            if version <= current:
                continue
            await self.db.executescript(f"BEGIN; {sql}; PRAGMA user_version = {version}; COMMIT;")

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one statement and commit; returns the number of rows it changed."""
        cursor = await self.db.execute(sql, tuple(params))
        await self.db.commit()
        return cursor.rowcount

    async def insert(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one INSERT and commit; returns the new row's id."""
        cursor = await self.db.execute(sql, tuple(params))
        await self.db.commit()
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self.db.execute(sql, tuple(params)) as cursor:
            return await cursor.fetchone()

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self.db.execute(sql, tuple(params)) as cursor:
            return list(await cursor.fetchall())
