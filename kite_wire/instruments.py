"""Kite's instruments dump: one `Instrument` row type, and the CSV Kite serves at `/instruments`."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from kite_wire.formats import kite_date, kite_decimal

CSV_COLUMNS = (
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "last_price",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
)
DERIVATIVE_TYPES = ("FUT", "CE", "PE")
INDICES = "INDICES"


@dataclass(frozen=True, slots=True)
class Instrument:
    """One row of the instruments dump."""

    instrument_token: int
    exchange_token: int
    tradingsymbol: str
    name: str
    exchange: str
    segment: str
    instrument_type: str
    expiry: date | None
    strike: Decimal
    tick_size: Decimal
    lot_size: int
    last_price: Decimal

    @property
    def symbol(self) -> str:
        """`EXCHANGE:TRADINGSYMBOL`, as the quote endpoints name it."""
        return f"{self.exchange}:{self.tradingsymbol}"

    @property
    def is_derivative(self) -> bool:
        return self.instrument_type in DERIVATIVE_TYPES

    @property
    def tradable(self) -> bool:
        return self.segment != INDICES


def _expiry(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def instrument_from_row(row: Mapping[str, Any]) -> Instrument:
    """A row as the official client's `instruments()` returns it (numbers, a date expiry) or as the
    CSV has it (strings)."""
    return Instrument(
        instrument_token=int(row["instrument_token"]),
        exchange_token=int(row.get("exchange_token") or 0),
        tradingsymbol=str(row["tradingsymbol"]),
        name=str(row.get("name") or ""),
        exchange=str(row["exchange"]),
        segment=str(row.get("segment") or ""),
        instrument_type=str(row.get("instrument_type") or ""),
        expiry=_expiry(row.get("expiry")),
        strike=kite_decimal(row.get("strike")),
        tick_size=kite_decimal(row.get("tick_size")),
        lot_size=int(row.get("lot_size") or 0),
        last_price=kite_decimal(row.get("last_price")),
    )


def _csv_number(value: Decimal) -> str:
    return str(float(value))


def csv_row(instrument: Instrument) -> list[str]:
    """The row's CSV fields, in CSV_COLUMNS order, written as Kite writes them (`0.05`, `24350.0`)."""
    return [
        str(instrument.instrument_token),
        str(instrument.exchange_token),
        instrument.tradingsymbol,
        instrument.name,
        _csv_number(instrument.last_price),
        kite_date(instrument.expiry),
        _csv_number(instrument.strike),
        _csv_number(instrument.tick_size),
        str(instrument.lot_size),
        instrument.instrument_type,
        instrument.segment,
        instrument.exchange,
    ]


def format_instruments_csv(instruments: Iterable[Instrument]) -> str:
    """The instruments dump as Kite serves it: a header line, then one line a row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_row(instrument) for instrument in instruments)
    return out.getvalue()


def parse_instruments_csv(text: str) -> list[Instrument]:
    """Every row of an instruments dump."""
    return [instrument_from_row(row) for row in csv.DictReader(io.StringIO(text))]
