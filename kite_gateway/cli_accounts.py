"""`kite-gateway export-account` and `kite-gateway erase-account`: one account's stored data written
to an owner-only file, or deleted from every table (kite_gateway/storage/account_data.py), each
recorded in the audit trail with principal "cli".

Both work on the gateway's database directly (the settings' database URL, or the SQLite file in
the data directory), so the gateway should be stopped, or the account drained: both refuse while
the order updates stored for the account leave an order open (its last status not final)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kite_gateway.cli_rekey import PAPER_KEY_FILE
from kite_gateway.storage import AccountData, AtRest, SealedUnreadable, SealingError

EXIT_REFUSED = 1
EXIT_CONFIG = 2

_ADVICE = (
    "These work on the gateway's database directly: stop the gateway (every replica), or drain the "
    "account first (no open orders). Refused while the account's stored order updates leave an order "
    "open (OPEN, TRIGGER PENDING, AMO REQ RECEIVED, ...: any status not COMPLETE, CANCELLED or REJECTED)."
)


class Refused(Exception):
    """The command cannot go on: its message says why (exit EXIT_REFUSED)."""


def add_parsers(commands: Any) -> None:
    """Add export-account and erase-account to the `kite-gateway` subcommands."""
    export = commands.add_parser(
        "export-account",
        help="write every row the gateway stores for an account to a file (owner-only)",
        description="Write every row the gateway stores for ACCOUNT_ID, one section per table, to a new "
        "JSON file readable by its owner only (sealed secrets left out), and record that in the audit "
        "trail. " + _ADVICE,
    )
    export.add_argument("account_id", metavar="ACCOUNT_ID", help="the Kite user id")
    export.add_argument("--out", type=Path, required=True, metavar="FILE", help="the file to create (must not exist)")
    export.add_argument("--data-dir", type=Path, help="the gateway's data directory (env KITE_GATEWAY_DATA_DIR)")
    erase = commands.add_parser(
        "erase-account",
        help="delete every row the gateway stores for an account (cannot be undone)",
        description="Delete every row the gateway stores for ACCOUNT_ID from every table, in one "
        "transaction, keeping an audit entry (principal cli, the rows deleted per table) as the proof of "
        "the erasure. It cannot be undone: export-account first if the records must be kept. " + _ADVICE,
    )
    erase.add_argument("account_id", metavar="ACCOUNT_ID", help="the Kite user id")
    erase.add_argument("--data-dir", type=Path, help="the gateway's data directory (env KITE_GATEWAY_DATA_DIR)")


def export_account(args: argparse.Namespace) -> int:
    out: Path = args.out

    async def run(data: AccountData) -> str:
        if await asyncio.to_thread(out.exists):
            raise Refused(f"--out {out} exists: give a new file")
        await _refuse_open_orders(data, args.account_id)
        tables = await data.export(args.account_id)
        counts = {table: len(rows) for table, rows in tables.items()}
        _refuse_nothing(args.account_id, counts)
        document = {
            "account_id": args.account_id,
            "exported_at": datetime.now(UTC).isoformat(),
            "schema_version": await data.database.schema_version(),
            "tables": tables,
        }
        await asyncio.to_thread(_write_private, out, json.dumps(document, indent=1, sort_keys=True, default=str))
        try:
            await data.audit_export(args.account_id, counts, str(out))
        except BaseException:
            await asyncio.to_thread(out.unlink, True)  # an export the audit trail does not know of is not left behind
            raise
        return f"exported {sum(counts.values())} row(s) of {args.account_id} to {out} ({_summary(counts)})"

    return _run(args, run)


def erase_account(args: argparse.Namespace) -> int:
    async def run(data: AccountData) -> str:
        await _refuse_open_orders(data, args.account_id)
        _refuse_nothing(args.account_id, await data.erasable(args.account_id))
        counts = await data.erase(args.account_id)
        return f"erased {sum(counts.values())} row(s) of {args.account_id} ({_summary(counts)})"

    return _run(args, run)


async def _refuse_open_orders(data: AccountData, account_id: str) -> None:
    from kite_gateway.core.orders import is_final

    statuses = await data.order_statuses(account_id)
    still_open = {order_id: status for order_id, status in statuses.items() if not is_final(status)}
    if still_open:
        listed = ", ".join(f"{order_id} ({status or 'no status'})" for order_id, status in sorted(still_open.items()))
        raise Refused(
            f"account {account_id} has {len(still_open)} open order(s) as the gateway last heard of them: "
            f"{listed}; cancel them or let them complete (with the gateway running, so that it hears of it), "
            "then stop the gateway and run this again"
        )


def _refuse_nothing(account_id: str, counts: dict[str, int]) -> None:
    if not any(counts.values()):
        raise Refused(f"the gateway stores nothing for account {account_id} (is the id right?)")


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{table}: {rows}" for table, rows in counts.items() if rows) or "nothing"


def _write_private(path: Path, text: str) -> None:
    """Create `path` owner-only (never there before) and write `text` to it."""
    from kite_gateway.storage import FILE_MODE

    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


def _run(args: argparse.Namespace, command: Callable[[AccountData], Awaitable[str]]) -> int:
    from kite_gateway.config import ConfigError, load_settings
    from kite_gateway.storage import DATABASE_FILE, open_database

    try:
        settings = load_settings(flags={"gateway_data_dir": "--data-dir"}, gateway_data_dir=args.data_dir)
    except ConfigError as exc:
        print(f"kite-gateway: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    url = settings.gateway_database_url
    if url is None and not (settings.gateway_data_dir / DATABASE_FILE).exists():
        print(f"kite-gateway: no gateway database in {settings.gateway_data_dir} (give --data-dir)", file=sys.stderr)
        return EXIT_CONFIG

    async def run() -> str:
        database = open_database(url.get_secret_value() if url else None, settings.gateway_data_dir)
        await database.open()
        try:
            return await command(AccountData(database, at_rest=await _at_rest(settings, database)))
        finally:
            await database.close()

    try:
        print(asyncio.run(run()))
    except (Refused, SealedUnreadable) as exc:
        print(f"kite-gateway {args.command}: refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except SealingError as exc:
        print(f"kite-gateway {args.command}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


async def _at_rest(settings: Any, database: Any) -> AtRest | None:
    """What opens the trading data sealed at rest: the configured key set (or the paper gateway's key
    file in the data directory); None when there is no key at all (then a sealed value is refused)."""
    from kite_gateway.storage import CredentialStore, Sealer, load_keys

    key = settings.gateway_secret_key.get_secret_value() if settings.gateway_secret_key else None
    key_file = settings.gateway_secret_key_file
    if not key and key_file is None:
        paper = settings.gateway_data_dir / PAPER_KEY_FILE
        if not paper.exists():
            return None
        key_file = paper
    sealer = Sealer(load_keys(key, key_file))
    credentials = CredentialStore(database, sealer)
    await credentials.check_key()  # the clear error when no key of the set opens this database
    return AtRest(sealer, await credentials.hashing_key())
