"""The gateway's persistent state: one storage interface over an embedded SQLite database (the default)
or PostgreSQL (the clustered mode); schema migrations, sealed secrets."""

from kite_gateway.storage.alerts import (
    DEAD,
    DELIVERED,
    PENDING_DELIVERY,
    AlertStore,
    Delivery,
    NewAlert,
    StoredAlert,
    StoredRule,
)
from kite_gateway.storage.audit import AuditEntry, AuditLog
from kite_gateway.storage.backend import open_database
from kite_gateway.storage.credentials import CredentialStore, StoredAccount
from kite_gateway.storage.database import (
    Database,
    DatabaseUnavailable,
    DuplicateKey,
    Queries,
    Row,
    SchemaTooNew,
    now_text,
)
from kite_gateway.storage.duplicates import DuplicateLog
from kite_gateway.storage.exit_events import ExitEventLog, StoredExit
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
from kite_gateway.storage.order_requests import DONE, RUNNING, OrderRequests, StoredRequest
from kite_gateway.storage.order_updates import OrderUpdateLog, StoredUpdate, dedupe_key
from kite_gateway.storage.postgres import PostgresDatabase
from kite_gateway.storage.private_files import FILE_MODE, private_directory, private_file
from kite_gateway.storage.rekey import SEALED_COLUMNS, SealedColumn, rekey
from kite_gateway.storage.sealing import AtRest, Sealer, SealingError, load_key, load_keys
from kite_gateway.storage.signals import SignalEvent, SignalOrder, SignalStore, StoredSignal
from kite_gateway.storage.sqlite import DATABASE_FILE, SqliteDatabase, set_aside_database
from kite_gateway.storage.webhook_nonces import WebhookNonces

__all__ = [
    "DATABASE_FILE",
    "DEAD",
    "DELIVERED",
    "DONE",
    "FAILED",
    "FILE_MODE",
    "PENDING",
    "PENDING_DELIVERY",
    "PLACED",
    "POSTGRES_CLOCK",
    "RUNNING",
    "SEALED_COLUMNS",
    "SQLITE_CLOCK",
    "AlertStore",
    "AtRest",
    "AuditEntry",
    "AuditLog",
    "CredentialStore",
    "Database",
    "DatabaseUnavailable",
    "Delivery",
    "DuplicateKey",
    "DuplicateLog",
    "ExitEventLog",
    "Fence",
    "FenceToken",
    "FencedOut",
    "IdempotencyStore",
    "Lease",
    "LeaseStore",
    "NewAlert",
    "OrderRequests",
    "OrderUpdateLog",
    "PostgresDatabase",
    "Queries",
    "Record",
    "Replica",
    "Row",
    "SchemaTooNew",
    "SealedColumn",
    "Sealer",
    "SealingError",
    "SignalEvent",
    "SignalOrder",
    "SignalStore",
    "SqliteDatabase",
    "StoredAccount",
    "StoredAlert",
    "StoredExit",
    "StoredRequest",
    "StoredRule",
    "StoredSignal",
    "StoredUpdate",
    "WebhookNonces",
    "dedupe_key",
    "load_key",
    "load_keys",
    "now_text",
    "open_database",
    "private_directory",
    "private_file",
    "rekey",
    "set_aside_database",
]
