"""Which database the gateway uses: PostgreSQL when a URL is configured (the clustered mode), else
the embedded SQLite file in the data directory (the default)."""

from __future__ import annotations

from pathlib import Path

from kite_gateway.storage.database import Database
from kite_gateway.storage.postgres import PostgresDatabase
from kite_gateway.storage.sqlite import DATABASE_FILE, SqliteDatabase

POSTGRES_SCHEMES = ("postgresql", "postgres")


def open_database(url: str | None, data_dir: Path) -> Database:
    """The database for `url` (postgresql://...) or, without one, `data_dir`/gateway.db; not yet
    opened: `await database.open()` connects and migrates it."""
    if url:
        if url.split("://", 1)[0] not in POSTGRES_SCHEMES:
            raise ValueError("the database URL must be a postgresql:// URL")
        return PostgresDatabase(url)
    return SqliteDatabase(data_dir / DATABASE_FILE)
