"""A realistic instrument universe, generated deterministically from a seed and a trading day.

NSE and BSE equities and indices, NFO index and stock futures and options (weekly and monthly
expiries), BFO index options, MCX commodity futures and options, CDS currency futures and
options: with Kite's tokens (`exchange_token << 8 | segment`), trading-symbol formats, lot and
tick sizes, freeze quantities and the instruments dump's CSV columns.

Quantities follow Kite: shares for equities, units (a multiple of the lot size) for NFO/BFO,
lots for MCX and CDS (there `multiplier` is the units per lot).
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from kite_simulator.lot_sizes import index_lot, stock_lot
from kite_wire import DERIVATIVE_TYPES, INDICES, TRADING_CALENDAR, Instrument, csv_row, format_instruments_csv
from kite_wire import ticker_packets as seg


@dataclass(frozen=True, slots=True)
class SimInstrument:
    """One instrument of the simulated market."""

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
    base_price: Decimal
    multiplier: int = 1
    freeze_quantity: int = 0  # the most one order may carry; 0 = no exchange limit
    underlying: str = ""
    isin: str = ""
    daily_volatility: float = 0.015  # standard deviation of the daily log return
    listed: date | None = None  # a contract's first trading day (its history starts there); None: long listed

    @property
    def symbol(self) -> str:
        return f"{self.exchange}:{self.tradingsymbol}"

    @property
    def tradable(self) -> bool:
        return self.segment != INDICES

    @property
    def is_derivative(self) -> bool:
        return self.instrument_type in DERIVATIVE_TYPES

    @property
    def walk_id(self) -> str:
        """What the daily price walk is drawn for: one walk for all the futures of an underlying (so
        expiring contracts roll into the next by no more than the basis, as a continuous series does),
        else the instrument's own."""
        if self.instrument_type == "FUT":
            return f"{self.exchange}:{self.name}:FUT"
        return str(self.instrument_token)

    def round_to_tick(self, price: Decimal) -> Decimal:
        steps = (price / self.tick_size).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return max(steps, Decimal(1)) * self.tick_size

    def instrument(self) -> Instrument:
        """The instrument's row of the instruments dump (a derivative's last price is its base price)."""
        return Instrument(
            self.instrument_token, self.exchange_token, self.tradingsymbol, self.name, self.exchange, self.segment,
            self.instrument_type, self.expiry, self.strike, self.tick_size, self.lot_size,
            self.base_price if self.is_derivative else Decimal(0),
        )  # fmt: skip

    def csv_row(self) -> list[str]:
        return csv_row(self.instrument())


class Universe:
    """All instruments, looked up by token or by `EXCHANGE:TRADINGSYMBOL`."""

    def __init__(self, instruments: Iterable[SimInstrument]) -> None:
        self.instruments = tuple(instruments)
        self.by_token = {i.instrument_token: i for i in self.instruments}
        self.by_symbol = {i.symbol: i for i in self.instruments}
        if len(self.by_token) != len(self.instruments) or len(self.by_symbol) != len(self.instruments):
            raise ValueError("instrument tokens and symbols must be unique")

    def __len__(self) -> int:
        return len(self.instruments)

    def __iter__(self) -> Iterator[SimInstrument]:
        return iter(self.instruments)

    def csv(self, exchange: str | None = None) -> str:
        """The instruments dump (all, or one exchange's) as Kite serves it."""
        return format_instruments_csv(i.instrument() for i in self.instruments if exchange in (None, i.exchange))


# (symbol, name, price, NSE exchange token, BSE scrip code, ISIN); F&O lots are in kite_simulator.lot_sizes
_EQUITIES: tuple[tuple[str, str, str, int, int, str], ...] = (
    ("INFY", "INFOSYS", "1573.15", 1594, 500209, "INE009A01021"),
    ("RELIANCE", "RELIANCE INDUSTRIES", "1412.95", 2885, 500325, "INE002A01018"),
    ("TCS", "TATA CONSULTANCY SERV LT", "3209.40", 11536, 532540, "INE467B01029"),
    ("HDFCBANK", "HDFC BANK", "1650.20", 1333, 500180, "INE040A01034"),
    ("ICICIBANK", "ICICI BANK", "1290.35", 4963, 532174, "INE090A01021"),
    ("SBIN", "STATE BANK OF INDIA", "812.60", 3045, 500112, "INE062A01020"),
    ("ITC", "ITC", "421.85", 1660, 500875, "INE154A01025"),
    ("AXISBANK", "AXIS BANK", "1105.50", 5900, 532215, "INE238A01034"),
    ("KOTAKBANK", "KOTAK MAHINDRA BANK", "1780.00", 1922, 500247, "INE237A01028"),
    ("LT", "LARSEN & TOUBRO", "3540.25", 11483, 500510, "INE018A01030"),
    ("BHARTIARTL", "BHARTI AIRTEL", "1602.70", 10604, 532454, "INE397D01024"),
    ("HINDUNILVR", "HINDUSTAN UNILEVER", "2405.10", 1394, 500696, "INE030A01027"),
    ("WIPRO", "WIPRO", "262.45", 3787, 507685, "INE075A01022"),
    ("MARUTI", "MARUTI SUZUKI INDIA", "12210.00", 10999, 532500, "INE585B01010"),
    ("TATAMOTORS", "TATA MOTORS", "392.95", 3456, 500570, "INE155A01022"),
    ("TATASTEEL", "TATA STEEL", "151.32", 3499, 500470, "INE081A01020"),
    ("SUNPHARMA", "SUN PHARMACEUTICAL IND L", "1688.40", 3351, 524715, "INE044A01036"),
    ("ASIANPAINT", "ASIAN PAINTS", "2290.15", 236, 500820, "INE021A01026"),
    ("BAJFINANCE", "BAJAJ FINANCE", "905.85", 317, 500034, "INE296A01032"),
    ("NTPC", "NTPC", "338.20", 11630, 532555, "INE733E01010"),
    ("ONGC", "OIL AND NATURAL GAS CORP.", "241.74", 2475, 500312, "INE213A01029"),
    ("POWERGRID", "POWER GRID CORP. LTD.", "287.05", 14977, 532898, "INE752E01010"),
    ("COALINDIA", "COAL INDIA", "382.90", 20374, 533278, "INE522F01014"),
    ("ADANIENT", "ADANI ENTERPRISES", "2335.00", 25, 512599, "INE423A01024"),
    ("IDEA", "VODAFONE IDEA", "7.41", 14366, 532822, "INE669E01016"),
    ("YESBANK", "YES BANK", "19.83", 11915, 532648, "INE528G01035"),
    ("IRCTC", "INDIAN RAIL TOUR CORP LTD", "704.35", 13611, 542830, "INE335Y01020"),
    ("ZOMATO", "ETERNAL", "288.50", 5097, 543320, "INE758T01015"),
    ("NIFTYBEES", "NIP IND ETF NIFTY BEES", "280.12", 10576, 590103, "INF204KB14I2"),
    ("GOLDBEES", "NIP IND ETF GOLD BEES", "101.45", 14428, 590095, "INF204KB17I5"),
)

# (tradingsymbol, exchange, exchange token, price, name of the F&O underlying, strike step, freeze); the
# lots are in kite_simulator.lot_sizes, and a freeze quantity counts whole lots (rounded down to one).
_INDICES = (
    ("NIFTY 50", "NSE", 1001, "24350.45", "NIFTY", 50, 1800),
    ("NIFTY BANK", "NSE", 1016, "52210.80", "BANKNIFTY", 100, 900),
    ("NIFTY FIN SERVICE", "NSE", 1007, "24010.25", "FINNIFTY", 50, 1800),
    ("INDIA VIX", "NSE", 1035, "13.42", "", 0, 0),
    ("SENSEX", "BSE", 1, "80150.20", "SENSEX", 100, 1000),
)

# (name, price, tick, multiplier (units per lot), expiry day of month, strike step or 0, freeze lots)
_COMMODITIES = (
    ("CRUDEOIL", "5932", "1", 100, 19, 50, 100),
    ("CRUDEOILM", "5932", "1", 10, 19, 0, 1000),
    ("NATURALGAS", "258.4", "0.1", 1250, 24, 5, 100),
    ("GOLD", "76150", "1", 100, 5, 0, 20),
    ("GOLDM", "76080", "1", 10, 5, 0, 200),
    ("SILVER", "90210", "1", 30, 5, 0, 20),
    ("SILVERM", "90150", "1", 5, 28, 0, 200),
    ("COPPER", "805.35", "0.05", 2500, 28, 0, 40),
    ("ZINC", "271.20", "0.05", 5000, 28, 0, 40),
    ("ALUMINIUM", "241.85", "0.05", 5000, 28, 0, 40),
    ("LEADMINI", "181.05", "0.05", 1000, 28, 0, 200),
)

# (pair, price, multiplier)
_CURRENCIES = (
    ("USDINR", "84.4525", 1000),
    ("EURINR", "89.1250", 1000),
    ("GBPINR", "106.8850", 1000),
    ("JPYINR", "55.2875", 100000),
)

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKLY_MONTH_CODES = "123456789OND"


# Kite's instrument token is `exchange_token << 8 | segment` and stays below 2**31, so that clients
# reading it as a signed 32-bit integer (Java's int, JavaScript's bitwise operators) see it positive.
TOKEN_LIMIT = 1 << 31
_EXCHANGE_TOKEN_LIMIT = TOKEN_LIMIT >> 8  # 8,388,608
_FIRST_GENERATED_TOKEN = 30_000  # generated contracts' exchange tokens start above the cash market's


def _token(exchange_token: int, segment: int) -> int:
    return exchange_token << 8 | segment


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _month_starts(day: date, count: int) -> list[tuple[int, int]]:
    months: list[tuple[int, int]] = []
    year, month = day.year, day.month
    while len(months) < count:
        months.append((year, month))
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return months


def _monthly_expiries(day: date, weekday: int, count: int) -> list[date]:
    candidates = [_last_weekday(y, m, weekday) for y, m in _month_starts(day, count + 1)]
    return [d for d in candidates if d >= day][:count]


def _weekly_expiries(day: date, weekday: int, count: int) -> list[date]:
    first = day + timedelta(days=(weekday - day.weekday()) % 7)
    return [first + timedelta(weeks=i) for i in range(count)]


def _on_trading_days(exchange: str, expiries: list[tuple[date, bool]], day: date) -> list[tuple[date, bool]]:
    """Each expiry that falls on a weekend or holiday moved to the trading day before it (the
    exchanges' rule), dropping any that then falls before `day`."""
    moved = [(TRADING_CALENDAR.on_or_before(exchange, expiry), monthly) for expiry, monthly in expiries]
    return [(expiry, monthly) for expiry, monthly in moved if expiry >= day]


def _fut_symbol(name: str, expiry: date) -> str:
    return f"{name}{expiry:%y}{_MONTHS[expiry.month - 1]}FUT"


def _opt_symbol(name: str, expiry: date, strike: Decimal, kind: str, monthly: bool) -> str:
    strike_text = f"{strike.normalize():f}"
    if monthly:
        return f"{name}{expiry:%y}{_MONTHS[expiry.month - 1]}{strike_text}{kind}"
    return f"{name}{expiry:%y}{_WEEKLY_MONTH_CODES[expiry.month - 1]}{expiry:%d}{strike_text}{kind}"


def _option_price(spot: Decimal, strike: Decimal, kind: str, days: int, tick: Decimal) -> Decimal:
    intrinsic = max(spot - strike, Decimal(0)) if kind == "CE" else max(strike - spot, Decimal(0))
    distance = float(abs(spot - strike) / spot)
    time_value = float(spot) * 0.012 * (max(days, 1) / 30) ** 0.5 * max(0.05, 1 - distance * 12)
    price = intrinsic + Decimal(str(round(time_value, 2)))
    return max((price / tick).quantize(Decimal(1)) * tick, tick)


class _TokenAllocator:
    """Exchange tokens for generated contracts: a hash of the contract, so a contract keeps its token
    whichever day the universe is built; collisions are probed deterministically."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._used: set[int] = set()

    def __call__(self, segment: int, tradingsymbol: str) -> tuple[int, int]:
        digest = hashlib.blake2b(f"{self._seed}:{segment}:{tradingsymbol}".encode(), digest_size=8).digest()
        span = _EXCHANGE_TOKEN_LIMIT - _FIRST_GENERATED_TOKEN
        offset = int.from_bytes(digest) % span
        while _token(_FIRST_GENERATED_TOKEN + offset, segment) in self._used:
            offset = (offset + 1) % span
        exchange_token = _FIRST_GENERATED_TOKEN + offset
        self._used.add(_token(exchange_token, segment))
        return exchange_token, _token(exchange_token, segment)


def build_universe(seed: int, trading_day: date) -> Universe:
    """The instruments listed on `trading_day` (expiries from that day on), deterministic in `seed`."""
    allocate = _TokenAllocator(seed)
    out: list[SimInstrument] = []

    spots: dict[str, Decimal] = {}
    for symbol, name, price, nse_token, bse_code, isin in _EQUITIES:
        base = Decimal(price)
        spots[symbol] = base
        tick = Decimal("0.01") if base < 250 else Decimal("0.05")
        for exchange, exchange_token, segment in (
            ("NSE", nse_token, seg.SEGMENT_NSE),
            ("BSE", bse_code, seg.SEGMENT_BSE),
        ):
            out.append(
                SimInstrument(
                    _token(exchange_token, segment), exchange_token, symbol, name, exchange, exchange, "EQ",
                    None, Decimal(0), tick, 1, base, isin=isin, daily_volatility=0.016,
                )
            )  # fmt: skip

    for symbol, exchange, exchange_token, price, fo_name, _step, _freeze in _INDICES:
        spots[fo_name or symbol] = Decimal(price)
        out.append(
            SimInstrument(
                _token(exchange_token, seg.SEGMENT_INDICES), exchange_token, symbol, symbol, exchange, "INDICES",
                "EQ", None, Decimal(0), Decimal(0), 0, Decimal(price), daily_volatility=0.009,
            )
        )  # fmt: skip

    def derivatives(
        name: str, exchange: str, segment_id: int, spot: Decimal, lot: int, step: int, freeze: int,
        expiries: list[tuple[date, bool]], futures: list[date], strikes_each_side: int, tick: Decimal,
        multiplier: int = 1, segment_prefix: str = "",
    ) -> None:  # fmt: skip
        prefix = segment_prefix or exchange
        futures = [d for d, _ in _on_trading_days(exchange, [(d, True) for d in futures], trading_day)]
        expiries = _on_trading_days(exchange, expiries, trading_day)
        for expiry in futures:
            exchange_token, token = allocate(segment_id, _fut_symbol(name, expiry))
            days = (expiry - trading_day).days
            price = (spot * Decimal(1 + 0.0002 * days) / tick).quantize(Decimal(1)) * tick
            out.append(
                SimInstrument(
                    token, exchange_token, _fut_symbol(name, expiry), name, exchange, f"{prefix}-FUT", "FUT",
                    expiry, Decimal(0), tick, lot, price, multiplier, freeze, name, daily_volatility=0.015,
                )
            )  # fmt: skip
        if not step:
            return
        atm = (spot / step).quantize(Decimal(1)) * step
        for expiry, monthly in expiries:
            days = (expiry - trading_day).days
            for k in range(-strikes_each_side, strikes_each_side + 1):
                strike = atm + k * step
                for kind in ("CE", "PE"):
                    symbol = _opt_symbol(name, expiry, strike, kind, monthly)
                    exchange_token, token = allocate(segment_id, symbol)
                    out.append(
                        SimInstrument(
                            token, exchange_token, symbol, name,
                            exchange, f"{prefix}-OPT", kind, expiry, strike, tick, lot,
                            _option_price(spot, strike, kind, days, tick), multiplier, freeze, name,
                            daily_volatility=0.12,
                        )
                    )  # fmt: skip

    five_cents = Decimal("0.05")
    nfo_monthly = _monthly_expiries(trading_day, calendar.TUESDAY, 3)
    for _symbol, exchange, _et, _price, fo_name, step, freeze_units in _INDICES:
        if not fo_name:
            continue
        lot = index_lot(fo_name)
        freeze = freeze_units // lot * lot
        if exchange == "BSE":
            weekly = _weekly_expiries(trading_day, calendar.THURSDAY, 2)
            derivatives(fo_name, "BFO", seg.SEGMENT_BFO, spots[fo_name], lot, step, freeze,
                        [(d, False) for d in weekly], [], 10, five_cents)  # fmt: skip
            continue
        expiries = [(d, True) for d in nfo_monthly]
        if fo_name == "NIFTY":
            expiries += [(d, False) for d in _weekly_expiries(trading_day, calendar.TUESDAY, 4) if d not in nfo_monthly]
        derivatives(fo_name, "NFO", seg.SEGMENT_NFO, spots[fo_name], lot, step, freeze, sorted(expiries),
                    nfo_monthly, 25, five_cents)  # fmt: skip

    for symbol, _name, _price, _nt, _bc, _isin in _EQUITIES:
        if lot := stock_lot(symbol):
            spot = spots[symbol]
            step = int(max(Decimal(5), (spot / 100).quantize(Decimal(1)) // 5 * 5)) if spot > 100 else 1
            derivatives(symbol, "NFO", seg.SEGMENT_NFO, spot, lot, step, lot * 20, [(d, True) for d in nfo_monthly[:2]],
                        nfo_monthly, 8, five_cents)  # fmt: skip

    for name, commodity_price, commodity_tick, multiplier, expiry_day, step, freeze in _COMMODITIES:
        months = _month_starts(trading_day, 4)
        futures = [d for d in (date(y, m, min(expiry_day, calendar.monthrange(y, m)[1])) for y, m in months)
                   if d >= trading_day][:3]  # fmt: skip
        derivatives(name, "MCX", seg.SEGMENT_MCX, Decimal(commodity_price), 1, step, freeze, [(futures[0], True)],
                    futures, 5, Decimal(commodity_tick), multiplier)  # fmt: skip

    cds_monthly = [
        d - timedelta(days=2) for d in (_last_weekday(y, m, calendar.FRIDAY) for y, m in _month_starts(trading_day, 4))
    ]
    cds_monthly = [d for d in cds_monthly if d >= trading_day][:3]
    for pair, pair_price, multiplier in _CURRENCIES:
        derivatives(pair, "CDS", seg.SEGMENT_CDS, Decimal(pair_price), 1, 0, 10_000, [], cds_monthly, 0,
                    Decimal("0.0025"), multiplier)  # fmt: skip
        if pair == "USDINR":
            fridays = [(d, False) for d in _weekly_expiries(trading_day, calendar.FRIDAY, 2)]
            _add_currency_options(out, allocate, pair, Decimal(pair_price), multiplier, fridays, trading_day)
    return Universe(replace(i, listed=_listing_day(i, trading_day)) for i in out)


def _months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _listing_day(instrument: SimInstrument, trading_day: date) -> date | None:
    """A contract's first trading day: the day after the expiry of the contract it replaced in the
    cycle (3 serial months on NFO, BFO and CDS, 6 on MCX; 5 weeks for weekly options), never after
    `trading_day`, on which it is listed."""
    if instrument.expiry is None:
        return None
    code = instrument.tradingsymbol[len(instrument.name) + 2 : len(instrument.name) + 5]
    if instrument.instrument_type in ("CE", "PE") and code not in _MONTHS:  # a weekly option
        start = instrument.expiry - timedelta(weeks=5)
    else:
        start = _months_before(instrument.expiry, 6 if instrument.exchange == "MCX" else 3)
    return min(start + timedelta(days=1), trading_day)


def _add_currency_options(
    out: list[SimInstrument],
    allocate: _TokenAllocator,
    pair: str,
    spot: Decimal,
    multiplier: int,
    expiries: list[tuple[date, bool]],
    trading_day: date,
) -> None:
    step = Decimal("0.25")
    atm = (spot / step).quantize(Decimal(1)) * step
    tick = Decimal("0.0025")
    for expiry, monthly in _on_trading_days("CDS", expiries, trading_day):
        days = (expiry - trading_day).days
        for k in range(-4, 5):
            strike = atm + k * step
            for kind in ("CE", "PE"):
                symbol = _opt_symbol(pair, expiry, strike, kind, monthly)
                exchange_token, token = allocate(seg.SEGMENT_CDS, symbol)
                out.append(
                    SimInstrument(
                        token, exchange_token, symbol, pair, "CDS",
                        "CDS-OPT", kind, expiry, strike, tick, 1, _option_price(spot, strike, kind, days, tick),
                        multiplier, 10_000, pair, daily_volatility=0.06,
                    )
                )  # fmt: skip
