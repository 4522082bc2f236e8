"""`kite-gateway rekey` as an operator runs it on a paper gateway's data directory, whose key file
paper mode made: a new key written first in that file, rekey, and the old line can go."""

from __future__ import annotations

from pathlib import Path

import pytest

from kite_gateway.storage import CredentialStore, Sealer, SqliteDatabase, load_keys
from kite_gateway.storage.sqlite import DATABASE_FILE
from tests.test_cli import run_cli


async def _paper_database(data_dir: Path) -> None:
    """What a paper gateway leaves: its generated secret.key and a database sealed under it."""
    database = SqliteDatabase(data_dir / DATABASE_FILE)
    await database.open()
    try:
        store = CredentialStore(database, Sealer(load_keys(None, None, generate_in=data_dir)))
        await store.check_key()
        await store.save_app("sim_api_key", "sim_api_secret")
    finally:
        await database.close()


@pytest.fixture(autouse=True)
def no_configured_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KITE_GATEWAY_SECRET_KEY", raising=False)
    monkeypatch.delenv("KITE_GATEWAY_SECRET_KEY_FILE", raising=False)
    monkeypatch.delenv("KITE_GATEWAY_DATABASE_URL", raising=False)  # the paper gateway's SQLite file


async def test_rekey_paper_reseals_under_a_new_first_line_of_the_paper_key_file(tmp_path: Path) -> None:
    await _paper_database(tmp_path)
    alone = run_cli("rekey", "--paper", "--data-dir", str(tmp_path))
    assert alone.returncode == 0, alone.stderr
    assert "re-sealed 0 stored values" in alone.stdout and "only one key is configured" in alone.stdout

    key_file = tmp_path / "secret.key"
    old = key_file.read_text().strip()
    new = Sealer.generate_key().decode()
    key_file.write_text(f"{new}\n{old}\n")
    rotated = run_cli("rekey", "--paper", "--data-dir", str(tmp_path))
    assert rotated.returncode == 0, rotated.stderr
    assert "(1 api secrets, 0 access tokens" in rotated.stdout and "1 key check)" in rotated.stdout
    assert "the other 1 key(s) can be removed" in rotated.stdout

    key_file.write_text(f"{new}\n")
    again = run_cli("rekey", "--paper", "--data-dir", str(tmp_path))
    assert again.returncode == 0 and "re-sealed 0 stored values" in again.stdout, again.stderr


def test_rekey_without_a_key_says_how_to_give_one(tmp_path: Path) -> None:
    failed = run_cli("rekey", "--data-dir", str(tmp_path))
    assert failed.returncode == 1
    assert "KITE_GATEWAY_SECRET_KEY" in failed.stderr and "Traceback" not in failed.stderr
