"""The simulated market: trading sessions and a deterministic price path per instrument.

Prices are a pure function of (seed, instrument, time), never of who asked when, so a run is
reproducible and live quotes, ticks and historical candles always agree:

- Daily bars come from a seeded random walk of daily returns, anchored so that the close of the
  day before `anchor_day` is the instrument's base price.
- Each session's minute bars are a Brownian bridge from the day's open to its close (numpy,
  vectorised; prices kept as integer counts of the tick size until they leave the model).
- The live price inside a minute moves from that minute's open to its close with seeded noise,
  always inside the minute bar's range; the day's live OHLC and volume accumulate the minutes
  so far.

Depth, quantities and open interest are derived from the same seeds.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import numpy as np

from kite_simulator.universe import SimInstrument
from kite_wire import IST, DepthEntry, MarketHours, Tick

# Circuit band around the previous close, by segment (options: from one tick to 4x).
_CIRCUIT = {"NSE": 0.20, "BSE": 0.20, "INDICES": 0.0, "MCX-FUT": 0.06, "CDS-FUT": 0.03}
_FUTURES_BAND = 0.10
# Day paths kept in memory, by their arrays' bytes (least recently used dropped first). A path is
# about 10-25 kB (6 arrays of one element per session minute), so this holds two days of every
# instrument (about 60 MB for 3,300) with room for history. It was 16,384 paths of up to 130 kB
# each: a few historical calls over long ranges filled it to 2 GB, and it never shrank.
PATH_CACHE_BYTES = 128 * 1024 * 1024
_INT32 = np.iinfo(np.int32)


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


def _compact(values: np.ndarray) -> np.ndarray:
    """The array as int32 when every value fits (half the memory), else as it is; arithmetic on
    it is done in int64 (see DayPath)."""
    if values.size and _INT32.min <= int(values.min()) and int(values.max()) <= _INT32.max:
        return values.astype(np.int32)
    return values


@dataclass(frozen=True, eq=False)
class DayPath:
    """A session's minute bars, as integer counts of `unit` (the tick size) in numpy arrays (int32
    when the values fit). Running totals up to minute k are computed when a quote asks for them."""

    day: date
    session_start: datetime
    unit: Decimal
    prev_close: int
    lower_circuit: int
    upper_circuit: int
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    oi: np.ndarray

    def __len__(self) -> int:
        return len(self.open)

    @property
    def nbytes(self) -> int:
        shared = (len(self.open) + 1) * self.open.itemsize  # open and close: one array
        return shared + sum(int(a.nbytes) for a in (self.high, self.low, self.volume, self.oi))

    def volume_before(self, k: int) -> int:
        return int(self.volume[:k].sum(dtype=np.int64))

    def turnover2_before(self, k: int) -> int:
        """The running sum of (open + close) * volume over minutes[:k], in units."""
        prices = self.open[:k].astype(np.int64) + self.close[:k]
        return int((prices * self.volume[:k]).sum(dtype=np.int64))

    def high_before(self, k: int) -> int:
        return max(int(self.open[0]), int(self.high[:k].max())) if k else int(self.open[0])

    def low_before(self, k: int) -> int:
        return min(int(self.open[0]), int(self.low[:k].min())) if k else int(self.open[0])

    def oi_high_through(self, k: int) -> int:
        return int(self.oi[: k + 1].max())

    def oi_low_through(self, k: int) -> int:
        return int(self.oi[: k + 1].min())

    def price(self, units: int) -> Decimal:
        return int(units) * self.unit

    def bar(self, k: int) -> Bar:
        k = k % len(self)
        return Bar(
            self.session_start + timedelta(minutes=k),
            self.price(self.open[k]),
            self.price(self.high[k]),
            self.price(self.low[k]),
            self.price(self.close[k]),
            int(self.volume[k]),
            int(self.oi[k]),
        )

    def day_bar(self) -> Bar:
        return Bar(
            datetime.combine(self.day, time(0, 0), IST),
            self.price(self.open[0]),
            self.price(self.high.max()),
            self.price(self.low.min()),
            self.price(self.close[-1]),
            int(self.volume.sum()),
            int(self.oi[-1]),
        )


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

    def snapshot(self) -> Tick:
        """The quote as the ticker packs it."""
        return Tick.from_prices(
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
        self._cumulative: dict[str, dict[int, float]] = {}
        self._path_cache: OrderedDict[tuple[int, date], DayPath | None] = OrderedDict()
        self._path_bytes = 0

    # Daily walk -------------------------------------------------------------------------------

    def _log_level(self, instrument: SimInstrument, day: date) -> float:
        """Cumulative log return from the anchor to the close of `day` (one walk per walk_id: the
        futures of an underlying share theirs)."""
        walk = self._cumulative.setdefault(instrument.walk_id, {})
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
                draw = _rng(self.seed, instrument.walk_id, "day", day_index).gauss(0, 1)
                level += step * draw * instrument.daily_volatility
                walk[nxt] = level
            position = nxt
        walk[0] = 0.0
        return walk[offset]

    def close_of(self, instrument: SimInstrument, day: date) -> Decimal:
        """The close of `day` (the last trading day before the anchor closes at the base price)."""
        before = self._previous_session_day(instrument.exchange, self.anchor_day)
        level = self._log_level(instrument, day) - self._log_level(instrument, before)
        return self._on_grid(instrument, instrument.base_price * Decimal(math.exp(level)))

    def _previous_session_day(self, exchange: str, day: date) -> date:
        """The last day before `day` on which `exchange` traded (weekends and holidays skipped)."""
        before = day - timedelta(days=1)
        while self.hours.session(exchange, before) is None:
            before -= timedelta(days=1)
        return before

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

    def day_path(self, instrument: SimInstrument, day: date) -> DayPath | None:
        """The instrument's minute path on `day` (None when its exchange does not trade that day),
        cached by (token, day), least recently used dropped first beyond PATH_CACHE_BYTES."""
        key = (instrument.instrument_token, day)
        try:
            self._path_cache.move_to_end(key)
            return self._path_cache[key]
        except KeyError:
            pass
        path = self._path_cache[key] = self._build_day_path(instrument, day)
        self._path_bytes += path.nbytes if path is not None else 0
        while self._path_bytes > PATH_CACHE_BYTES and len(self._path_cache) > 1:
            _, dropped = self._path_cache.popitem(last=False)
            self._path_bytes -= dropped.nbytes if dropped is not None else 0
        return path

    @property
    def cached_path_bytes(self) -> int:
        return self._path_bytes

    def _build_day_path(self, instrument: SimInstrument, day: date) -> DayPath | None:
        window = self.hours.session(instrument.exchange, day)
        if window is None:
            return None
        start, end = window
        prev_day = self._previous_session_day(instrument.exchange, day)
        unit = instrument.tick_size or Decimal("0.01")
        prev_close = int(self.close_of(instrument, prev_day) / unit)
        close = int(self.close_of(instrument, day) / unit)
        lower, upper = (int(c / unit) for c in self._circuits(instrument, self._on_grid(instrument, prev_close * unit)))
        floor, ceiling = max(lower, 1), upper or np.iinfo(np.int64).max
        digest = hashlib.blake2b(f"{self.seed}:{instrument.instrument_token}:minutes:{day}".encode(), digest_size=16)
        rng = np.random.Generator(np.random.PCG64(int.from_bytes(digest.digest())))
        vol = instrument.daily_volatility
        count = int((end - start).total_seconds() // 60)
        sigma = vol / math.sqrt(count)

        # A Brownian bridge in log price from the open to the close, one point per minute boundary.
        first = min(max(round(prev_close * math.exp(rng.normal(0, vol * 0.25))), floor), ceiling)
        walk = np.concatenate(([0.0], np.cumsum(rng.normal(0, sigma, count))))
        share = np.arange(count + 1) / count
        points = math.log(first) + (math.log(close) - math.log(first)) * share + walk - share * walk[-1]
        units = np.clip(np.rint(np.exp(points)), floor, ceiling).astype(np.int64)
        units[0], units[-1] = first, min(max(close, floor), ceiling)
        opens, closes = units[:-1], units[1:]
        tops, bottoms = np.maximum(opens, closes), np.minimum(opens, closes)
        highs = np.maximum(tops, np.rint(tops * (1 + np.abs(rng.normal(0, sigma * 0.5, count)))).astype(np.int64))
        lows = np.minimum(bottoms, np.rint(bottoms * (1 - np.abs(rng.normal(0, sigma * 0.5, count)))).astype(np.int64))
        highs, lows = np.clip(highs, floor, ceiling), np.clip(lows, floor, ceiling)

        # About 1,000 crore rupees traded a day (at most 200 million units, so that a day's volume
        # fits the ticker's uint32 fields), spread over the session's minutes.
        lot = max(instrument.lot_size, 1)
        per_day = min(1e10 / max(float(instrument.base_price), 0.01) / instrument.multiplier, 2e8)
        if instrument.tradable:
            volume = lot * np.maximum(1, (rng.exponential(1.0, count) * per_day / count / lot).astype(np.int64))
        else:
            volume = np.zeros(count, dtype=np.int64)
        if instrument.is_derivative:
            start_oi = lot * int(rng.integers(1_000, 50_000))
            oi = np.maximum(lot, start_oi + lot * np.cumsum(np.rint(rng.normal(0, 20, count)).astype(np.int64)))
        else:
            oi = np.zeros(count, dtype=np.int64)
        prices = _compact(units)
        return DayPath(
            day=day,
            session_start=start,
            unit=unit,
            prev_close=prev_close,
            lower_circuit=lower,
            upper_circuit=upper,
            open=prices[:-1],  # open and close are views of one array
            high=_compact(highs),
            low=_compact(lows),
            close=prices[1:],
            volume=_compact(volume),
            oi=_compact(oi),
        )

    # Live quotes ------------------------------------------------------------------------------

    def quote(self, instrument: SimInstrument, moment: datetime) -> LiveQuote:
        """The market state of an instrument at `moment` (frozen at the last close outside the session)."""
        day = moment.astimezone(IST).date()
        path = self.day_path(instrument, day)
        while path is None or moment < path.session_start:
            day -= timedelta(days=1)
            path = self.day_path(instrument, day)
        elapsed = (moment - path.session_start).total_seconds()
        minutes = len(path)
        k = min(int(elapsed // 60), minutes - 1)
        in_session = elapsed < minutes * 60
        o, c, h, low = int(path.open[k]), int(path.close[k]), int(path.high[k]), int(path.low[k])
        step = int(elapsed // self.step_seconds) if in_session else -1
        if in_session:
            rng = _rng(self.seed, instrument.instrument_token, "step", day, step)
            drift = o + (c - o) * (elapsed % 60) / 60
            price = min(max(round(drift + rng.gauss(0, 0.35) * (h - low)), low), h)
            current_volume = int(int(path.volume[k]) * (elapsed % 60) / 60)
            trade_time = path.session_start + timedelta(seconds=step * self.step_seconds)
        else:
            rng = _rng(self.seed, instrument.instrument_token, "close", day)
            price, current_volume = c, int(path.volume[k])
            trade_time = path.session_start + timedelta(minutes=minutes) - timedelta(seconds=1)
        volume = path.volume_before(k) + current_volume
        turnover2 = path.turnover2_before(k) + 2 * price * current_volume
        average = path.price(round(turnover2 / (2 * volume))) if volume else Decimal(0)
        last_price = path.price(price)
        lot = max(instrument.lot_size, 1)
        bids, offers = self._depth(instrument, last_price, rng)
        return LiveQuote(
            instrument=instrument,
            at=moment,
            last_price=last_price,
            last_quantity=lot * rng.randint(1, 20) if instrument.tradable else 0,
            average_price=average,
            volume=volume,
            buy_quantity=sum(e.quantity for e in bids) * rng.randint(20, 60),
            sell_quantity=sum(e.quantity for e in offers) * rng.randint(20, 60),
            open=path.price(path.open[0]),
            high=path.price(max(path.high_before(k), price)),
            low=path.price(min(path.low_before(k), price)),
            close=path.price(path.prev_close),
            last_trade_time=trade_time,
            oi=int(path.oi[k]),
            oi_day_high=path.oi_high_through(k),
            oi_day_low=path.oi_low_through(k),
            lower_circuit=path.price(path.lower_circuit),
            upper_circuit=path.price(path.upper_circuit),
            bids=bids,
            offers=offers,
        )

    def _depth(
        self, instrument: SimInstrument, price: Decimal, rng: random.Random
    ) -> tuple[tuple[DepthEntry, ...], tuple[DepthEntry, ...]]:
        """Five bids below and five offers from the last price, quantities in lots; one random draw
        supplies all twenty figures (6 bits for a quantity, 4 for an order count)."""
        if not instrument.tradable:
            return (), ()
        tick = instrument.tick_size
        lot = max(instrument.lot_size, 1)
        bits = rng.getrandbits(100)
        levels = []
        for i in range(10):
            chunk = (bits >> (10 * i)) & 0x3FF
            levels.append((lot * (1 + (chunk & 0x3F) % 40), 1 + (chunk >> 6) % 12))
        bids = tuple(
            DepthEntry(quantity, price - tick * (i + 1), orders)
            for i, (quantity, orders) in enumerate(levels[:5])
            if price - tick * (i + 1) > 0
        )
        offers = tuple(
            DepthEntry(quantity, price + tick * i, orders) for i, (quantity, orders) in enumerate(levels[5:])
        )
        return bids, offers

    # History ----------------------------------------------------------------------------------

    def _paths(
        self, instrument: SimInstrument, start: datetime, end: datetime, continuous: bool = False
    ) -> list[DayPath]:
        """The trading days' paths from start's date to end's, within the contract's life: from its
        listing (unless `continuous`) to its expiry."""
        first, last = start.astimezone(IST).date(), end.astimezone(IST).date()
        if instrument.listed is not None and not continuous:
            first = max(first, instrument.listed)
        if instrument.expiry is not None:
            last = min(last, instrument.expiry)
        if last < first:
            return []
        days = self.hours.trading_days(instrument.exchange, first, last)
        return [path for day in days if (path := self.day_path(instrument, day)) is not None]

    def minute_bars(self, instrument: SimInstrument, start: datetime, end: datetime) -> list[Bar]:
        """Minute bars whose start lies in [start, end] (none before a contract's listing)."""
        bars: list[Bar] = []
        for path in self._paths(instrument, start, end):
            first = max(0, math.ceil((start - path.session_start).total_seconds() / 60))
            last = min(len(path) - 1, math.floor((end - path.session_start).total_seconds() / 60))
            bars.extend(path.bar(k) for k in range(first, last + 1))
        return bars

    def day_bars(
        self, instrument: SimInstrument, start: datetime, end: datetime, continuous: bool = False
    ) -> list[Bar]:
        """Daily bars of the trading days from start's date to end's date, from the contract's listing
        on (before it too when `continuous`: stitched_day_bars asks so of the contracts it stitches)."""
        return [path.day_bar() for path in self._paths(instrument, start, end, continuous)]

    def stitched_day_bars(
        self, segments: Sequence[tuple[SimInstrument, date, date]], start: datetime, end: datetime
    ) -> list[Bar]:
        """Daily bars from start's date to end's date, each day from the contract whose (first day,
        last day) segment holds it: a continuous series across expiries."""
        bars: list[Bar] = []
        last_asked = end.astimezone(IST).date()
        for contract, first, last in segments:
            low = max(start, datetime.combine(first, time(0, 0), IST))
            high = end if last >= last_asked else datetime.combine(last, time(23, 59, 59), IST)
            if low <= high:
                bars.extend(self.day_bars(contract, low, high, continuous=True))
        return bars

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
