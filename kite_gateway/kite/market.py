"""Kite's market-data endpoints for one account, typed: quotes, OHLC and last prices (rate class
QUOTE), historical candles (HISTORICAL) and the instruments dump (OTHER). Failures come back as
GatewayErrors (KiteCaller.read maps them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypedDict

from kite_gateway.kite import rows
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.limits import EndpointClass


@dataclass(frozen=True, slots=True)
class Ohlc:
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal

    @classmethod
    def of(cls, row: rows.Row) -> Ohlc:
        return cls(*(rows.decimal(row.get(name)) for name in ("open", "high", "low", "close")))


@dataclass(frozen=True, slots=True)
class DepthLevel:
    price: Decimal
    quantity: int
    orders: int


def _side(levels: Sequence[rows.Row]) -> tuple[DepthLevel, ...]:
    return tuple(
        DepthLevel(rows.decimal(level.get("price")), rows.count(level.get("quantity")), rows.count(level.get("orders")))
        for level in levels
    )


@dataclass(frozen=True, slots=True)
class Quote:
    """One instrument's full quote (`/quote`)."""

    last_price: Decimal
    last_quantity: int
    average_price: Decimal
    volume: int
    buy_quantity: int
    sell_quantity: int
    ohlc: Ohlc
    net_change: Decimal
    oi: int
    oi_day_high: int
    oi_day_low: int
    lower_circuit_limit: Decimal
    upper_circuit_limit: Decimal
    bids: tuple[DepthLevel, ...]
    offers: tuple[DepthLevel, ...]
    last_trade_time: datetime | None
    exchange_time: datetime | None

    @classmethod
    def of(cls, row: rows.Row) -> Quote:
        depth = row.get("depth") or {}
        return cls(
            last_price=rows.decimal(row.get("last_price")),
            last_quantity=rows.count(row.get("last_quantity")),
            average_price=rows.decimal(row.get("average_price")),
            volume=rows.count(row.get("volume")),
            buy_quantity=rows.count(row.get("buy_quantity")),
            sell_quantity=rows.count(row.get("sell_quantity")),
            ohlc=Ohlc.of(row.get("ohlc") or {}),
            net_change=rows.decimal(row.get("net_change")),
            oi=rows.count(row.get("oi")),
            oi_day_high=rows.count(row.get("oi_day_high")),
            oi_day_low=rows.count(row.get("oi_day_low")),
            lower_circuit_limit=rows.decimal(row.get("lower_circuit_limit")),
            upper_circuit_limit=rows.decimal(row.get("upper_circuit_limit")),
            bids=_side(depth.get("buy") or []),
            offers=_side(depth.get("sell") or []),
            last_trade_time=rows.wall_clock(row.get("last_trade_time")),
            exchange_time=rows.wall_clock(row.get("timestamp")),
        )


@dataclass(frozen=True, slots=True)
class OhlcQuote:
    """One instrument's `/quote/ohlc` row."""

    last_price: Decimal
    ohlc: Ohlc


@dataclass(frozen=True, slots=True)
class Candle:
    time: datetime
    ohlc: Ohlc
    volume: int
    oi: int


class InstrumentRow(TypedDict):
    """A row of the instruments dump as the official client parses it."""

    instrument_token: int
    exchange_token: str
    tradingsymbol: str
    name: str
    last_price: float
    expiry: date | str
    strike: float
    tick_size: float
    lot_size: int
    instrument_type: str
    segment: str
    exchange: str


class KiteMarket:
    """One account's market-data calls (`KiteMarket(session.active())`)."""

    def __init__(self, kite: KiteCaller) -> None:
        self.kite = kite

    @property
    def account_id(self) -> str:
        return self.kite.account_id

    async def _quotes(self, method: str, symbols: Sequence[str]) -> Mapping[str, rows.Row]:
        data: Mapping[str, rows.Row] = await self.kite.read(EndpointClass.QUOTE, method, list(symbols))
        return data

    async def quote(self, symbols: Sequence[str]) -> dict[str, Quote]:
        """Full quotes by EXCHANGE:TRADINGSYMBOL, for the symbols Kite knows (one call)."""
        return {symbol: Quote.of(row) for symbol, row in (await self._quotes("quote", symbols)).items()}

    async def ohlc(self, symbols: Sequence[str]) -> dict[str, OhlcQuote]:
        return {
            symbol: OhlcQuote(rows.decimal(row.get("last_price")), Ohlc.of(row.get("ohlc") or {}))
            for symbol, row in (await self._quotes("ohlc", symbols)).items()
        }

    async def ltp(self, symbols: Sequence[str]) -> dict[str, Decimal]:
        return {
            symbol: rows.decimal(row.get("last_price")) for symbol, row in (await self._quotes("ltp", symbols)).items()
        }

    async def historical_data(
        self, instrument_token: int, start: datetime, end: datetime, interval: str, continuous: bool, oi: bool
    ) -> list[Candle]:
        """Candles of one window (at most Kite's span for the interval)."""
        data: list[dict[str, Any]] = await self.kite.read(
            EndpointClass.HISTORICAL,
            "historical_data",
            instrument_token,
            start,
            end,
            interval,
            continuous=continuous,
            oi=oi,
        )
        return [
            Candle(row["date"], Ohlc.of(row), rows.count(row.get("volume")), rows.count(row.get("oi"))) for row in data
        ]

    async def instruments(self) -> list[InstrumentRow]:
        """The whole instruments dump."""
        data: list[InstrumentRow] = await self.kite.read(EndpointClass.OTHER, "instruments")
        return data
