"""The gateway's persistent state: an embedded SQLite database (schema migrations, sealed secrets)."""

from kite_gateway.storage.audit import AuditEntry, AuditLog
from kite_gateway.storage.credentials import CredentialStore, StoredAccount
from kite_gateway.storage.database import DATABASE_FILE, Database, now_text, set_aside_database
from kite_gateway.storage.duplicates import DuplicateLog
from kite_gateway.storage.idempotency import FAILED, PENDING, PLACED, Fence, IdempotencyStore, Record
from kite_gateway.storage.leases import (
    POSTGRES_CLOCK,
    SQLITE_CLOCK,
    FencedOut,
    FenceToken,
    Lease,
    LeaseStore,
    Replica,
)
from kite_gateway.storage.order_updates import OrderUpdateLog, StoredUpdate, dedupe_key
from kite_gateway.storage.private_files import FILE_MODE, private_directory
from kite_gateway.storage.sealing import Sealer, SealingError, load_key

__all__ = [
    "DATABASE_FILE",
    "FAILED",
    "FILE_MODE",
    "PENDING",
    "PLACED",
    "POSTGRES_CLOCK",
    "SQLITE_CLOCK",
    "AuditEntry",
    "AuditLog",
    "CredentialStore",
    "Database",
    "DuplicateLog",
    "Fence",
    "FenceToken",
    "FencedOut",
    "IdempotencyStore",
    "Lease",
    "LeaseStore",
    "OrderUpdateLog",
    "Record",
    "Replica",
    "Sealer",
    "SealingError",
    "StoredAccount",
    "StoredUpdate",
    "dedupe_key",
    "load_key",
    "now_text",
    "private_directory",
    "set_aside_database",
]
