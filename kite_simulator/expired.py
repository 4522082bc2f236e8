"""The futures contracts an underlying had before a listed one: what `continuous=1` stitches.

Kite lists only live contracts, but its continuous day candles reach back across the expired ones:
each day comes from the contract that was the nearest to expiry then. A contract that is still
listed is taken from the universe; one that has expired is rebuilt from the listed one (its expiry
by the same monthly rule, its price by the basis to its expiry, on the walk all futures of the
underlying share, see SimInstrument.walk_id).
"""

from __future__ import annotations

import calendar
import hashlib
import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from kite_simulator.universe import (
    _EXCHANGE_TOKEN_LIMIT,
    _FIRST_GENERATED_TOKEN,
    SimInstrument,
    _fut_symbol,
    _last_weekday,
    _token,
)
from kite_wire import TRADING_CALENDAR

BASIS_PER_DAY = Decimal("0.0002")  # a future's premium over spot per day to expiry (as the universe prices it)
MAX_CONTRACTS = 80  # more than the 2000 days a day-candle call may span


def _expiry_rule(expiry: date) -> Callable[[int, int], date]:
    """A month's expiry, by the rule `expiry` follows: the last of its weekday in the month (NFO),
    else a fixed day of the month (MCX)."""
    if (expiry + timedelta(days=7)).month != expiry.month:
        return lambda year, month: _last_weekday(year, month, expiry.weekday())
    return lambda year, month: date(year, month, min(expiry.day, calendar.monthrange(year, month)[1]))


def _month_before(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def continuous_segments(
    future: SimInstrument, first_day: date, anchor_day: date, listed: Callable[[str], SimInstrument | None]
) -> list[tuple[SimInstrument, date, date]]:
    """(contract, first day, last day) for each contract that was nearest to expiry on the days from
    `first_day` until `future` was listed, oldest first, then `future` from its listing on; `listed`
    finds a contract still in the universe."""
    if future.listed is None or future.expiry is None or first_day >= future.listed:
        return [(future, first_day, date.max)]
    rule = _expiry_rule(future.expiry)
    year, month = future.listed.year + future.listed.month // 12, future.listed.month % 12 + 1  # a month on
    expiries: list[date] = []  # newest first, down to the first one before `first_day`
    while len(expiries) < MAX_CONTRACTS and (not expiries or expiries[-1] >= first_day):
        expiries.append(TRADING_CALENDAR.on_or_before(future.exchange, rule(year, month)))  # off holidays
        year, month = _month_before(year, month)
    last_day = future.listed - timedelta(days=1)
    segments = []
    for expiry, before in itertools.pairwise(expiries):
        begin, end = max(before + timedelta(days=1), first_day), min(expiry, last_day)
        if begin <= end:
            contract = listed(f"{future.exchange}:{_fut_symbol(future.name, expiry)}")
            segments.append((contract or _rebuilt(future, expiry, anchor_day), begin, end))
    return [*reversed(segments), (future, future.listed, date.max)]


def _rebuilt(future: SimInstrument, expiry: date, anchor_day: date) -> SimInstrument:
    assert future.expiry is not None
    symbol = _fut_symbol(future.name, expiry)
    segment = future.instrument_token & 0xFF
    digest = hashlib.blake2b(f"expired:{future.exchange}:{symbol}".encode(), digest_size=8).digest()
    exchange_token = _FIRST_GENERATED_TOKEN + int.from_bytes(digest) % (_EXCHANGE_TOKEN_LIMIT - _FIRST_GENERATED_TOKEN)
    basis = (1 + BASIS_PER_DAY * (expiry - anchor_day).days) / (1 + BASIS_PER_DAY * (future.expiry - anchor_day).days)
    return replace(
        future, instrument_token=_token(exchange_token, segment), exchange_token=exchange_token, tradingsymbol=symbol,
        expiry=expiry, base_price=future.round_to_tick(future.base_price * basis), listed=None,
    )  # fmt: skip
