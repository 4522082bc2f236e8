"""Zerodha's charge rates as dated data: the rows of charge_rates.toml (package data), looked up by
trade date, market, exchange and symbol.

Rates change by budget and by exchange circular (1 Oct 2024, 1 Apr 2026), so none is a constant in
code: each row says when it was in force, where it was read and how sure the reference is of it, and
an estimate for a past trade uses the rates of that trade's date. A lookup that finds no row, or two
equally specific ones, is an error rather than a guess."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from kite_gateway.core.reports.model import ZERO, Segment

RATES_PACKAGE = "kite_gateway.core.reports"
RATES_FILE = "charge_rates.toml"
HUNDRED = Decimal(100)

LINES = ("brokerage", "transaction_tax", "exchange", "ipft", "sebi", "stamp", "gst", "dp")
EQUITY_DELIVERY = "equity_delivery"
EQUITY_INTRADAY = "equity_intraday"
MARKETS = (EQUITY_DELIVERY, EQUITY_INTRADAY, *(s.value for s in Segment if s is not Segment.EQUITY))
# The exchange codes a fill of each market carries (Kite's: F&O on NFO/BFO, currency on CDS/BCD).
MARKET_EXCHANGES: dict[str, tuple[str, ...]] = {
    EQUITY_DELIVERY: ("NSE", "BSE"),
    EQUITY_INTRADAY: ("NSE", "BSE"),
    Segment.EQUITY_FUTURES.value: ("NFO", "BFO"),
    Segment.EQUITY_OPTIONS.value: ("NFO", "BFO"),
    Segment.CURRENCY_FUTURES.value: ("CDS", "BCD"),
    Segment.CURRENCY_OPTIONS.value: ("CDS", "BCD"),
    Segment.COMMODITY_FUTURES.value: ("MCX",),
    Segment.COMMODITY_OPTIONS.value: ("MCX",),
}


class RateNotFound(LookupError):
    """No row of the table (or more than one equally specific row) covers the charge asked for."""


def market_of(segment: Segment, intraday: bool) -> str:
    """The rate table's column for a segment: equity splits into delivery and intraday."""
    if segment is Segment.EQUITY:
        return EQUITY_INTRADAY if intraday else EQUITY_DELIVERY
    return segment.value


@dataclass(frozen=True, slots=True)
class Rate:
    """One row: a charge line's rate for some markets and exchanges over a span of trade dates."""

    line: str
    markets: tuple[str, ...]
    exchanges: tuple[str, ...]  # empty: every exchange
    symbol_prefixes: tuple[str, ...]  # empty: every symbol
    side: str  # buy, sell, both, or order (brokerage: once per executed order)
    kind: str  # percent (of the traded value) or flat (rupees)
    value: Decimal
    cap: Decimal | None
    effective_from: date
    effective_to: date | None  # inclusive; None while in force
    source: str
    taken: str
    confidence: str
    tax_type: str = ""  # transaction_tax: stt or ctt

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def on_side(self, buy: bool) -> bool:
        """Whether this rate is charged on a buy (buy=True) or a sell."""
        return self.side in ("both", "order") or self.side == ("buy" if buy else "sell")

    def of(self, value: Decimal) -> Decimal:
        """The charge on `value` rupees of turnover (unrounded): a percentage (capped) or a flat fee."""
        if self.kind == "flat":
            return self.value
        amount = value * self.value / HUNDRED
        return min(amount, self.cap) if self.cap is not None else amount

    @property
    def fraction(self) -> Decimal:
        """A percentage rate as a fraction (18 -> 0.18)."""
        return self.value / HUNDRED

    def _specificity(self, symbol: str) -> tuple[int, int, int] | None:
        if self.symbol_prefixes:
            matching = [p for p in self.symbol_prefixes if symbol.startswith(p)]
            if not matching:
                return None
            longest = max(len(p) for p in matching)
        else:
            longest = 0
        return (longest, 1 if self.exchanges else 0, 0 if "*" in self.markets else 1)


@dataclass(frozen=True, slots=True)
class RateTable:
    rates: tuple[Rate, ...]

    def find(self, line: str, market: str, exchange: str, symbol: str, on: date) -> Rate:
        """The one rate of `line` for a trade on `on`: the most specific row in force (the longest
        matching symbol prefix, then a named exchange, then a named market)."""
        scored: list[tuple[tuple[int, int, int], Rate]] = []
        for rate in self.rates:
            if rate.line != line or not rate.in_force(on):
                continue
            if market not in rate.markets and "*" not in rate.markets:
                continue
            if rate.exchanges and exchange not in rate.exchanges:
                continue
            score = rate._specificity(symbol)
            if score is not None:
                scored.append((score, rate))
        if not scored:
            raise RateNotFound(f"no {line} rate for {market} on {exchange}:{symbol} on {on.isoformat()}")
        best = max(score for score, _ in scored)
        winners = [rate for score, rate in scored if score == best]
        if len(winners) > 1:
            raise RateNotFound(
                f"{len(winners)} {line} rates for {market} on {exchange}:{symbol} on {on.isoformat()} "
                "are equally specific: the table overlaps"
            )
        return winners[0]

    @property
    def change_dates(self) -> tuple[date, ...]:
        """Every date a rate starts or stops (the day after an effective_to), sorted."""
        dates = {r.effective_from for r in self.rates}
        dates |= {date.fromordinal(r.effective_to.toordinal() + 1) for r in self.rates if r.effective_to}
        return tuple(sorted(dates))


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


def _rate(row: dict[str, Any]) -> Rate:
    try:
        rate = Rate(
            line=row["line"],
            markets=tuple(row["markets"]),
            exchanges=tuple(row.get("exchanges", ())),
            symbol_prefixes=tuple(row.get("symbol_prefixes", ())),
            side=row["side"],
            kind=row["kind"],
            value=_decimal(row["value"]),
            cap=_decimal(row["cap"]) if "cap" in row else None,
            effective_from=row["effective_from"],
            effective_to=row.get("effective_to"),
            source=row["source"],
            taken=row["taken"],
            confidence=row["confidence"],
            tax_type=row.get("tax_type", ""),
        )
    except KeyError as missing:
        raise ValueError(f"charge rate {row!r} has no {missing}") from None
    if rate.line not in LINES or rate.kind not in ("percent", "flat") or rate.value < ZERO:
        raise ValueError(f"charge rate {row!r}: unknown line or kind, or a negative value")
    if rate.side not in ("buy", "sell", "both", "order"):
        raise ValueError(f"charge rate {row!r}: side must be buy, sell, both or order")
    unknown = set(rate.markets) - {*MARKETS, "*"}
    if unknown:
        raise ValueError(f"charge rate {row!r}: unknown markets {sorted(unknown)}")
    if not isinstance(rate.effective_from, date) or (
        rate.effective_to is not None and rate.effective_to < rate.effective_from
    ):
        raise ValueError(f"charge rate {row!r}: effective_from must be a date on or before effective_to")
    if rate.line == "transaction_tax" and rate.tax_type not in ("stt", "ctt"):
        raise ValueError(f"charge rate {row!r}: a transaction tax is stt or ctt")
    return rate


def parse(text: str) -> RateTable:
    """A rate table from TOML text in charge_rates.toml's layout."""
    return RateTable(tuple(_rate(row) for row in tomllib.loads(text).get("rate", [])))


@cache
def default_rates() -> RateTable:
    """The rate table shipped with the gateway (charge_rates.toml, read through importlib.resources)."""
    return parse(resources.files(RATES_PACKAGE).joinpath(RATES_FILE).read_text(encoding="utf-8"))
