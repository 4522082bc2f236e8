"""Re-sealing everything stored sealed under the newest sealing key (`kite-gateway rekey`), so that an
older key can be removed from the key set.

It is idempotent and safe to interrupt: it runs in one transaction (both backends have them), every
value is replaced only if it is still the one that was read (a gateway running beside it may have
stored a new token meanwhile, already under the newest key), a value already sealed by the newest key
is left alone, and the key check is re-sealed last. Until it has finished, every value is still
sealed by some key of the set, so an interrupted rekey loses nothing: run it again."""

from __future__ import annotations

from dataclasses import dataclass

from kite_gateway.storage.database import Database, Queries
from kite_gateway.storage.sealing import Sealer, is_sealed


@dataclass(frozen=True)
class SealedColumn:
    """A column holding sealed values: `clear_allowed` when older versions stored it in the clear (rekey
    seals those too)."""

    name: str  # what the operator is told was re-sealed
    table: str
    keys: tuple[str, ...]
    column: str
    clear_allowed: bool = False
    where: str = ""


# The key check last: while it is still sealed by an older key only, dropping that key fails the start.
SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    SealedColumn("api secrets", "apps", ("api_key",), "sealed_api_secret"),
    SealedColumn("access tokens", "accounts", ("account_id",), "sealed_access_token"),
    SealedColumn("order updates", "order_updates", ("account_id", "sequence"), "payload", clear_allowed=True),
    SealedColumn("audit request bodies", "audit", ("event_id",), "request_json", clear_allowed=True),
    SealedColumn("hashing key", "meta", ("name",), "value", where="name = 'hashing_key'"),
    SealedColumn("key check", "meta", ("name",), "value", where="name = 'key_check'"),
)


async def rekey(
    database: Database, sealer: Sealer, columns: tuple[SealedColumn, ...] = SEALED_COLUMNS
) -> dict[str, int]:
    """Re-seal every value of `columns` not sealed by the newest key yet; how many of each."""
    async with database.transaction() as queries:
        return {column.name: await _reseal(queries, sealer, column) for column in columns}


async def _reseal(queries: Queries, sealer: Sealer, column: SealedColumn) -> int:
    keys = ", ".join(column.keys)
    where = f" AND {column.where}" if column.where else ""
    rows = await queries.fetch_all(
        f"SELECT {keys}, {column.column} AS sealed FROM {column.table} WHERE {column.column} IS NOT NULL{where}"
    )
    changes = []
    for row in rows:
        value = row["sealed"]
        if is_sealed(value):
            new = sealer.reseal(value)
        else:
            new = sealer.seal(value) if column.clear_allowed else None
        if new is not None:
            changes.append((new, *(row[key] for key in column.keys), value))
    if changes:
        match = " AND ".join(f"{key} = ?" for key in column.keys)
        await queries.execute_many(
            f"UPDATE {column.table} SET {column.column} = ? WHERE {match} AND {column.column} = ?", changes
        )
    return len(changes)
