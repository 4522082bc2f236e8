"""Kite's market data endpoints: quotes (full, OHLC, LTP), the instrument dumps, historical candles,
trigger ranges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from aiohttp import web

from kite_simulator.clock import Clock
from kite_simulator.errors import input_error
from kite_simulator.expired import continuous_segments
from kite_simulator.http.envelope import ok
from kite_simulator.market import Bar, LiveQuote, MarketModel
from kite_simulator.universe import SimInstrument, Universe
from kite_wire import (
    HISTORICAL_SPAN_DAYS,
    INTERVAL_MINUTES,
    IST,
    QUOTE_BATCH_BY_PATH,
    kite_candle_timestamp,
    kite_number,
    kite_timestamp,
    parse_kite_timestamp,
)

# Kite's maximum range of one historical call per interval, the interval's minutes, and quote batch sizes.
HISTORICAL_LIMITS, QUOTE_LIMITS = HISTORICAL_SPAN_DAYS, QUOTE_BATCH_BY_PATH
CONTINUOUS_EXCHANGES = ("NFO", "MCX")


class MarketRoutes:
    def __init__(
        self, universe: Universe, market: MarketModel, quote: Callable[[SimInstrument], LiveQuote], clock: Clock
    ) -> None:
        self.universe = universe
        self.market = market
        self.quote = quote
        self.clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/quote", self.quotes),
            web.get("/quote/ohlc", self.quotes),
            web.get("/quote/ltp", self.quotes),
            web.get("/instruments", self.instruments_csv),
            web.get("/instruments/historical/{token}/{interval}", self.historical),
            web.get("/instruments/trigger_range/{transaction_type}", self.trigger_range),
            web.get("/instruments/{exchange}", self.instruments_csv),
        ]

    def _lookup(self, key: str) -> SimInstrument | None:
        if key.isdigit():
            return self.universe.by_token.get(int(key))
        return self.universe.by_symbol.get(key)

    @staticmethod
    def _depth_json(quote: LiveQuote) -> dict[str, list[dict[str, Any]]]:
        def side(entries: tuple[Any, ...]) -> list[dict[str, Any]]:
            rows = [{"price": kite_number(e.price), "quantity": e.quantity, "orders": e.orders} for e in entries]
            return rows + [{"price": 0, "quantity": 0, "orders": 0}] * (5 - len(rows))

        return {"buy": side(quote.bids), "sell": side(quote.offers)}

    @staticmethod
    def _ohlc_json(quote: LiveQuote) -> dict[str, Any]:
        return {"open": kite_number(quote.open), "high": kite_number(quote.high), "low": kite_number(quote.low),
                "close": kite_number(quote.close)}  # fmt: skip

    async def quotes(self, request: web.Request) -> web.StreamResponse:
        keys = request.query.getall("i", [])
        if not keys:
            raise input_error("Missing `i`: name at least one instrument as EXCHANGE:TRADINGSYMBOL.")
        if len(keys) > QUOTE_LIMITS[request.path]:
            raise input_error(f"Too many instruments: at most {QUOTE_LIMITS[request.path]} per request.")
        out: dict[str, Any] = {}
        for key in keys:
            instrument = self._lookup(key)
            if instrument is None:
                continue
            quote = self.quote(instrument)
            body: dict[str, Any] = {"instrument_token": instrument.instrument_token}
            if request.path == "/quote":
                body.update(
                    timestamp=kite_timestamp(quote.at),
                    last_trade_time=kite_timestamp(quote.last_trade_time),
                    last_price=kite_number(quote.last_price),
                    last_quantity=quote.last_quantity,
                    buy_quantity=quote.buy_quantity,
                    sell_quantity=quote.sell_quantity,
                    volume=quote.volume,
                    average_price=kite_number(quote.average_price),
                    oi=quote.oi,
                    oi_day_high=quote.oi_day_high,
                    oi_day_low=quote.oi_day_low,
                    net_change=kite_number(quote.last_price - quote.close),
                    lower_circuit_limit=kite_number(quote.lower_circuit),
                    upper_circuit_limit=kite_number(quote.upper_circuit),
                    ohlc=self._ohlc_json(quote),
                    depth=self._depth_json(quote),
                )
            else:
                body["last_price"] = kite_number(quote.last_price)
                if request.path == "/quote/ohlc":
                    body["ohlc"] = self._ohlc_json(quote)
            out[key] = body
        return ok(out)

    async def instruments_csv(self, request: web.Request) -> web.StreamResponse:
        exchange = request.match_info.get("exchange")
        if exchange is not None and not any(i.exchange == exchange for i in self.universe):
            raise input_error(f"Invalid exchange: {exchange}.")
        return web.Response(body=self.universe.csv(exchange).encode(), headers={"Content-Type": "text/csv"})

    @staticmethod
    def _bar_row(bar: Bar, with_oi: bool) -> list[Any]:
        row: list[Any] = [kite_candle_timestamp(bar.start), kite_number(bar.open), kite_number(bar.high),
                          kite_number(bar.low), kite_number(bar.close), bar.volume]  # fmt: skip
        return [*row, bar.oi] if with_oi else row

    async def historical(self, request: web.Request) -> web.StreamResponse:
        token, interval = request.match_info["token"], request.match_info["interval"]
        instrument = self.universe.by_token.get(int(token)) if token.isdigit() else None
        if instrument is None:
            raise input_error("invalid token")
        if interval not in HISTORICAL_LIMITS:
            raise input_error("invalid interval")
        try:
            start = parse_kite_timestamp(request.query["from"])
            end = parse_kite_timestamp(request.query["to"])
        except (KeyError, ValueError):
            raise input_error("invalid from or to: use yyyy-mm-dd hh:mm:ss") from None
        if end < start:
            raise input_error("invalid range: `to` is before `from`")
        if end - start > timedelta(days=HISTORICAL_LIMITS[interval]):
            raise input_error(f"interval exceeds max limit: {HISTORICAL_LIMITS[interval]} days")
        now = self.clock.now()
        with_oi = request.query.get("oi") == "1"
        continuous = request.query.get("continuous") == "1"
        if continuous:
            self._check_continuous(instrument, interval)
        if interval == "day":
            end_of_day = end.replace(hour=23, minute=59, second=59)
            if continuous:
                segments = continuous_segments(
                    instrument, start.astimezone(IST).date(), self.market.anchor_day, self.universe.by_symbol.get
                )
                day_bars = self.market.stitched_day_bars(segments, start, end_of_day)
            else:
                day_bars = self.market.day_bars(instrument, start, end_of_day)
            bars = [b for b in day_bars if b.start <= now]
        else:
            minutes = INTERVAL_MINUTES[interval]
            bars = [b for b in self.market.minute_bars(instrument, start, end) if b.start + timedelta(minutes=1) <= now]
            bars = [b for b in self.market.resample(bars, minutes) if b.start + timedelta(minutes=minutes) <= now]
        return ok({"candles": [self._bar_row(b, with_oi) for b in bars]})

    @staticmethod
    def _check_continuous(instrument: SimInstrument, interval: str) -> None:
        """Kite serves continuous data for day candles of NFO and MCX futures only (Kite's historical
        docs and Zerodha's support pages); the text of its refusal otherwise is not documented."""
        if interval != "day":
            raise input_error("invalid continuous: continuous data is only available for the day interval")
        if instrument.instrument_type != "FUT" or instrument.exchange not in CONTINUOUS_EXCHANGES:
            raise input_error("invalid continuous: continuous data is only available for NFO and MCX futures")

    async def trigger_range(self, request: web.Request) -> web.StreamResponse:
        out = {}
        for key in request.query.getall("i", []):
            instrument = self._lookup(key)
            if instrument is not None:
                price = self.quote(instrument).last_price
                band = price * Decimal("0.0025")
                out[key] = {"instrument_token": instrument.instrument_token, "lower": kite_number(price - band),
                            "upper": kite_number(price + band)}  # fmt: skip
        return ok(out)
