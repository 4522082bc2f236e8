"""`kite-gateway rekey`: re-seal every stored secret under the newest sealing key, after a new key was
put first in KITE_GATEWAY_SECRET_KEY (or its file), so that the old key can then be removed."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import structlog

EXIT_CONFIG = 2
EXIT_FAILED = 1
PAPER_KEY_FILE = "secret.key"  # the key file paper mode creates in the data directory (storage.sealing)


class NoDatabase(Exception):
    """The data directory holds no gateway database: nothing to re-seal (and none is created)."""


log = structlog.get_logger(__name__)

_FLAGS: tuple[tuple[str, str, type, str], ...] = (
    ("--data-dir", "gateway_data_dir", Path, "directory for the gateway's state"),
    ("--secret-key-file", "gateway_secret_key_file", Path, "file holding the sealing keys, newest first"),
)


def add_parser(commands: Any) -> None:
    """The `rekey` subcommand's arguments (`commands` is the argparse subparsers object)."""
    rekey = commands.add_parser(
        "rekey",
        help="re-seal every stored secret under the newest sealing key",
        description="Re-seal the stored api secrets, access tokens and key check under the newest key of "
        "KITE_GATEWAY_SECRET_KEY (or its file): keys newest first, e.g. KITE_GATEWAY_SECRET_KEY=NEW,OLD. "
        "Reads the same configuration as `serve`. Idempotent, and safe to interrupt (run it again); the "
        "gateway may keep running meanwhile. Afterwards the older keys can be removed.",
    )
    for flag, dest, kind, text in _FLAGS:
        rekey.add_argument(flag, dest=dest, type=kind, help=f"{text} (env KITE_{dest.upper()})")
    rekey.add_argument(
        "--paper",
        action="store_true",
        help="the paper gateway's database: without a configured key, use the data directory's secret.key",
    )


def rekey(args: argparse.Namespace) -> int:
    from kite_gateway.config import ConfigError, load_settings
    from kite_gateway.storage import DatabaseUnavailable, SchemaTooNew, SealingError
    from kite_gateway.structured_logs import configure_logging

    overrides = {dest: getattr(args, dest) for _, dest, _, _ in _FLAGS}
    try:
        settings = load_settings(flags={dest: flag for flag, dest, _, _ in _FLAGS}, **overrides)
    except ConfigError as exc:
        print(f"kite-gateway: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, settings.gateway_log_format)
    key = settings.gateway_secret_key.get_secret_value() if settings.gateway_secret_key else None
    key_file = settings.gateway_secret_key_file
    if args.paper and not key and key_file is None:
        key_file = settings.gateway_data_dir / PAPER_KEY_FILE
    url = settings.gateway_database_url.get_secret_value() if settings.gateway_database_url else None
    try:
        counts, location, key_count = asyncio.run(_rekey(key, key_file, url, settings.gateway_data_dir))
    except (SealingError, SchemaTooNew, DatabaseUnavailable, NoDatabase, ValueError, OSError) as exc:
        print(f"kite-gateway: rekey: {exc}", file=sys.stderr)
        return EXIT_FAILED
    total = sum(counts.values())
    log.info("storage.rekeyed", database=location, keys=key_count, resealed=total, **_fields(counts))
    each = ", ".join(f"{count} {name}" for name, count in counts.items())
    print(f"re-sealed {total} stored values under the newest key ({each}) in {location}")
    if key_count > 1:
        print(
            f"every stored secret is now sealed by the newest key: the other {key_count - 1} key(s) can be removed "
            "from KITE_GATEWAY_SECRET_KEY (or its file), provided every gateway on this database already runs with "
            "the new key first (one that sealed under an old key since needs another rekey)"
        )
    else:
        print("only one key is configured: it already seals everything (put a new key first to rotate)")
    return 0


async def _rekey(
    key: str | None, key_file: Path | None, url: str | None, data_dir: Path
) -> tuple[dict[str, int], str, int]:
    """Open the database, prove the key set opens it, re-seal; the counts, where, and how many keys."""
    from kite_gateway.storage import DATABASE_FILE, CredentialStore, Sealer, load_keys, open_database, rekey

    sealer = Sealer(load_keys(key, key_file))
    if url is None and not (data_dir / DATABASE_FILE).exists():  # rather than create an empty one
        raise NoDatabase(f"no gateway database in {data_dir} (give --data-dir or KITE_GATEWAY_DATA_DIR)")
    database = open_database(url, data_dir)
    await database.open()
    try:
        await CredentialStore(database, sealer).check_key()  # the clear error when no key of the set opens it
        counts = await rekey(database, sealer)
    finally:
        await database.close()
    return counts, database.location, sealer.key_count


def _fields(counts: dict[str, int]) -> dict[str, int]:
    return {name.replace(" ", "_"): count for name, count in counts.items()}
