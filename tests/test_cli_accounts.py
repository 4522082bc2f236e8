"""`kite-gateway export-account` and `erase-account` as an operator runs them against a stopped
gateway's database: the export holds every row of the account and no sealed secret, in a file only
its owner reads; the erasure leaves no row of the account but its own audit entry (and other
accounts' rows untouched); both refuse while an order is open, and both are audited. The table
registry lists every table with an account_id column, whatever migration adds one."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from kite_gateway_api.v1 import order_pb2

from kite_gateway.cli import main
from kite_gateway.storage import Database, open_database
from kite_gateway.storage.account_data import (
    ACCOUNT_TABLES,
    AUDIT_ACTION_ERASE_ACCOUNT,
    AUDIT_ACTION_EXPORT_ACCOUNT,
)

ACCOUNT = "AB1234"
OTHER = "CD5678"
NOW = "2026-12-03T10:00:00+00:00"
SEALED_TOKEN = "gAAAA-sealed-token-of-ab1234"


def database_of(data_dir: Path) -> Database:
    """The database the CLI opens: KITE_GATEWAY_DATABASE_URL's (a PostgreSQL test run), else SQLite in data_dir."""
    return open_database(os.environ.get("KITE_GATEWAY_DATABASE_URL"), data_dir)


def order(order_id: str, status: str) -> str:
    return json.dumps({"order_id": order_id, "status": status, "tradingsymbol": "INFY"})


async def _seed(data_dir: Path, last_status: str) -> None:
    """Rows of ACCOUNT (its one order's last update `last_status`) and of OTHER in every per-account table."""
    database = database_of(data_dir)
    await database.open()
    try:
        await database.execute(
            "INSERT INTO apps (api_key, sealed_api_secret, created_at) VALUES ('key', 'sealed-secret', ?)", (NOW,)
        )
        for account, token in ((ACCOUNT, SEALED_TOKEN), (OTHER, "gAAAA-other")):
            await database.execute(
                "INSERT INTO accounts (account_id, api_key, user_name, sealed_access_token, created_at) "
                "VALUES (?, 'key', 'A Trader', ?, ?)",
                (account, token, NOW),
            )
            for sequence, status in enumerate(("OPEN", last_status), 1):
                await database.execute(
                    "INSERT INTO order_updates (account_id, sequence, order_id, dedupe_key, source, received_at, "
                    "payload) VALUES (?, ?, 'o1', ?, 1, ?, ?)",
                    (account, sequence, f"k{sequence}", NOW, order("o1", status)),
                )
            await database.execute(
                "INSERT INTO idempotency (account_id, client_order_id, kind, fingerprint, tag, state, order_id, "
                "created_at, updated_at) VALUES (?, 'c1', 'place', 'f', 't', 'placed', 'o1', ?, ?)",
                (account, NOW, NOW),
            )
            await database.execute(
                "INSERT INTO audit (time, principal, account_id, action, request_json, status_code, outcome, "
                "latency_ms) VALUES (?, 'desk', ?, 1, '{\"quantity\": 1}', 0, 'ok', 3.5)",
                (NOW, account),
            )
            await database.execute(
                "INSERT INTO kill_switches (account_id, engaged, reason, principal, updated_at) "
                "VALUES (?, 0, '', 'desk', ?)",
                (account, NOW),
            )
            await database.execute(
                "INSERT INTO duplicate_orders (account_id, order_id, client_order_id, kept_order_id, action, message, "
                "detected_at) VALUES (?, 'o2', 'c1', 'o1', 4, 'none', ?)",
                (account, NOW),
            )
            await database.execute(
                "INSERT INTO order_requests (kind, request_id, fingerprint, account_id, state, created_at, "
                "updated_at) VALUES ('basket', ?, 'f', ?, 'done', ?, ?)",
                (f"r-{account}", account, NOW, NOW),
            )
            await database.execute(
                "INSERT INTO signal_orders (strategy_id, signal_id, account_id, client_order_id, status, updated_at) "
                "VALUES ('momentum', 's1', ?, 'c1', 'placed', ?)",
                (account, NOW),
            )
            await database.execute(
                "INSERT INTO exit_events (trading_day, scope, scope_id, rule, reason, pnl, threshold, peak, "
                "utilisation, square_off, outcome, created_at) VALUES ('2026-12-03', 'account', ?, 'daily_loss_limit', "
                "'r', '-1', '-1', '0', '0', 0, 'kill switch', ?)",
                (account, NOW),
            )
            sequence = 1 if account == ACCOUNT else 2
            await database.execute(
                "INSERT INTO alerts (sequence, rule_id, kind, severity, scope, title, message, fields, at) "
                "VALUES (?, 'loss', 'pnl', 'warning', ?, 't', 'm', '{}', ?)",
                (sequence, account, NOW),
            )
            await database.execute(
                "INSERT INTO alert_deliveries (sink_id, sequence, state, next_attempt_at, updated_at) "
                "VALUES ('pager', ?, 'delivered', ?, ?)",
                (sequence, NOW, NOW),
            )
    finally:
        await database.close()


def seed(data_dir: Path, last_status: str = "COMPLETE") -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(_seed(data_dir, last_status))


async def _rows(data_dir: Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    database = database_of(data_dir)
    await database.open()
    try:
        return [dict(zip(row.keys(), row, strict=True)) for row in await database.fetch_all(sql, params)]
    finally:
        await database.close()


def rows(data_dir: Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    return asyncio.run(_rows(data_dir, sql, params))


def rows_of(data_dir: Path, account: str) -> dict[str, int]:
    """How many rows each registered table holds for `account`."""

    async def counted() -> dict[str, int]:
        database = database_of(data_dir)
        await database.open()
        try:
            present = await database.tables()
            found: dict[str, int] = {}
            for entry in ACCOUNT_TABLES:
                if entry.table in present:
                    row = await database.fetch_one(
                        f"SELECT COUNT(*) AS n FROM {entry.table} WHERE {entry.where}", (account,)
                    )
                    found[entry.table] = int(row["n"]) if row else 0
            return found
        finally:
            await database.close()

    return asyncio.run(counted())


def test_an_export_holds_every_row_of_the_account_and_no_sealed_secret_in_an_owner_only_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    seed(data)
    out = tmp_path / "ab1234.json"
    assert main(["export-account", ACCOUNT, "--out", str(out), "--data-dir", str(data)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = out.read_text()
    assert SEALED_TOKEN not in text and "sealed" not in text and OTHER not in text
    document = json.loads(text)
    tables = document["tables"]
    assert document["account_id"] == ACCOUNT
    before = rows_of(data, ACCOUNT)
    assert {table: len(found) for table, found in tables.items()} == {**before, "audit": before["audit"] - 1}
    assert tables["accounts"] == [
        {"account_id": ACCOUNT, "api_key": "key", "user_name": "A Trader", "login_time": None,
         "token_expires_at": None, "created_at": NOW, "paper": 0}
    ]  # fmt: skip
    assert [json.loads(u["payload"])["status"] for u in tables["order_updates"]] == ["OPEN", "COMPLETE"]
    assert all(row["scope"] == ACCOUNT for row in tables["alerts"])
    assert f"exported {sum(len(found) for found in tables.values())} row(s) of {ACCOUNT}" in capsys.readouterr().out
    (entry,) = rows(data, "SELECT * FROM audit WHERE action = ?", (AUDIT_ACTION_EXPORT_ACCOUNT,))
    assert (entry["principal"], entry["account_id"]) == ("cli", ACCOUNT)
    assert json.loads(entry["request_json"])["rows"]["order_updates"] == 2


def test_an_export_never_overwrites_an_existing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    seed(data)
    out = tmp_path / "taken.json"
    out.write_text("keep me")
    assert main(["export-account", ACCOUNT, "--out", str(out), "--data-dir", str(data)]) == 1
    assert out.read_text() == "keep me"
    assert "exists" in capsys.readouterr().err


def test_an_erasure_leaves_no_row_of_the_account_but_its_own_audit_entry_and_other_accounts_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    seed(data)
    before = rows_of(data, ACCOUNT)
    other_before = rows_of(data, OTHER)
    assert main(["erase-account", ACCOUNT, "--data-dir", str(data)]) == 0
    assert f"erased {sum(before.values())} row(s) of {ACCOUNT}" in capsys.readouterr().out
    assert rows_of(data, ACCOUNT) == {table: 1 if table == "audit" else 0 for table in before}
    assert rows_of(data, OTHER) == other_before
    (proof,) = rows(data, "SELECT * FROM audit WHERE account_id = ?", (ACCOUNT,))
    assert (proof["action"], proof["principal"]) == (AUDIT_ACTION_ERASE_ACCOUNT, "cli")
    assert json.loads(proof["request_json"]) == {"rows": before}
    assert "INFY" not in json.dumps(proof) and "quantity" not in json.dumps(proof)  # none of the erased data
    assert rows(data, "SELECT api_key FROM apps") == [{"api_key": "key"}]  # the app is OTHER's too


def test_a_second_erasure_keeps_the_first_ones_proof_and_says_nothing_is_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    seed(data)
    assert main(["erase-account", ACCOUNT, "--data-dir", str(data)]) == 0
    assert main(["erase-account", ACCOUNT, "--data-dir", str(data)]) == 1
    assert "stores nothing for account" in capsys.readouterr().err
    assert len(rows(data, "SELECT * FROM audit WHERE account_id = ?", (ACCOUNT,))) == 1


@pytest.mark.parametrize("status", ["OPEN", "TRIGGER PENDING", "AMO REQ RECEIVED"])
@pytest.mark.parametrize("command", ["export-account", "erase-account"])
def test_export_and_erase_refuse_while_the_account_has_an_open_order_and_change_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], status: str, command: str
) -> None:
    data = tmp_path / "data"
    seed(data, last_status=status)
    before = rows_of(data, ACCOUNT)
    out = tmp_path / "out.json"
    extra = ["--out", str(out)] if command == "export-account" else []
    assert main([command, ACCOUNT, "--data-dir", str(data), *extra]) == 1
    err = capsys.readouterr().err
    assert "refused" in err and "1 open order(s)" in err and f"o1 ({status})" in err and "stop the gateway" in err
    assert rows_of(data, ACCOUNT) == before and not out.exists()
    assert not rows(data, "SELECT * FROM audit WHERE principal = 'cli'")


def test_an_unknown_account_or_a_missing_database_is_refused_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    seed(data)
    assert main(["erase-account", "ZZ9999", "--data-dir", str(data)]) == 1
    assert "stores nothing for account ZZ9999" in capsys.readouterr().err
    if os.environ.get("KITE_GATEWAY_DATABASE_URL") is None:
        assert main(["erase-account", ACCOUNT, "--data-dir", str(tmp_path / "nowhere")]) == 2
        assert "no gateway database" in capsys.readouterr().err


def test_the_help_says_to_stop_the_gateway_or_drain_the_account(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("export-account", "erase-account"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "stop the gateway" in text and "drain the account" in text


def test_the_audit_actions_are_the_protos() -> None:
    assert AUDIT_ACTION_EXPORT_ACCOUNT == order_pb2.AUDIT_ACTION_EXPORT_ACCOUNT
    assert AUDIT_ACTION_ERASE_ACCOUNT == order_pb2.AUDIT_ACTION_ERASE_ACCOUNT


def test_every_table_with_an_account_id_column_is_in_the_export_and_erasure_registry(tmp_path: Path) -> None:
    # Fails when a migration adds a table with an account_id column that ACCOUNT_TABLES does not list.
    from kite_gateway.storage import SqliteDatabase

    async def account_tables() -> set[str]:
        database = SqliteDatabase(tmp_path / "schema.db")  # migrated to the newest schema
        await database.open()
        try:
            found = set()
            for table in await database.tables():
                columns = await database.fetch_all(f"PRAGMA table_info({table})")
                if any(column["name"] == "account_id" for column in columns):
                    found.add(table)
            return found
        finally:
            await database.close()

    with_account_id = asyncio.run(account_tables())
    registered = {entry.table for entry in ACCOUNT_TABLES}
    assert with_account_id, "the schema has no table with an account_id column: the check reads nothing"
    assert with_account_id - registered == set(), (
        "tables with an account_id column missing from kite_gateway/storage/account_data.py's ACCOUNT_TABLES "
        "(export-account and erase-account would leave their rows behind)"
    )


async def _seal_updates(data_dir: Path) -> None:
    """Two updates of ACCOUNT's order o1 (OPEN, then COMPLETE) as the gateway stores them: sealed at
    rest under the paper gateway's key file in the data directory."""
    from kite_gateway.storage import AtRest, CredentialStore, OrderUpdateLog, Sealer, load_keys

    key_file = data_dir / "secret.key"
    key_file.write_bytes(Sealer.generate_key())
    key_file.chmod(0o600)
    database = database_of(data_dir)
    await database.open()
    try:
        sealer = Sealer(load_keys(None, key_file))
        credentials = CredentialStore(database, sealer)
        await credentials.check_key()
        log = OrderUpdateLog(database, AtRest(sealer, await credentials.hashing_key()))
        for status in ("OPEN", "COMPLETE"):
            await log.append(ACCOUNT, {"order_id": "o1", "status": status, "tradingsymbol": "INFY"}, 1)
    finally:
        await database.close()


def test_an_export_opens_the_order_updates_sealed_at_rest_and_without_the_key_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    asyncio.run(_seal_updates(data))
    assert all(row["payload"].startswith("gAAAAA") for row in rows(data, "SELECT payload FROM order_updates"))
    out = tmp_path / "ab1234.json"
    assert main(["export-account", ACCOUNT, "--out", str(out), "--data-dir", str(data)]) == 0
    updates = json.loads(out.read_text())["tables"]["order_updates"]
    assert sorted(json.loads(u["payload"])["status"] for u in updates) == ["COMPLETE", "OPEN"]
    (data / "secret.key").unlink()
    assert main(["erase-account", ACCOUNT, "--data-dir", str(data)]) == 1
    assert "sealed at rest" in capsys.readouterr().err
    assert len(rows(data, "SELECT * FROM order_updates")) == 2  # nothing erased
