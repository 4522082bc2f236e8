"""The fill log: every fill (Kite's trade) of every account, kept across days, once each whichever
source reported it; each executed order's charges; the gaps the log may have; and until when each
account was watched (the gaps are found from it). Storing is idempotent (INSERT ... ON CONFLICT DO
NOTHING), so two replicas, or a reconciliation racing an order update, never duplicate a fill.
Times are stored as UTC text of a fixed width and dates as ISO text, so they compare as text."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from kite_gateway.storage.database import Database
from kite_gateway.storage.fill_records import Charges, ChargeSource, Fill, FillGap, OrderCharges, Side

_CHARGE_LINES = ("brokerage", "transaction_tax", "exchange_turnover_charge", "sebi_turnover_charge", "stamp_duty",
                 "gst", "dp")  # fmt: skip


def _moment(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def page_key(fill: Fill) -> tuple[str, str, str, str]:
    """Where a fill stands in the log's order (FillLog.fills' `after`): its time as stored, then its ids."""
    return (_moment(fill.filled_at), fill.account_id, fill.order_id, fill.trade_id)


def _in(column: str, values: Collection[str]) -> tuple[str, list[str]]:
    return f"{column} IN ({', '.join('?' for _ in values)})", list(values)


@dataclass(frozen=True, slots=True)
class FillQuery:
    """Which fills: of some accounts, over inclusive trade dates, optionally filtered."""

    account_ids: Collection[str]
    start: date | None = None
    end: date | None = None
    exchange: str = ""
    tradingsymbol: str = ""
    side: Side | None = None
    product: str = ""

    def where(self) -> tuple[str, list[Any]]:
        clause, params = _in("account_id", self.account_ids)
        parts: list[str] = [clause]
        values: list[Any] = list(params)
        for column, value in (
            ("trade_date >= ?", self.start.isoformat() if self.start else ""),
            ("trade_date <= ?", self.end.isoformat() if self.end else ""),
            ("exchange = ?", self.exchange),
            ("tradingsymbol = ?", self.tradingsymbol),
            ("side = ?", self.side.value if self.side else ""),
            ("product = ?", self.product),
        ):
            if value:
                parts.append(column)
                values.append(value)
        return " AND ".join(parts), values


def _fill(row: Any) -> Fill:
    return Fill(
        account_id=row["account_id"],
        trade_id=row["trade_id"],
        order_id=row["order_id"],
        exchange=row["exchange"],
        tradingsymbol=row["tradingsymbol"],
        instrument_token=int(row["instrument_token"]),
        instrument_type=row["instrument_type"],
        side=Side(row["side"]),
        product=row["product"],
        quantity=int(row["quantity"]),
        price=Decimal(row["price"]),
        filled_at=datetime.fromisoformat(row["filled_at"]),
        multiplier=Decimal(row["multiplier"]),
    )


class FillLog:
    def __init__(self, database: Database) -> None:
        self.database = database

    # Fills ------------------------------------------------------------------------------------

    async def record(self, fills: Iterable[Fill], source: str, now: datetime) -> list[Fill]:
        """Store the fills not stored before; returns those that were new. The trades already stored
        are found with one query per account, so that a reconciliation of a busy day (every trade of
        it, nearly all known) writes nothing and costs the database one read, not a write per trade;
        the new ones are stored together (one commit, not one per fill)."""
        given = list(fills)
        known: set[tuple[str, str, str, str]] = set()
        for account_id in {f.account_id for f in given}:
            days = sorted({f.trade_date.isoformat() for f in given if f.account_id == account_id})
            clause, params = _in("trade_date", days)
            rows = await self.database.fetch_all(
                f"SELECT exchange, order_id, trade_id FROM fills WHERE account_id = ? AND {clause}",
                [account_id, *params],
            )
            known |= {(account_id, r["exchange"], r["order_id"], r["trade_id"]) for r in rows}
        unknown = [f for f in given if (f.account_id, f.exchange, f.order_id, f.trade_id) not in known]
        if not unknown:
            return []
        changed = await self.database.execute_each(
            "INSERT INTO fills (account_id, exchange, order_id, trade_id, tradingsymbol, instrument_token, "
            "instrument_type, side, product, quantity, price, multiplier, filled_at, trade_date, source, "
            "recorded_at) VALUES (?, ?, ?, ?, ?, CAST(? AS BIGINT), ?, ?, ?, CAST(? AS BIGINT), ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",  # another writer (a replica, the other path) may store it first
            [
                (
                    f.account_id, f.exchange, f.order_id, f.trade_id, f.tradingsymbol, f.instrument_token,
                    f.instrument_type, f.side.value, f.product, f.quantity, str(f.price), str(f.multiplier),
                    _moment(f.filled_at), f.trade_date.isoformat(), source, _moment(now),
                )
                for f in unknown
            ],
        )  # fmt: skip
        return [f for f, stored in zip(unknown, changed, strict=True) if stored]

    async def fills(
        self, query: FillQuery, after: tuple[str, str, str, str] | None = None, limit: int = 0
    ) -> list[Fill]:
        """Fills matching `query`, oldest first (by fill time, then account, order and trade id);
        with `after` (the sort key of the last fill of a previous page) the ones after it."""
        if not query.account_ids:
            return []
        where, params = query.where()
        if after is not None:
            where += " AND (filled_at, account_id, order_id, trade_id) > (?, ?, ?, ?)"
            params.extend(after)
        sql = f"SELECT * FROM fills WHERE {where} ORDER BY filled_at, account_id, order_id, trade_id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_fill(row) for row in await self.database.fetch_all(sql, params)]

    async def count(self, query: FillQuery) -> int:
        """How many fills match `query` (a report checks this before it loads them all)."""
        if not query.account_ids:
            return 0
        where, params = query.where()
        row = await self.database.fetch_one(f"SELECT COUNT(*) AS n FROM fills WHERE {where}", params)
        return int(row["n"]) if row else 0

    async def of_order(self, account_id: str, order_id: str) -> list[Fill]:
        rows = await self.database.fetch_all(
            "SELECT * FROM fills WHERE account_id = ? AND order_id = ? ORDER BY filled_at, trade_id",
            (account_id, order_id),
        )
        return [_fill(row) for row in rows]

    async def of_day(self, account_id: str, day: date) -> list[Fill]:
        return await self.fills(FillQuery((account_id,), day, day))

    # Charges ----------------------------------------------------------------------------------

    async def save_charges(self, all_charges: Sequence[OrderCharges], now: datetime) -> None:
        """Store (or replace) orders' charges, together (one commit); an estimate never replaces
        Kite's note of the same quantity (an order update's read and a reconciliation may race, one
        of them without Kite's note)."""
        if not all_charges:
            return
        await self.database.execute_each(
            "INSERT INTO order_charges (account_id, order_id, trade_date, quantity, source, brokerage, "
            "transaction_tax, exchange_turnover_charge, sebi_turnover_charge, stamp_duty, gst, dp, "
            "transaction_tax_type, recorded_at) VALUES (?, ?, ?, CAST(? AS BIGINT), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (account_id, order_id) DO UPDATE SET trade_date = excluded.trade_date, "
            "quantity = excluded.quantity, source = excluded.source, brokerage = excluded.brokerage, "
            "transaction_tax = excluded.transaction_tax, exchange_turnover_charge = excluded.exchange_turnover_charge, "
            "sebi_turnover_charge = excluded.sebi_turnover_charge, stamp_duty = excluded.stamp_duty, "
            "gst = excluded.gst, dp = excluded.dp, transaction_tax_type = excluded.transaction_tax_type, "
            "recorded_at = excluded.recorded_at WHERE NOT (order_charges.source = ? AND excluded.source = ? "
            "AND order_charges.quantity = excluded.quantity)",
            [(charges.account_id, charges.order_id, charges.trade_date.isoformat(), charges.quantity,
              charges.source.value, *(str(getattr(charges.charges, name)) for name in _CHARGE_LINES),
              charges.charges.transaction_tax_type, _moment(now),
              ChargeSource.CONTRACT_NOTE.value, ChargeSource.ESTIMATED.value) for charges in all_charges],
        )  # fmt: skip

    async def charges(
        self, account_ids: Collection[str], start: date | None, end: date | None
    ) -> dict[str, OrderCharges]:
        """The charges of the accounts' orders of the trade dates, by order id."""
        if not account_ids:
            return {}
        where, params = _in("account_id", account_ids)
        if start is not None:
            where += " AND trade_date >= ?"
            params.append(start.isoformat())
        if end is not None:
            where += " AND trade_date <= ?"
            params.append(end.isoformat())
        rows = await self.database.fetch_all(f"SELECT * FROM order_charges WHERE {where}", params)
        return {row["order_id"]: _charges(row) for row in rows}

    async def charges_of(self, account_id: str, order_id: str) -> OrderCharges | None:
        row = await self.database.fetch_one(
            "SELECT * FROM order_charges WHERE account_id = ? AND order_id = ?", (account_id, order_id)
        )
        return _charges(row) if row else None

    # Gaps and watching ------------------------------------------------------------------------

    async def add_gap(self, gap: FillGap) -> None:
        await self.database.execute(
            "INSERT INTO fill_gaps (account_id, start_date, end_date, reason, recorded_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (gap.account_id, gap.start.isoformat(), gap.end.isoformat(), gap.reason, _moment(gap.recorded_at)),
        )

    async def gaps(self, account_ids: Collection[str], start: date | None, end: date) -> list[FillGap]:
        """The gaps of the accounts overlapping [start, end] (from the log's beginning when start is None)."""
        if not account_ids:
            return []
        where, params = _in("account_id", account_ids)
        rows = await self.database.fetch_all(
            f"SELECT * FROM fill_gaps WHERE {where} AND start_date <= ? AND end_date >= ? "
            "ORDER BY account_id, start_date",
            [*params, end.isoformat(), (start or date.min).isoformat()],
        )
        return [
            FillGap(
                row["account_id"],
                date.fromisoformat(row["start_date"]),
                date.fromisoformat(row["end_date"]),
                row["reason"],
                datetime.fromisoformat(row["recorded_at"]),
            )
            for row in rows
        ]

    async def watched_at(self, account_id: str) -> datetime | None:
        """The last time the log was known complete for the account (None: never watched)."""
        row = await self.database.fetch_one("SELECT watched_at FROM fill_watch WHERE account_id = ?", (account_id,))
        return datetime.fromisoformat(row["watched_at"]) if row else None

    async def watched(self, account_id: str, moment: datetime) -> None:
        """The log is complete for the account up to `moment` (never moved back)."""
        await self.database.execute(
            "INSERT INTO fill_watch (account_id, watched_at) VALUES (?, ?) ON CONFLICT (account_id) DO UPDATE "
            "SET watched_at = excluded.watched_at WHERE fill_watch.watched_at < excluded.watched_at",
            (account_id, _moment(moment)),
        )


def _charges(row: Any) -> OrderCharges:
    lines = {name: Decimal(row[name]) for name in _CHARGE_LINES}
    return OrderCharges(
        account_id=row["account_id"],
        order_id=row["order_id"],
        trade_date=date.fromisoformat(row["trade_date"]),
        charges=Charges(transaction_tax_type=row["transaction_tax_type"], **lines),
        source=ChargeSource(row["source"]),
        quantity=int(row["quantity"]),
    )
