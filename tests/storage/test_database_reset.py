"""Setting an SQLite database aside (`serve --paper --reset-paper`): it moves with its WAL files and
stays readable where it went; the next open starts empty."""

from __future__ import annotations

from pathlib import Path

from kite_gateway.storage import SqliteDatabase, set_aside_database


async def test_a_database_set_aside_keeps_its_rows_there_and_the_next_open_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    database = SqliteDatabase(path)
    await database.open()
    await database.execute("CREATE TABLE kept (n INTEGER)")
    await database.execute("INSERT INTO kept VALUES (7)")
    await database.close()
    (tmp_path / "gateway.db.before-reset-wal").write_bytes(b"stale")  # an older set-aside's WAL
    aside = set_aside_database(path, ".before-reset")
    assert aside == tmp_path / "gateway.db.before-reset" and not path.exists()
    assert not (tmp_path / "gateway.db.before-reset-wal").exists()  # not paired with the wrong database
    old = SqliteDatabase(aside)
    await old.open()
    assert [tuple(row) for row in await old.fetch_all("SELECT n FROM kept")] == [(7,)]
    await old.close()
    fresh = SqliteDatabase(path)
    await fresh.open()
    assert await fresh.fetch_one("SELECT name FROM sqlite_master WHERE name = 'kept'") is None
    await fresh.close()


def test_setting_aside_no_database_changes_nothing(tmp_path: Path) -> None:
    assert set_aside_database(tmp_path / "gateway.db", ".before-reset") is None
    assert not list(tmp_path.iterdir())
