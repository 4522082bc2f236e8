"""The database schema, as an ordered list of migrations, the same for SQLite and PostgreSQL (written
in SQLite's dialect; `postgres_ddl` translates the column types). Never edit a released migration: add one."""

from __future__ import annotations

import re

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "apps, accounts, idempotency records and the audit trail",
        """
        CREATE TABLE meta (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE apps (
            api_key TEXT PRIMARY KEY,
            sealed_api_secret TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE accounts (
            account_id TEXT PRIMARY KEY,
            api_key TEXT NOT NULL REFERENCES apps(api_key),
            user_name TEXT NOT NULL DEFAULT '',
            sealed_access_token TEXT,
            login_time TEXT,
            token_expires_at TEXT,
            created_at TEXT NOT NULL,
            paper INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE idempotency (
            account_id TEXT NOT NULL,
            client_order_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            tag TEXT NOT NULL,
            state TEXT NOT NULL,
            order_id TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (account_id, client_order_id)
        );
        CREATE INDEX idempotency_by_order ON idempotency (account_id, order_id);
        CREATE TABLE audit (
            event_id INTEGER PRIMARY KEY AUTOINCREMENT,
            time TEXT NOT NULL,
            principal TEXT NOT NULL,
            account_id TEXT NOT NULL,
            action INTEGER NOT NULL,
            client_order_id TEXT NOT NULL DEFAULT '',
            order_id TEXT NOT NULL DEFAULT '',
            request_json TEXT NOT NULL,
            status_code INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            latency_ms REAL NOT NULL
        );
        CREATE INDEX audit_by_account_time ON audit (account_id, time);
        """,
    ),
    (
        2,
        "order updates with a per-account sequence",
        """
        CREATE TABLE order_updates (
            account_id TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            order_id TEXT NOT NULL,
            dedupe_key TEXT NOT NULL,
            source INTEGER NOT NULL,
            received_at TEXT NOT NULL,
            payload TEXT NOT NULL,
            PRIMARY KEY (account_id, sequence),
            UNIQUE (account_id, dedupe_key)
        );
        """,
    ),
    (
        3,
        "kill switches (account_id '' is the gateway-wide one)",
        """
        CREATE TABLE kill_switches (
            account_id TEXT PRIMARY KEY,
            engaged INTEGER NOT NULL,
            reason TEXT NOT NULL,
            principal TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """,
    ),
    (
        4,
        "order attempts' send times (the quarantine after an unknown outcome), tags by account, duplicate orders",
        """
        ALTER TABLE idempotency ADD COLUMN sent_at TEXT;
        ALTER TABLE idempotency ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
        -- A pending record from before this migration may have been sent: assume it was, when last touched.
        UPDATE idempotency SET sent_at = updated_at, attempts = 1 WHERE state = 'pending';
        CREATE INDEX idempotency_by_tag ON idempotency (account_id, tag);
        CREATE TABLE duplicate_orders (
            account_id TEXT NOT NULL,
            order_id TEXT NOT NULL,
            client_order_id TEXT NOT NULL,
            kept_order_id TEXT NOT NULL,
            action INTEGER NOT NULL,
            message TEXT NOT NULL,
            detected_at TEXT NOT NULL,
            PRIMARY KEY (account_id, order_id)
        );
        """,
    ),
    (
        5,
        "autosliced orders: the parent order id and every child of an idempotency record",
        """
        -- JSON, written by kite_gateway/core/orders/autoslice.py; NULL for an order that was not sliced.
        ALTER TABLE idempotency ADD COLUMN slices TEXT;
        """,
    ),
    (
        6,
        "replicas and leases of the clustered mode (times in milliseconds of the database's clock)",
        """
        CREATE TABLE replicas (
            replica_id TEXT PRIMARY KEY,
            address TEXT NOT NULL,
            draining INTEGER NOT NULL DEFAULT 0,
            expires_ms INTEGER NOT NULL
        );
        -- One row per lease key (an api_key: Kite's ticker connections are counted per app, so its
        -- accounts move together); generation is the fencing token, raised at every change of owner.
        CREATE TABLE leases (
            lease_key TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            generation INTEGER NOT NULL,
            expires_ms INTEGER NOT NULL
        );
        """,
    ),
    (
        7,
        "order requests kept by their caller's id: square-offs, cancel-alls and baskets (their results)",
        """
        -- kind: 'square_off', 'cancel_all' or 'basket'; result: JSON written by kite_gateway/core/orders
        -- (NULL while running). A request id is the caller's idempotency key for the whole request.
        CREATE TABLE order_requests (
            kind TEXT NOT NULL,
            request_id TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            account_id TEXT NOT NULL DEFAULT '',
            principal TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL,
            result TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (kind, request_id)
        );
        """,
    ),
    (
        8,
        "automatic exits: each rule crossed, once per scope and trading day, and what was done",
        """
        -- Written by kite_gateway/core/risk/exits.py; amounts are decimal strings.
        CREATE TABLE exit_events (
            event_id INTEGER PRIMARY KEY AUTOINCREMENT,
            trading_day TEXT NOT NULL,
            scope TEXT NOT NULL,
            scope_id TEXT NOT NULL,
            rule TEXT NOT NULL,
            reason TEXT NOT NULL,
            pnl TEXT NOT NULL,
            threshold TEXT NOT NULL,
            peak TEXT NOT NULL,
            utilisation TEXT NOT NULL,
            square_off INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (trading_day, scope, scope_id, rule)
        );
        """,
    ),
    (
        9,
        "strategy signals: each signal and its state, every state change in one sequence, the orders each made",
        """
        -- Written by kite_gateway/storage/signals.py; body: the signal as JSON; times in UTC ISO text.
        CREATE TABLE signals (
            strategy_id TEXT NOT NULL,
            signal_id TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            body TEXT NOT NULL,
            principal TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            expires_at TEXT,
            PRIMARY KEY (strategy_id, signal_id)
        );
        CREATE INDEX signals_by_state ON signals (state, expires_at);
        -- sequence: 1, 2, 3, ... over every signal (a stream resumes after the last one it saw).
        CREATE TABLE signal_events (
            sequence INTEGER PRIMARY KEY,
            strategy_id TEXT NOT NULL,
            signal_id TEXT NOT NULL,
            state TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE signal_orders (
            strategy_id TEXT NOT NULL,
            signal_id TEXT NOT NULL,
            account_id TEXT NOT NULL,
            client_order_id TEXT NOT NULL,
            order_id TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL,
            PRIMARY KEY (strategy_id, signal_id, account_id)
        );
        CREATE INDEX signal_orders_by_strategy ON signal_orders (strategy_id, order_id);
        """,
    ),
    (
        10,
        "gateway alerts: every alert in one sequence, rules made by RPC, the engine's state, webhook deliveries",
        """
        -- Written by kite_gateway/storage/alerts.py; times in UTC ISO text; fields: JSON of strings.
        -- sequence: 1, 2, 3, ... over every alert (a stream resumes after the last one it saw).
        CREATE TABLE alerts (
            sequence INTEGER PRIMARY KEY,
            rule_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            severity TEXT NOT NULL,
            scope TEXT NOT NULL,
            title TEXT NOT NULL,
            message TEXT NOT NULL,
            fields TEXT NOT NULL,
            at TEXT NOT NULL
        );
        -- body: the rule as JSON, in the shape of an [[alerts.rules]] table (rules.rule_from_table).
        CREATE TABLE alert_rules (
            rule_id TEXT PRIMARY KEY,
            body TEXT NOT NULL,
            principal TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        -- state: the engine's snapshot (AlertEngine.snapshot()) as JSON, one per gateway or replica.
        CREATE TABLE alert_engine_state (
            state_key TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        -- state: 'pending', 'delivered' or 'dead'; one row per webhook sink and alert.
        CREATE TABLE alert_deliveries (
            sink_id TEXT NOT NULL,
            sequence INTEGER NOT NULL REFERENCES alerts(sequence),
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL,
            PRIMARY KEY (sink_id, sequence)
        );
        CREATE INDEX alert_deliveries_due ON alert_deliveries (state, next_attempt_at);
        """,
    ),
    (
        11,
        "webhook nonces: each (strategy, signal_id) a signal webhook delivered, kept for the replay window",
        """
        -- Written by kite_gateway/storage/webhook_nonces.py; seen_at in UTC ISO text (microseconds), purged
        -- once older than the replay window.
        CREATE TABLE webhook_nonces (
            strategy_id TEXT NOT NULL,
            nonce TEXT NOT NULL,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (strategy_id, nonce)
        );
        CREATE INDEX webhook_nonces_by_time ON webhook_nonces (seen_at);
        """,
    ),
    (
        12,
        "signals: each order's leg as planned (to resume routing after a crash) and its notional; strategy halts",
        """
        -- leg: the planned order as JSON (kite_gateway/core/signals/service.py); notional: quantity x
        -- reference price, exact decimal text (the strategy's capital budget); placed_at: when placed.
        ALTER TABLE signal_orders ADD COLUMN leg TEXT NOT NULL DEFAULT '';
        ALTER TABLE signal_orders ADD COLUMN notional TEXT NOT NULL DEFAULT '0';
        ALTER TABLE signal_orders ADD COLUMN created_at TEXT NOT NULL DEFAULT '';
        CREATE INDEX signal_orders_by_time ON signal_orders (strategy_id, created_at);
        -- A strategy halted by an automatic exit, for its trading day (its signals are refused).
        CREATE TABLE strategy_halts (
            strategy_id TEXT NOT NULL,
            trading_day TEXT NOT NULL,
            reason TEXT NOT NULL,
            halted_at TEXT NOT NULL,
            PRIMARY KEY (strategy_id, trading_day)
        );
        """,
    ),
    (
        13,
        "the fill log: fills (Kite's trades) per account across days, each executed order's charges, gaps",
        """
        -- Written by kite_gateway/storage/fills.py. Amounts are exact decimal text; filled_at is UTC ISO
        -- text (microseconds), trade_date the fill's IST date (YYYY-MM-DD). A trade is the same trade
        -- whichever source reported it (the order's trades after an update, or the day's trades at a
        -- reconciliation): (account_id, exchange, order_id, trade_id).
        CREATE TABLE fills (
            account_id TEXT NOT NULL,
            exchange TEXT NOT NULL,
            order_id TEXT NOT NULL,
            trade_id TEXT NOT NULL,
            tradingsymbol TEXT NOT NULL,
            instrument_token INTEGER NOT NULL,
            instrument_type TEXT NOT NULL,
            side TEXT NOT NULL,
            product TEXT NOT NULL,
            quantity INTEGER NOT NULL,
            price TEXT NOT NULL,
            multiplier TEXT NOT NULL,
            filled_at TEXT NOT NULL,
            trade_date TEXT NOT NULL,
            source TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (account_id, exchange, order_id, trade_id)
        );
        CREATE INDEX fills_by_date ON fills (account_id, trade_date, filled_at);
        CREATE INDEX fills_by_time ON fills (filled_at);
        -- The charges of an executed order, for `quantity` filled units (a later fill makes them stale).
        CREATE TABLE order_charges (
            account_id TEXT NOT NULL,
            order_id TEXT NOT NULL,
            trade_date TEXT NOT NULL,
            quantity INTEGER NOT NULL,
            source TEXT NOT NULL,
            brokerage TEXT NOT NULL,
            transaction_tax TEXT NOT NULL,
            transaction_tax_type TEXT NOT NULL,
            exchange_turnover_charge TEXT NOT NULL,
            sebi_turnover_charge TEXT NOT NULL,
            stamp_duty TEXT NOT NULL,
            gst TEXT NOT NULL,
            dp TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (account_id, order_id)
        );
        CREATE INDEX order_charges_by_date ON order_charges (account_id, trade_date);
        -- Days the log may miss fills in (inclusive IST dates), and until when each account was watched.
        CREATE TABLE fill_gaps (
            account_id TEXT NOT NULL,
            start_date TEXT NOT NULL,
            end_date TEXT NOT NULL,
            reason TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (account_id, start_date)
        );
        CREATE TABLE fill_watch (
            account_id TEXT PRIMARY KEY,
            watched_at TEXT NOT NULL
        );
        """,
    ),
    (
        14,
        "retention: indexes on the time columns the retention windows prune by",
        """
        -- kite_gateway/storage/retention.py deletes rows older than each window, oldest first, in batches.
        CREATE INDEX order_updates_by_time ON order_updates (received_at);
        CREATE INDEX audit_by_time ON audit (time);
        """,
    ),
)


def postgres_ddl(sql: str) -> str:
    """A migration as PostgreSQL runs it: SQLite's column types as PostgreSQL's of the same range
    (INTEGER is 64 bits in SQLite, REAL a double), AUTOINCREMENT as an identity column. Everything
    else in a migration is SQL both understand."""
    sql = _AUTOINCREMENT.sub("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", sql)
    sql = _INTEGER.sub("BIGINT", sql)
    return _REAL.sub("DOUBLE PRECISION", sql)


_AUTOINCREMENT = re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b")
_INTEGER = re.compile(r"\bINTEGER\b")
_REAL = re.compile(r"\bREAL\b")
