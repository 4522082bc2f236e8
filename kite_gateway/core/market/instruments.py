"""The instrument master: Kite's daily instruments dump, downloaded again after each morning's dump
(master_schedule), indexed by token and `EXCHANGE:TRADINGSYMBOL`, and searchable by words and
filters with ranked results."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import structlog

from kite_gateway.core.accounts import AccountSession
from kite_gateway.core.market.master_schedule import RefreshSchedule
from kite_gateway.errors import GatewayError, Reason, Status, invalid
from kite_gateway.kite import KiteMarket
from kite_wire import Instrument, instrument_from_row

EXCHANGE_ORDER = {name: rank for rank, name in enumerate(("NSE", "BSE", "NFO", "BFO", "MCX", "CDS", "BCD"))}


Listing = Instrument  # one row of the instruments dump (kite_wire.instruments)


@dataclass(frozen=True, slots=True)
class InstrumentRef:
    """How a caller names an instrument: by `EXCHANGE:TRADINGSYMBOL` or by instrument token (neither:
    not named at all)."""

    symbol: str | None = None
    instrument_token: int | None = None

    @property
    def named(self) -> bool:
        return self.symbol is not None or self.instrument_token is not None

    def __str__(self) -> str:
        return self.symbol if self.symbol is not None else f"token {self.instrument_token}"


log = structlog.get_logger(__name__)
EMPTY_DUMP = "Kite answered an empty instruments dump (it may be regenerating it): retry in a minute"


class InstrumentMaster:
    """Today's instruments; downloaded again once Kite's next morning dump is out (`schedule`)."""

    def __init__(self, schedule: RefreshSchedule | None = None) -> None:
        self.by_token: dict[int, Listing] = {}
        self.by_symbol: dict[str, Listing] = {}
        self.schedule = schedule if schedule is not None else RefreshSchedule()
        self.loaded_at: datetime | None = None
        self._lock = asyncio.Lock()

    def load(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Replace the master with a downloaded dump; the next download is after the next dump (or
        soon, when the dump is the one already loaded: see master_schedule)."""
        listings = [instrument_from_row(row) for row in rows]
        unchanged = bool(self.by_token) and {i.instrument_token for i in listings} == self.by_token.keys()
        self.by_symbol = {listing.symbol: listing for listing in listings}
        self.by_token = {listing.instrument_token: listing for listing in listings}
        self.loaded_at = self.schedule.clock()
        if unchanged:
            due = self.schedule.unchanged()
            log.info("instruments.dump_unchanged", next_download=due.isoformat())
        else:
            self.schedule.downloaded()

    def symbols(self) -> dict[int, str]:
        """instrument_token -> EXCHANGE:TRADINGSYMBOL."""
        return {token: listing.symbol for token, listing in self.by_token.items()}

    def _current(self) -> bool:
        return bool(self.by_symbol) and not self.schedule.is_due()

    async def ensure(self, session: AccountSession) -> None:
        """Download the dump through this account's session when none is loaded or a newer one is out.
        A failed refresh (an empty dump too) keeps the loaded master serving and is retried with a
        growing delay; with no master loaded, the failure is the caller's."""
        if self._current():
            return
        async with self._lock:
            if self._current():
                return
            if not self.by_symbol and self.schedule.failures and not self.schedule.is_due():
                raise GatewayError(  # the last download just failed: do not fetch the whole dump on every call
                    Status.UNAVAILABLE,
                    Reason.KITE_UNAVAILABLE,
                    "the instrument master could not be downloaded from Kite yet; the gateway tries again "
                    f"in {self.schedule.seconds_to_due():.0f} s: retry then",
                    retry_after=max(self.schedule.seconds_to_due(), 1.0),
                )
            try:
                rows = await KiteMarket(session.active()).instruments()
                if not rows:  # never a real day's dump (tens of thousands of contracts): one being regenerated
                    raise GatewayError(Status.UNAVAILABLE, Reason.KITE_UNAVAILABLE, EMPTY_DUMP)
            except GatewayError as exc:
                retry_at = self.schedule.failed()
                if not self.by_symbol:
                    raise
                log.warning(
                    "instruments.refresh_failed", error=exc.message, failures=self.schedule.failures,
                    retry_at=retry_at.isoformat(), serving_from=self.loaded_at.isoformat() if self.loaded_at else "",
                )  # fmt: skip
                return
            self.load(rows)

    def find(self, ref: InstrumentRef) -> Listing | None:
        if ref.symbol is not None:
            return self.by_symbol.get(ref.symbol)
        if ref.instrument_token is not None:
            return self.by_token.get(ref.instrument_token)
        return None

    def resolve(self, ref: InstrumentRef, field: str) -> Listing:
        """The listing, or INVALID_ARGUMENT for an empty or malformed ref, NOT_FOUND for an unknown one."""
        if not ref.named:
            raise invalid(field, "required: an instrument as symbol (EXCHANGE:TRADINGSYMBOL) or instrument_token")
        if ref.symbol is not None and ":" not in ref.symbol:
            raise invalid(f"{field}.symbol", f"{ref.symbol!r} is not EXCHANGE:TRADINGSYMBOL, e.g. NSE:INFY")
        listing = self.find(ref)
        if listing is None:
            named = str(ref)
            raise GatewayError(
                Status.NOT_FOUND,
                Reason.INSTRUMENT_NOT_FOUND,
                f"{field}: {named} is not in today's instrument master; SearchInstruments finds listed instruments",
                {"instrument": named},
            )
        return listing

    def search(
        self,
        query: str,
        exchanges: set[str],
        instrument_types: set[str],
        segments: set[str],
        expiry_range: tuple[date | None, date | None],
        strike_range: tuple[Decimal | None, Decimal | None],
        limit: int,
        offset: int = 0,
    ) -> tuple[list[Listing], int]:
        """`limit` matches from `offset` on, and how many matched in all. Matches are ranked best
        first: exact trading symbol, then prefix, then all words anywhere; within
        a rank, cash before derivatives, nearer expiries first, then by symbol, NSE before BSE."""
        words = [w for w in query.upper().replace(":", " ").split() if w]
        joined = "".join(words)
        low_expiry, high_expiry = expiry_range
        low_strike, high_strike = strike_range
        ranked: list[tuple[tuple[Any, ...], Listing]] = []
        for listing in self.by_symbol.values():
            if exchanges and listing.exchange not in exchanges:
                continue
            if instrument_types and listing.instrument_type not in instrument_types:
                continue
            if segments and listing.segment not in segments:
                continue
            if low_expiry and (listing.expiry is None or listing.expiry < low_expiry):
                continue
            if high_expiry and (listing.expiry is None or listing.expiry > high_expiry):
                continue
            if low_strike is not None and listing.strike < low_strike:
                continue
            if high_strike is not None and (not listing.strike or listing.strike > high_strike):
                continue
            symbol, name = listing.tradingsymbol.upper(), listing.name.upper()
            if words and not all(w in symbol or w in name for w in words):
                continue
            rank = 0 if symbol == joined else 1 if joined and symbol.startswith(words[0]) else 2
            key = (rank, listing.expiry is not None, listing.expiry or date.min, symbol,
                   EXCHANGE_ORDER.get(listing.exchange, 99))  # fmt: skip
            ranked.append((key, listing))
        ranked.sort(key=lambda pair: pair[0])
        return [listing for _, listing in ranked[offset : offset + limit]], len(ranked)
