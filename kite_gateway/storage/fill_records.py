"""The fill log's records: what the gateway records of what happened, the input of every report.
Fills (Kite's trades, one row per exchange trade); the charges of each executed order (Kite's
contract note, or the gateway's estimate from its dated rate table when Kite's could not be had);
and gaps (days the fill log could not be reconciled with Kite, which only knows today).

All amounts are Decimals; times are aware datetimes, and a fill's trade date is its IST date (the
contract note's date, which decides the financial year and the holding period)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from kite_wire import IST

ZERO = Decimal(0)
EQUITY_EXCHANGES = frozenset({"NSE", "BSE"})
OPTION_TYPES = frozenset({"CE", "PE"})
CURRENCY_EXCHANGES = frozenset({"CDS", "BCD"})
COMMODITY_EXCHANGES = frozenset({"MCX"})


class Segment(StrEnum):
    """Where a fill's charges and tax treatment come from (Zerodha's charge tables' columns)."""

    EQUITY = "equity"  # cash market: delivery or intraday by how it is matched
    EQUITY_FUTURES = "equity_futures"
    EQUITY_OPTIONS = "equity_options"
    CURRENCY_FUTURES = "currency_futures"
    CURRENCY_OPTIONS = "currency_options"
    COMMODITY_FUTURES = "commodity_futures"
    COMMODITY_OPTIONS = "commodity_options"

    @property
    def derivative(self) -> bool:
        return self is not Segment.EQUITY

    @property
    def option(self) -> bool:
        return self in (Segment.EQUITY_OPTIONS, Segment.CURRENCY_OPTIONS, Segment.COMMODITY_OPTIONS)


def segment_of(exchange: str, instrument_type: str) -> Segment:
    """The segment of an instrument from its exchange and its instruments-dump type (EQ, FUT, CE, PE)."""
    option = instrument_type in OPTION_TYPES
    if exchange in EQUITY_EXCHANGES:
        return Segment.EQUITY
    if exchange in CURRENCY_EXCHANGES:
        return Segment.CURRENCY_OPTIONS if option else Segment.CURRENCY_FUTURES
    if exchange in COMMODITY_EXCHANGES:
        return Segment.COMMODITY_OPTIONS if option else Segment.COMMODITY_FUTURES
    return Segment.EQUITY_OPTIONS if option else Segment.EQUITY_FUTURES


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


@dataclass(frozen=True, slots=True)
class Fill:
    """One exchange trade of an order (Kite's /trades row), as the fill log keeps it."""

    account_id: str
    trade_id: str
    order_id: str
    exchange: str
    tradingsymbol: str
    instrument_token: int
    instrument_type: str  # EQ, FUT, CE, PE ("" when the instrument master did not know it)
    side: Side
    product: str  # CNC, MIS, NRML, MTF
    quantity: int
    price: Decimal
    filled_at: datetime  # aware
    multiplier: Decimal = Decimal(1)  # rupees per unit of price x quantity (currency and commodity contracts)
    # Derived once (reports read them for every fill, many times): the IST date and the segment.
    trade_date: date = field(init=False, compare=False, repr=False)
    segment: Segment = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "trade_date", self.filled_at.astimezone(IST).date())
        object.__setattr__(self, "segment", segment_of(self.exchange, self.instrument_type))

    @property
    def value(self) -> Decimal:
        """The traded value (turnover) of the fill: price x quantity x multiplier."""
        return self.price * self.quantity * self.multiplier

    @property
    def instrument(self) -> str:
        return f"{self.exchange}:{self.tradingsymbol}"


class ChargeSource(StrEnum):
    CONTRACT_NOTE = "contract_note"  # Kite's charges API (virtual contract note) for the executed order
    ESTIMATED = "estimated"  # the gateway's dated rate table, when Kite's note could not be had


@dataclass(frozen=True, slots=True)
class Charges:
    """The charges of one executed order, itemised as a contract note lists them."""

    brokerage: Decimal = ZERO
    transaction_tax: Decimal = ZERO  # STT or CTT
    transaction_tax_type: str = "stt"
    exchange_turnover_charge: Decimal = ZERO  # exchange transaction fee (with IPFT, as Zerodha's notes show it)
    sebi_turnover_charge: Decimal = ZERO
    stamp_duty: Decimal = ZERO
    gst: Decimal = ZERO
    dp: Decimal = ZERO  # depository charge of a delivery sell (the funds statement's, not the note's)

    @property
    def total(self) -> Decimal:
        return (
            self.brokerage
            + self.transaction_tax
            + self.exchange_turnover_charge
            + self.sebi_turnover_charge
            + self.stamp_duty
            + self.gst
            + self.dp
        )

    @property
    def without_transaction_tax(self) -> Decimal:
        """What capital gains may deduct (STT is not deductible there, s.48)."""
        return self.total - self.transaction_tax

    def __add__(self, other: Charges) -> Charges:
        return Charges(
            self.brokerage + other.brokerage,
            self.transaction_tax + other.transaction_tax,
            self.transaction_tax_type if self.transaction_tax else other.transaction_tax_type,
            self.exchange_turnover_charge + other.exchange_turnover_charge,
            self.sebi_turnover_charge + other.sebi_turnover_charge,
            self.stamp_duty + other.stamp_duty,
            self.gst + other.gst,
            self.dp + other.dp,
        )

    def scaled(self, part: Decimal) -> Charges:
        """These charges times `part` (a share of an order's charges that one fill or lot bears)."""
        return Charges(
            self.brokerage * part,
            self.transaction_tax * part,
            self.transaction_tax_type,
            self.exchange_turnover_charge * part,
            self.sebi_turnover_charge * part,
            self.stamp_duty * part,
            self.gst * part,
            self.dp * part,
        )


NO_CHARGES = Charges()


@dataclass(frozen=True, slots=True)
class OrderCharges:
    """The charges of one executed order on its trade date, and where they came from."""

    account_id: str
    order_id: str
    trade_date: date
    charges: Charges
    source: ChargeSource
    quantity: int = 0  # the filled quantity the charges are for (a later fill makes them stale)


@dataclass(frozen=True, slots=True)
class FillGap:
    """A span the fill log may be missing trades in: the gateway did not see the account's trades
    for those days, and Kite's trades API no longer has them."""

    account_id: str
    start: date
    end: date  # inclusive
    reason: str
    recorded_at: datetime = field(compare=False)
