"""The storage interface behaves alike on SQLite and PostgreSQL: rows, counts, keys, transactions,
unique violations, and the stores' round trips (each test runs on both backends)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kite_gateway.core.risk.kill_switch import KillSwitches
from kite_gateway.storage import (
    AuditLog,
    CredentialStore,
    Database,
    DuplicateKey,
    DuplicateLog,
    OrderUpdateLog,
    PostgresDatabase,
    Sealer,
    SealingError,
    SqliteDatabase,
    open_database,
)
from kite_gateway.storage.migrations import MIGRATIONS

T0 = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


async def _add_app(database: Database, api_key: str) -> int:
    return await database.execute(
        "INSERT INTO apps (api_key, sealed_api_secret, created_at) VALUES (?, ?, ?)", (api_key, "sealed", "t")
    )


async def test_rows_are_read_by_column_name_and_by_position(database: Database) -> None:
    await _add_app(database, "key-1")
    row = await database.fetch_one("SELECT api_key, sealed_api_secret FROM apps WHERE api_key = ?", ("key-1",))
    assert row is not None
    assert row["api_key"] == row[0] == "key-1" and row["sealed_api_secret"] == row[1] == "sealed"
    assert tuple(row) == ("key-1", "sealed") and len(row) == 2 and list(row.keys()) == ["api_key", "sealed_api_secret"]
    assert await database.fetch_one("SELECT api_key FROM apps WHERE api_key = ?", ("nobody",)) is None


async def test_execute_counts_the_rows_it_changed(database: Database) -> None:
    assert await _add_app(database, "key-1") == 1
    await _add_app(database, "key-2")
    assert await database.execute("UPDATE apps SET created_at = ? WHERE api_key LIKE ?", ("u", "key-%")) == 2
    assert await database.execute("DELETE FROM apps WHERE api_key = ?", ("nobody",)) == 0


async def test_insert_returns_each_new_rows_key_in_order(database: Database) -> None:
    audit = AuditLog(database)
    ids = [await audit.append(T0, "alice", "AB1234", 1, f"c-{n}", "", "{}", 0, "ok", 1.25) for n in range(3)]
    assert ids[1] == ids[0] + 1 and ids[2] == ids[1] + 1
    entries = await audit.query("AB1234", None, None, "", "", 0, 10)
    assert [e.event_id for e in entries] == ids and entries[0].latency_ms == 1.25 and entries[0].time == T0


async def test_returning_gives_the_written_row_or_none_when_a_conflict_wrote_nothing(database: Database) -> None:
    insert = ("INSERT INTO apps (api_key, sealed_api_secret, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING "
              "RETURNING api_key, created_at")  # fmt: skip
    row = await database.returning(insert, ("key-1", "sealed", "first"))
    assert row is not None and (row["api_key"], row["created_at"]) == ("key-1", "first")
    assert await database.returning(insert, ("key-1", "sealed", "again"), synced=False) is None
    unsynced = await database.returning(insert, ("key-2", "sealed", "t"), synced=False)
    assert unsynced is not None and unsynced["api_key"] == "key-2"
    stored = await database.fetch_all("SELECT api_key, created_at FROM apps ORDER BY api_key")
    assert [tuple(r) for r in stored] == [("key-1", "first"), ("key-2", "t")]  # committed, the first kept


async def test_an_unsynced_write_that_fails_leaves_the_next_commits_synced(database: Database) -> None:
    await _add_app(database, "key-1")
    with pytest.raises(DuplicateKey):
        await database.returning(
            "INSERT INTO apps (api_key, sealed_api_secret, created_at) VALUES (?, ?, ?) RETURNING api_key",
            ("key-1", "sealed", "t"),
            synced=False,
        )
    assert await _add_app(database, "key-2") == 1  # the database is usable afterwards
    if isinstance(database, SqliteDatabase):
        row = await database.fetch_one("PRAGMA synchronous")
        assert row is not None and row[0] == 2  # FULL: every other commit is fsynced


async def test_execute_each_counts_each_rows_changes_and_stores_all_or_none(database: Database) -> None:
    insert = "INSERT INTO apps (api_key, sealed_api_secret, created_at) VALUES (?, 's', 't') ON CONFLICT DO NOTHING"
    await _add_app(database, "key-1")
    assert await database.execute_each(insert, [("key-1",), ("key-2",), ("key-3",)]) == [0, 1, 1]
    strict = "INSERT INTO apps (api_key, sealed_api_secret, created_at) VALUES (?, 's', 't')"
    with pytest.raises(DuplicateKey):
        await database.execute_each(strict, [("key-4",), ("key-1",)])
    stored = await database.fetch_all("SELECT api_key FROM apps ORDER BY api_key")
    assert [r[0] for r in stored] == ["key-1", "key-2", "key-3"]  # key-4 went with the failed batch
    assert await database.execute_each(strict, []) == []


async def test_writes_made_together_each_stand_and_one_that_fails_fails_alone(database: Database) -> None:
    await _add_app(database, "taken")
    outcomes = await asyncio.gather(
        *(_add_app(database, f"key-{n}") for n in range(5)), _add_app(database, "taken"), return_exceptions=True
    )
    assert outcomes[:5] == [1] * 5 and isinstance(outcomes[5], DuplicateKey)
    stored = await database.fetch_all("SELECT api_key FROM apps ORDER BY api_key")
    assert [r[0] for r in stored] == [f"key-{n}" for n in range(5)] + ["taken"]


async def test_a_question_mark_inside_a_string_literal_is_not_a_placeholder(database: Database) -> None:
    await database.execute(
        "INSERT INTO apps (api_key, sealed_api_secret, created_at) VALUES ('what?', ?, 'it''s ?')", ("sealed",)
    )
    row = await database.fetch_one("SELECT created_at FROM apps WHERE api_key = 'what?' AND sealed_api_secret = ?",
                                   ("sealed",))  # fmt: skip
    assert row is not None and row["created_at"] == "it's ?"


async def test_a_unique_violation_raises_duplicate_key_on_either_backend(database: Database) -> None:
    await _add_app(database, "key-1")
    with pytest.raises(DuplicateKey):
        await _add_app(database, "key-1")
    assert await _add_app(database, "key-2") == 1  # the database is usable afterwards


async def test_a_transaction_commits_together_or_leaves_nothing(database: Database) -> None:
    async with database.transaction() as tx:
        await tx.execute("INSERT INTO apps (api_key, sealed_api_secret, created_at) VALUES ('a', 's', 't')")
        await tx.execute("INSERT INTO apps (api_key, sealed_api_secret, created_at) VALUES ('b', 's', 't')")
        assert len(await tx.fetch_all("SELECT api_key FROM apps")) == 2  # its own writes, before commit
    with pytest.raises(DuplicateKey):
        async with database.transaction() as tx:
            await tx.execute("INSERT INTO apps (api_key, sealed_api_secret, created_at) VALUES ('c', 's', 't')")
            await tx.execute("INSERT INTO apps (api_key, sealed_api_secret, created_at) VALUES ('a', 's', 't')")
    with pytest.raises(RuntimeError, match="given up"):
        async with database.transaction() as tx:
            await tx.execute("INSERT INTO apps (api_key, sealed_api_secret, created_at) VALUES ('d', 's', 't')")
            raise RuntimeError("given up")
    assert [r["api_key"] for r in await database.fetch_all("SELECT api_key FROM apps ORDER BY api_key")] == ["a", "b"]


async def test_statements_outside_a_transaction_wait_for_it_rather_than_join_it(database: Database) -> None:
    entered = asyncio.Event()
    release = asyncio.Event()

    async def slow_transaction() -> None:
        with pytest.raises(RuntimeError):
            async with database.transaction() as tx:
                await tx.execute("INSERT INTO apps (api_key, sealed_api_secret, created_at) VALUES ('t', 's', 't')")
                entered.set()
                await release.wait()
                raise RuntimeError("rolled back")

    task = asyncio.create_task(slow_transaction())
    await entered.wait()
    outside = asyncio.create_task(_add_app(database, "outside"))
    await asyncio.sleep(0)  # let it start: it must not be swept into the transaction's rollback
    release.set()
    await task
    assert await outside == 1
    assert [r["api_key"] for r in await database.fetch_all("SELECT api_key FROM apps")] == ["outside"]


async def test_execute_many_stores_every_row_or_none(database: Database) -> None:
    insert = "INSERT INTO apps (api_key, sealed_api_secret, created_at) VALUES (?, ?, ?)"
    await database.execute_many(insert, [("a", "s", "t"), ("b", "s", "t")])
    with pytest.raises(DuplicateKey):
        await database.execute_many(insert, [("c", "s", "t"), ("a", "s", "t")])
    assert [r["api_key"] for r in await database.fetch_all("SELECT api_key FROM apps ORDER BY api_key")] == ["a", "b"]
    await database.execute_many(insert, [])


async def test_concurrent_appends_to_one_account_get_one_contiguous_sequence(database: Database) -> None:
    log, other = OrderUpdateLog(database), OrderUpdateLog(database)  # other: as another process would
    orders: list[dict[str, Any]] = [{"order_id": str(n), "status": "OPEN"} for n in range(30)]
    stored = await asyncio.gather(*((log, other)[n % 2].append("AB1234", order, 1) for n, order in enumerate(orders)))
    assert sorted(s.sequence for s in stored if s is not None) == list(range(1, 31))
    assert [u.sequence for u in await log.after("AB1234", 0)] == list(range(1, 31))
    again = await asyncio.gather(*(log.append("AB1234", order, 2) for order in orders[:5]))
    assert again == [None] * 5 and await log.newest("AB1234") == 30


async def test_replicas_starting_together_on_a_new_database_agree_on_one_key_check(database: Database) -> None:
    key = Sealer.generate_key()
    stores = [CredentialStore(database, Sealer(key)) for _ in range(3)]
    await asyncio.gather(*(store.check_key() for store in stores))
    assert len(await database.fetch_all("SELECT value FROM meta WHERE name = 'key_check'")) == 1
    with pytest.raises(SealingError, match="does not open the credentials"):
        await CredentialStore(database, Sealer(Sealer.generate_key())).check_key()


async def test_credentials_round_trip_sealed_with_their_times_and_paper_flag(database: Database) -> None:
    store = CredentialStore(database, Sealer(Sealer.generate_key()))
    await store.check_key()
    await store.check_key()  # the second start proves the key
    await store.save_app("key-1", "app-secret")
    await store.save_account("AB1234", "key-1", "Alice", "token-1", T0, T0.replace(hour=23), paper=True)
    await store.save_account("AB1234", "key-1", "Alice", "token-2", T0, T0.replace(hour=23), paper=True)
    [account] = await store.accounts()
    assert (account.access_token, account.paper, account.login_time) == ("token-2", True, T0)
    assert await store.app_secret("key-1") == "app-secret"
    stored = await database.fetch_one("SELECT sealed_access_token FROM accounts")
    assert stored is not None and "token-2" not in stored[0]
    await store.forget_token("AB1234")
    assert (await store.accounts())[0].access_token is None
    assert await store.remove_account("AB1234") and not await store.remove_account("AB1234")


async def test_duplicates_and_kill_switches_are_stored_once_and_survive_a_reload(database: Database) -> None:
    duplicates = DuplicateLog(database)
    assert await duplicates.add("AB1234", "o-2", "c-1", "o-1", 1, "twice")
    assert not await duplicates.add("AB1234", "o-2", "c-1", "o-1", 1, "twice")
    assert await duplicates.known("AB1234", "o-2") and not await duplicates.known("AB1234", "o-3")
    switches = KillSwitches(database)
    await switches.set("", True, "halt", "admin")
    await switches.set("", False, "resume", "admin")
    await switches.set("AB1234", True, "runaway", "admin")
    reloaded = KillSwitches(database)
    await reloaded.load()
    assert not reloaded.state("").engaged and reloaded.state("AB1234").engaged
    assert reloaded.state("AB1234").reason == "runaway"


async def test_the_schema_is_at_the_newest_migration(database: Database) -> None:
    assert await database.schema_version() == MIGRATIONS[-1][0]
    assert await database.ping()


async def _columns(database: Database) -> dict[str, list[tuple[str, str, bool]]]:
    """Each table's columns: (name, type in PostgreSQL's words, NOT NULL)."""
    names = ("apps", "accounts", "idempotency", "audit", "order_updates", "kill_switches", "duplicate_orders", "meta")
    found: dict[str, list[tuple[str, str, bool]]] = {}
    if isinstance(database, SqliteDatabase):
        words = {"TEXT": "text", "INTEGER": "bigint", "REAL": "double precision"}
        for table in names:
            rows = await database.fetch_all(f"SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}')")
            found[table] = [(r[0], words[r[1]], bool(r[2]) or bool(r[3])) for r in rows]
        return found
    for table in names:
        rows = await database.fetch_all(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            (table,),
        )
        found[table] = [(r[0], r[1], r[2] == "NO") for r in rows]
    return found


async def test_both_backends_build_the_same_tables_with_the_same_column_types(
    tmp_path: Path, postgres_url: str
) -> None:
    sqlite, postgres = open_database(None, tmp_path), open_database(postgres_url, tmp_path)
    assert isinstance(sqlite, SqliteDatabase) and isinstance(postgres, PostgresDatabase)
    await sqlite.open()
    await postgres.open()
    try:
        sqlite_columns, postgres_columns = await _columns(sqlite), await _columns(postgres)
    finally:
        await sqlite.close()
        await postgres.close()
    # SQLite lets a primary key column be NULL unless said otherwise; PostgreSQL never does (folded above).
    assert sqlite_columns == postgres_columns and all(sqlite_columns.values())
