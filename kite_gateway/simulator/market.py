"""The simulated market: trading sessions and a deterministic price path per instrument.

Prices are a pure function of (seed, instrument, time), never of who asked when, so a run is
reproducible and live quotes, ticks and historical candles always agree:

- Daily bars come from a seeded random walk of daily returns, anchored so that the close of the
  day before `anchor_day` is the instrument's base price.
- Each session's minute bars are a Brownian bridge from the day's open to its close, with the
  day's high and low placed on it.
- The live price inside a minute moves from that minute's open to its close with seeded noise,
  always inside the minute bar's range; the day's live OHLC and volume accumulate the minutes
  so far.

Depth, quantities and open interest are derived from the same seeds.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache

from kite_gateway.simulator.universe import SimInstrument
from kite_gateway.wire.formats import IST
from kite_gateway.wire.ticker_packets import DepthEntry, TickSnapshot

# Regular sessions in IST (Monday to Friday).
SESSIONS: dict[str, tuple[time, time]] = {
    "NSE": (time(9, 15), time(15, 30)),
    "BSE": (time(9, 15), time(15, 30)),
    "NFO": (time(9, 15), time(15, 30)),
    "BFO": (time(9, 15), time(15, 30)),
    "CDS": (time(9, 0), time(17, 0)),
    "BCD": (time(9, 0), time(17, 0)),
    "MCX": (time(9, 0), time(23, 30)),
}

# Circuit band around the previous close, by segment (options: from one tick to 4x).
_CIRCUIT = {"NSE": 0.20, "BSE": 0.20, "INDICES": 0.0, "MCX-FUT": 0.06, "CDS-FUT": 0.03}
_FUTURES_BAND = 0.10


class MarketHours:
    """When each exchange trades. With `always_open`, every exchange trades around the clock
    every day (paper trading at any hour); otherwise the regular sessions, weekdays only."""

    def __init__(self, always_open: bool = False) -> None:
        self.always_open = always_open

    def session(self, exchange: str, day: date) -> tuple[datetime, datetime] | None:
        """The session's start and end on `day`, or None if the exchange does not trade then."""
        if self.always_open:
            start = datetime.combine(day, time(0, 0), IST)
            return start, start + timedelta(days=1)
        if day.weekday() >= 5:
            return None
        opens, closes = SESSIONS[exchange]
        return datetime.combine(day, opens, IST), datetime.combine(day, closes, IST)

    def is_open(self, exchange: str, moment: datetime) -> bool:
        window = self.session(exchange, moment.astimezone(IST).date())
        return window is not None and window[0] <= moment < window[1]

    def trading_days(self, exchange: str, first: date, last: date) -> list[date]:
        days, day = [], first
        while day <= last:
            if self.session(exchange, day) is not None:
                days.append(day)
            day += timedelta(days=1)
        return days


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar (prices on the instrument's tick grid)."""

    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    oi: int


@dataclass(frozen=True, slots=True)
class DayPath:
    """A session's minute bars plus the day's figures, with running totals for O(1) quotes:
    element k of each running tuple covers minutes[:k]."""

    day: date
    session_start: datetime
    prev_close: Decimal
    minutes: tuple[Bar, ...]
    lower_circuit: Decimal
    upper_circuit: Decimal
    volume_before: tuple[int, ...]
    turnover_before: tuple[Decimal, ...]
    high_before: tuple[Decimal, ...]
    low_before: tuple[Decimal, ...]
    oi_high_through: tuple[int, ...]  # element k covers minutes[: k + 1]
    oi_low_through: tuple[int, ...]

    @classmethod
    def build(
        cls, day: date, start: datetime, prev_close: Decimal, bars: list[Bar], lower: Decimal, upper: Decimal
    ) -> DayPath:
        volume, turnover, high, low = [0], [Decimal(0)], [bars[0].open], [bars[0].open]
        oi_high: list[int] = []
        oi_low: list[int] = []
        for bar in bars:
            volume.append(volume[-1] + bar.volume)
            turnover.append(turnover[-1] + (bar.open + bar.close) / 2 * bar.volume)
            high.append(max(high[-1], bar.high))
            low.append(min(low[-1], bar.low))
            oi_high.append(max(oi_high[-1], bar.oi) if oi_high else bar.oi)
            oi_low.append(min(oi_low[-1], bar.oi) if oi_low else bar.oi)
        return cls(
            day, start, prev_close, tuple(bars), lower, upper, tuple(volume), tuple(turnover), tuple(high),
            tuple(low), tuple(oi_high), tuple(oi_low),
        )  # fmt: skip

    @property
    def bar(self) -> Bar:
        return _aggregate(self.minutes, self.session_start)


@dataclass(frozen=True, slots=True)
class LiveQuote:
    """An instrument's market state at a moment."""

    instrument: SimInstrument
    at: datetime
    last_price: Decimal
    last_quantity: int
    average_price: Decimal
    volume: int
    buy_quantity: int
    sell_quantity: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal  # the previous close, as Kite reports it
    last_trade_time: datetime
    oi: int
    oi_day_high: int
    oi_day_low: int
    lower_circuit: Decimal
    upper_circuit: Decimal
    bids: tuple[DepthEntry, ...]
    offers: tuple[DepthEntry, ...]

    def snapshot(self) -> TickSnapshot:
        """The quote as the ticker packs it."""
        return TickSnapshot(
            instrument_token=self.instrument.instrument_token,
            last_price=self.last_price,
            last_quantity=self.last_quantity,
            average_price=self.average_price,
            volume=self.volume,
            buy_quantity=self.buy_quantity,
            sell_quantity=self.sell_quantity,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            last_trade_time=int(self.last_trade_time.timestamp()),
            oi=self.oi,
            oi_day_high=self.oi_day_high,
            oi_day_low=self.oi_day_low,
            exchange_timestamp=int(self.at.timestamp()),
            bids=self.bids,
            offers=self.offers,
        )


def _rng(*parts: object) -> random.Random:
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=16).digest()
    return random.Random(int.from_bytes(digest))


def _aggregate(bars: tuple[Bar, ...] | list[Bar], start: datetime) -> Bar:
    return Bar(
        start,
        bars[0].open,
        max(b.high for b in bars),
        min(b.low for b in bars),
        bars[-1].close,
        sum(b.volume for b in bars),
        bars[-1].oi,
    )


class MarketModel:
    """Prices of every instrument of a universe, at any moment."""

    def __init__(self, seed: int, anchor_day: date, hours: MarketHours, step_seconds: float = 1.0) -> None:
        self.seed = seed
        self.anchor_day = anchor_day
        self.hours = hours
        self.step_seconds = step_seconds
        self._cumulative: dict[int, dict[int, float]] = {}
        self.day_path = lru_cache(maxsize=4096)(self._day_path)

    # Daily walk -------------------------------------------------------------------------------

    def _log_level(self, instrument: SimInstrument, day: date) -> float:
        """Cumulative log return from the anchor to the close of `day`."""
        walk = self._cumulative.setdefault(instrument.instrument_token, {})
        offset = (day - self.anchor_day).days
        if offset in walk:
            return walk[offset]
        step = 1 if offset > 0 else -1
        position = 0
        level = 0.0
        while position != offset:
            nxt = position + step
            if nxt in walk:
                level = walk[nxt]
            else:
                day_index = self.anchor_day + timedelta(days=min(position, nxt))
                draw = _rng(self.seed, instrument.instrument_token, "day", day_index).gauss(0, 1)
                level += step * draw * instrument.daily_volatility
                walk[nxt] = level
            position = nxt
        walk[0] = 0.0
        return walk[offset]

    def close_of(self, instrument: SimInstrument, day: date) -> Decimal:
        """The close of `day` (the day before the anchor closes at the base price)."""
        level = self._log_level(instrument, day) - self._log_level(instrument, self.anchor_day - timedelta(days=1))
        return self._on_grid(instrument, instrument.base_price * Decimal(math.exp(level)))

    def _on_grid(self, instrument: SimInstrument, price: Decimal) -> Decimal:
        if instrument.tick_size == 0:  # indices: two decimals
            return price.quantize(Decimal("0.01"))
        return instrument.round_to_tick(price)

    def _circuits(self, instrument: SimInstrument, prev_close: Decimal) -> tuple[Decimal, Decimal]:
        if instrument.instrument_type in ("CE", "PE"):
            return instrument.tick_size, self._on_grid(instrument, prev_close * 4 + instrument.tick_size * 20)
        band = _CIRCUIT.get(instrument.segment, _FUTURES_BAND)
        if band == 0.0:
            return Decimal(0), Decimal(0)
        width = Decimal(str(band))
        return self._on_grid(instrument, prev_close * (1 - width)), self._on_grid(instrument, prev_close * (1 + width))

    # A session's minute bars ------------------------------------------------------------------

    def _day_path(self, instrument: SimInstrument, day: date) -> DayPath | None:
        window = self.hours.session(instrument.exchange, day)
        if window is None:
            return None
        start, end = window
        prev_day = day - timedelta(days=1)
        while self.hours.session(instrument.exchange, prev_day) is None:
            prev_day -= timedelta(days=1)
        prev_close = self.close_of(instrument, prev_day)
        close = self.close_of(instrument, day)
        lower, upper = self._circuits(instrument, prev_close)
        rng = _rng(self.seed, instrument.instrument_token, "minutes", day)
        vol = instrument.daily_volatility
        open_ = self._on_grid(instrument, prev_close * Decimal(math.exp(rng.gauss(0, vol * 0.25))))
        count = int((end - start).total_seconds() // 60)

        # A Brownian bridge in log space from open to close, one point per minute boundary.
        points = [math.log(open_)]
        target = math.log(close)
        sigma = vol / math.sqrt(count)
        for k in range(count - 1):
            remaining = count - k
            x = points[-1]
            points.append(x + (target - x) / remaining + rng.gauss(0, sigma) * math.sqrt((remaining - 1) / remaining))
        points.append(target)

        def clamp(price: Decimal) -> Decimal:
            if upper:
                price = min(max(price, lower), upper)
            return self._on_grid(instrument, price)

        # About 1,000 crore rupees traded a day, spread over the session's minutes.
        per_minute = 1e10 / max(float(instrument.base_price), 0.01) / instrument.multiplier / count
        lot = max(instrument.lot_size, 1)
        oi = lot * rng.randrange(1_000, 50_000) if instrument.is_derivative else 0
        bars: list[Bar] = []
        for k in range(count):
            o = clamp(Decimal(math.exp(points[k])))
            c = clamp(Decimal(math.exp(points[k + 1])))
            wiggle = abs(rng.gauss(0, sigma * 0.5))
            h = clamp(max(o, c) * Decimal(1 + wiggle))
            low = clamp(min(o, c) * Decimal(1 - abs(rng.gauss(0, sigma * 0.5))))
            volume = 0 if not instrument.tradable else lot * max(1, int(rng.expovariate(1.0) * per_minute / lot))
            if instrument.is_derivative:
                oi = max(lot, oi + lot * int(rng.gauss(0, 20)))
            bars.append(Bar(start + timedelta(minutes=k), o, h, low, c, volume, oi))
        return DayPath.build(day, start, prev_close, bars, lower, upper)

    # Live quotes ------------------------------------------------------------------------------

    def quote(self, instrument: SimInstrument, moment: datetime) -> LiveQuote:
        """The market state of an instrument at `moment` (frozen at the last close outside the session)."""
        day = moment.astimezone(IST).date()
        path = self.day_path(instrument, day)
        while path is None or moment < path.session_start:
            day -= timedelta(days=1)
            path = self.day_path(instrument, day)
        elapsed = (moment - path.session_start).total_seconds()
        minute_index = min(int(elapsed // 60), len(path.minutes) - 1)
        in_session = elapsed < len(path.minutes) * 60
        bar = path.minutes[minute_index]
        step = int(elapsed // self.step_seconds) if in_session else -1
        if in_session:
            fraction = Decimal(str((elapsed % 60) / 60))
            rng = _rng(self.seed, instrument.instrument_token, "step", day, step)
            drift = bar.open + (bar.close - bar.open) * fraction
            noise = Decimal(str(rng.gauss(0, 0.35))) * (bar.high - bar.low)
            price = min(max(self._on_grid(instrument, drift + noise), bar.low), bar.high)
        else:
            rng = _rng(self.seed, instrument.instrument_token, "close", day)
            price = bar.close
        current_volume = int(bar.volume * min(1.0, (elapsed % 60) / 60)) if in_session else bar.volume
        volume = path.volume_before[minute_index] + current_volume
        high = max(path.high_before[minute_index], price)
        low = min(path.low_before[minute_index], price)
        turnover = path.turnover_before[minute_index] + price * current_volume
        average = self._on_grid(instrument, turnover / volume) if volume else Decimal(0)
        lot = max(instrument.lot_size, 1)
        last_quantity = lot * rng.randint(1, 20) if instrument.tradable else 0
        bids, offers = self._depth(instrument, price, rng)
        trade_time = path.session_start + timedelta(seconds=max(step, 0) * self.step_seconds) if in_session else (
            path.session_start + timedelta(minutes=len(path.minutes)) - timedelta(seconds=1)
        )  # fmt: skip
        return LiveQuote(
            instrument=instrument,
            at=moment,
            last_price=price,
            last_quantity=last_quantity,
            average_price=average,
            volume=volume,
            buy_quantity=sum(e.quantity for e in bids) * rng.randint(20, 60),
            sell_quantity=sum(e.quantity for e in offers) * rng.randint(20, 60),
            open=path.minutes[0].open,
            high=high,
            low=low,
            close=path.prev_close,
            last_trade_time=trade_time,
            oi=bar.oi,
            oi_day_high=path.oi_high_through[minute_index],
            oi_day_low=path.oi_low_through[minute_index],
            lower_circuit=path.lower_circuit,
            upper_circuit=path.upper_circuit,
            bids=bids,
            offers=offers,
        )

    def _depth(
        self, instrument: SimInstrument, price: Decimal, rng: random.Random
    ) -> tuple[tuple[DepthEntry, ...], tuple[DepthEntry, ...]]:
        if not instrument.tradable:
            return (), ()
        tick = instrument.tick_size
        lot = max(instrument.lot_size, 1)
        bids = tuple(
            DepthEntry(lot * rng.randint(1, 40), price - tick * (i + 1), rng.randint(1, 12))
            for i in range(5)
            if price - tick * (i + 1) > 0
        )
        offers = tuple(DepthEntry(lot * rng.randint(1, 40), price + tick * i, rng.randint(1, 12)) for i in range(5))
        return bids, offers

    # History ----------------------------------------------------------------------------------

    def minute_bars(self, instrument: SimInstrument, start: datetime, end: datetime) -> list[Bar]:
        """Completed minute bars whose start lies in [start, end]."""
        bars: list[Bar] = []
        for day in self.hours.trading_days(
            instrument.exchange, start.astimezone(IST).date(), end.astimezone(IST).date()
        ):
            path = self.day_path(instrument, day)
            if path is not None:
                bars.extend(b for b in path.minutes if start <= b.start <= end)
        return bars

    def day_bars(self, instrument: SimInstrument, start: datetime, end: datetime) -> list[Bar]:
        """Daily bars of the trading days from start's date to end's date."""
        out = []
        for day in self.hours.trading_days(
            instrument.exchange, start.astimezone(IST).date(), end.astimezone(IST).date()
        ):
            path = self.day_path(instrument, day)
            if path is not None:
                out.append(_aggregate(path.minutes, datetime.combine(day, time(0, 0), IST)))
        return out

    @staticmethod
    def resample(bars: list[Bar], minutes: int) -> list[Bar]:
        """Aggregate minute bars into `minutes`-long bars aligned to each session's start."""
        if minutes == 1:
            return bars
        groups: dict[datetime, list[Bar]] = {}
        session_start: datetime | None = None
        for bar in bars:
            if session_start is None or bar.start.date() != session_start.date() or bar.start < session_start:
                session_start = bar.start
            offset = int((bar.start - session_start).total_seconds() // 60) // minutes * minutes
            groups.setdefault(session_start + timedelta(minutes=offset), []).append(bar)
        return [_aggregate(group, start) for start, group in groups.items()]
