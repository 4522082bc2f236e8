"""The storage interface the stores use: one `Database` (SQLite embedded, or PostgreSQL), statements
in portable SQL with `?` placeholders, rows read as row["name"] or row[0].

SQL the stores write must run on both backends: ON CONFLICT ... DO NOTHING rather than INSERT OR
IGNORE, no SQLite-only functions (json_*), TEXT compared as TEXT; each backend translates what it
must (PostgreSQL: `?` into `$1, $2, ...`)."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

from kite_gateway.errors import GatewayError, Reason, Status


def now_text() -> str:
    return datetime.now(UTC).isoformat()


class Row(Protocol):
    """A result row: by column name or position (sqlite3.Row and asyncpg.Record both are)."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...

    def keys(self) -> Any: ...


class DatabaseUnavailable(GatewayError):
    """The database cannot be reached (a lost connection, a server restarting): UNAVAILABLE, retry later.
    Whether a write that failed this way took effect is not known."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            Status.UNAVAILABLE,
            Reason.UNSPECIFIED,
            f"the gateway's database is unavailable ({detail}); retry shortly",
            {"dependency": "database"},
            retry_after=1.0,
        )


class DuplicateKey(Exception):
    """A statement broke a unique constraint (raised by both backends alike)."""


class Queries(abc.ABC):
    """What runs statements: a database, or one transaction of it."""

    @abc.abstractmethod
    async def execute(self, sql: str, params: Iterable[Any] = (), *, synced: bool = True) -> int:
        """Run one statement (committed, outside a transaction); the number of rows it changed.
        `synced=False` as for `returning`."""

    @abc.abstractmethod
    async def insert(self, sql: str, params: Iterable[Any] = (), *, returning: str) -> int:
        """Run one INSERT; the new row's integer key, the column `returning` (SQLite: its rowid)."""

    @abc.abstractmethod
    async def returning(self, sql: str, params: Iterable[Any] = (), *, synced: bool = True) -> Row | None:
        """Run one write ending in RETURNING (committed, outside a transaction); the first row it
        returned, None when it wrote none (an INSERT ... ON CONFLICT DO NOTHING that conflicted).
        `synced=False`: its commit need not reach the disk by itself, the next synced commit takes
        it there (SQLite: into the WAL without an fsync; PostgreSQL syncs it all the same), for a
        write whose loss in a power cut before that next synced write does no harm."""

    @abc.abstractmethod
    async def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each row of parameters, all or none."""

    @abc.abstractmethod
    async def execute_each(self, sql: str, rows: Iterable[Sequence[Any]]) -> list[int]:
        """Run one statement for each row of parameters, all or none (one commit, outside a
        transaction); the number of rows each changed."""

    @abc.abstractmethod
    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> Row | None: ...

    @abc.abstractmethod
    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[Row]: ...


class Database(Queries):
    """The gateway's database: opened (and migrated to the newest schema) once, closed at shutdown.
    `available` is what the last statement (or ping) found: False after DatabaseUnavailable, until
    one succeeds again (for health, which must answer without waiting on the database)."""

    available: bool = True

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where it is, for messages (never a password)."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and migrate to the newest schema (refusing a schema newer than this gateway's)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def schema_version(self) -> int: ...

    @abc.abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Queries]:
        """`async with database.transaction() as tx:` statements on `tx` commit together, or none
        does when the block raises. Use only `tx` inside the block."""

    async def tables(self) -> set[str]:
        """The names of the tables the schema has now (for code that must work before and after a
        migration adds one: retention, export and erasure)."""
        raise NotImplementedError

    async def ping(self) -> bool:
        """True when the database answers now (for health)."""
        try:
            await self.fetch_one("SELECT 1")
        except DatabaseUnavailable:
            return False
        return True


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer gateway than this one."""

    def __init__(self, location: str, current: int, newest: int) -> None:
        super().__init__(
            f"database {location} has schema version {current}, newer than this gateway knows ({newest}); "
            "run a newer gateway or restore a backup"
        )
        self.current = current
        self.newest = newest
