"""The gateway's persistent state: one storage interface over an embedded SQLite database (the default)
or PostgreSQL (the clustered mode); schema migrations, sealed secrets."""

from kite_gateway.storage.account_data import ACCOUNT_TABLES, AccountData, AccountTable, SealedUnreadable
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
from kite_gateway.storage.fill_records import (
    COMMODITY_EXCHANGES,
    CURRENCY_EXCHANGES,
    EQUITY_EXCHANGES,
    NO_CHARGES,
    OPTION_TYPES,
    ZERO,
    Charges,
    ChargeSource,
    Fill,
    FillGap,
    OrderCharges,
    Segment,
    Side,
    segment_of,
)
from kite_gateway.storage.fills import FillLog, FillQuery, page_key
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
from kite_gateway.storage.retention import RETENTION_RULES, Retention, RetentionRule, keep_pruning, retention_windows
from kite_gateway.storage.sealing import AtRest, Sealer, SealingError, load_key, load_keys
from kite_gateway.storage.signals import SignalEvent, SignalOrder, SignalStore, StoredSignal
from kite_gateway.storage.sqlite import DATABASE_FILE, SqliteDatabase, set_aside_database
from kite_gateway.storage.webhook_nonces import WebhookNonces

__all__ = [
    "ACCOUNT_TABLES",
    "COMMODITY_EXCHANGES",
    "CURRENCY_EXCHANGES",
    "DATABASE_FILE",
    "DEAD",
    "DELIVERED",
    "DONE",
    "EQUITY_EXCHANGES",
    "FAILED",
    "FILE_MODE",
    "NO_CHARGES",
    "OPTION_TYPES",
    "PENDING",
    "PENDING_DELIVERY",
    "PLACED",
    "POSTGRES_CLOCK",
    "RETENTION_RULES",
    "RUNNING",
    "SEALED_COLUMNS",
    "SQLITE_CLOCK",
    "ZERO",
    "AccountData",
    "AccountTable",
    "AlertStore",
    "AtRest",
    "AuditEntry",
    "AuditLog",
    "ChargeSource",
    "Charges",
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
    "Fill",
    "FillGap",
    "FillLog",
    "FillQuery",
    "IdempotencyStore",
    "Lease",
    "LeaseStore",
    "NewAlert",
    "OrderCharges",
    "OrderRequests",
    "OrderUpdateLog",
    "PostgresDatabase",
    "Queries",
    "Record",
    "Replica",
    "Retention",
    "RetentionRule",
    "Row",
    "SchemaTooNew",
    "SealedColumn",
    "SealedUnreadable",
    "Sealer",
    "SealingError",
    "Segment",
    "Side",
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
    "keep_pruning",
    "load_key",
    "load_keys",
    "now_text",
    "open_database",
    "page_key",
    "private_directory",
    "private_file",
    "rekey",
    "retention_windows",
    "segment_of",
    "set_aside_database",
]
