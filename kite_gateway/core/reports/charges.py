"""The gateway's estimate of an executed order's charges from the dated rate table, for the orders
whose Kite contract note could not be had (and to cross-check the ones that could).

How each line is computed (shared/india-tax-and-charges.md §4):
- brokerage once per executed order, on the order's whole traded value (0.03% capped at ₹20, or a
  flat ₹20, or nothing for delivery);
- STT/CTT on the order's buy or sell value, rounded to whole rupees (paise ≥ 50 up), per order;
- exchange fee and IPFT on the traded value (IPFT its own line here; Kite's notes put both in
  `exchange_turnover_charge`, and so does `ChargeLines.charges`); SEBI fee on the traded value;
- stamp duty on buys only; GST 18% of brokerage + exchange fee + IPFT + SEBI fee (never of STT or
  stamp); all but STT left unrounded.
- DP charges are not an order's: they are the funds statement's, once per scrip and day with a demat
  debit, and `dp_charges` computes them from the day's fills.

Equity intraday vs delivery is the caller's call (`intraday=`): by default MIS is intraday and
everything else delivery; `intraday_orders` says which orders the FIFO match made intraday (a CNC
order bought and sold within the day counts as intraday, as Zerodha charges it). An order only partly
matched within the day is estimated at delivery rates whole: Zerodha would split it at the day's
average price (§4, Zerodha's mixed-day example), which this estimate does not attempt."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from kite_gateway.core.reports.charge_rates import RateNotFound, RateTable, default_rates, market_of
from kite_gateway.core.reports.lots import match
from kite_gateway.core.reports.model import ZERO, Charges, Fill, Segment, Side

RUPEE = Decimal(1)
INTRADAY_PRODUCTS = frozenset({"MIS"})


@dataclass(frozen=True, slots=True)
class ChargeLines:
    """An order's charges line by line, with the exchange fee and IPFT apart (unrounded but STT)."""

    brokerage: Decimal
    transaction_tax: Decimal
    transaction_tax_type: str
    exchange_fee: Decimal
    ipft: Decimal
    sebi: Decimal
    stamp: Decimal
    gst: Decimal

    @property
    def charges(self) -> Charges:
        """As a contract note itemises them: IPFT inside the exchange turnover charge."""
        return Charges(
            brokerage=self.brokerage,
            transaction_tax=self.transaction_tax,
            transaction_tax_type=self.transaction_tax_type,
            exchange_turnover_charge=self.exchange_fee + self.ipft,
            sebi_turnover_charge=self.sebi,
            stamp_duty=self.stamp,
            gst=self.gst,
        )

    @property
    def total(self) -> Decimal:
        return self.charges.total


def whole_rupees(amount: Decimal) -> Decimal:
    """STT as Zerodha rounds it: to the rupee, 50 paise and more up."""
    return amount.quantize(RUPEE, rounding=ROUND_HALF_UP)


def _one_order(order_fills: Sequence[Fill]) -> Fill:
    if not order_fills:
        raise ValueError("an order's charges need at least one of its fills")
    first = order_fills[0]
    for other in order_fills[1:]:
        if (other.account_id, other.order_id, other.instrument, other.side) != (
            first.account_id,
            first.order_id,
            first.instrument,
            first.side,
        ):
            raise ValueError(
                f"fills of more than one order: {first.order_id} {first.instrument} {first.side} and "
                f"{other.order_id} {other.instrument} {other.side}"
            )
    return first


def itemise(
    order_fills: Sequence[Fill], *, intraday: bool | None = None, rates: RateTable | None = None
) -> ChargeLines:
    """The estimated charges of one executed order (all its fills) at the rates of its trade date.
    `intraday` matters for equity only; None means by product (MIS intraday, else delivery)."""
    first = _one_order(order_fills)
    table = rates or default_rates()
    on = min(f.trade_date for f in order_fills)
    if intraday is None:
        intraday = first.product in INTRADAY_PRODUCTS
    market = market_of(first.segment, intraday)
    buy = first.side is Side.BUY
    value = sum((f.value for f in order_fills), ZERO)

    def line(name: str) -> Decimal:
        rate = table.find(name, market, first.exchange, first.tradingsymbol, on)
        return rate.of(value) if rate.on_side(buy) else ZERO

    tax_rate = table.find("transaction_tax", market, first.exchange, first.tradingsymbol, on)
    tax = whole_rupees(tax_rate.of(value)) if tax_rate.on_side(buy) else ZERO
    brokerage, exchange_fee, ipft, sebi = line("brokerage"), line("exchange"), line("ipft"), line("sebi")
    gst = table.find("gst", market, first.exchange, first.tradingsymbol, on).fraction
    return ChargeLines(
        brokerage=brokerage,
        transaction_tax=tax,
        transaction_tax_type=tax_rate.tax_type,
        exchange_fee=exchange_fee,
        ipft=ipft,
        sebi=sebi,
        stamp=line("stamp"),
        gst=(brokerage + exchange_fee + ipft + sebi) * gst,
    )


def estimate(order_fills: Sequence[Fill], *, intraday: bool | None = None, rates: RateTable | None = None) -> Charges:
    """The estimated charges of one executed order, as a contract note itemises them (no DP)."""
    return itemise(order_fills, intraday=intraday, rates=rates).charges


def intraday_orders(fills: Iterable[Fill]) -> frozenset[str]:
    """The equity orders to charge at intraday rates: MIS orders, and orders every unit of which the
    FIFO match closed within the day (a CNC round trip within the day). Pass all of an account's
    fills of the days concerned: a day's matching needs the whole day."""
    fills = list(fills)
    equity = [f for f in fills if f.segment is Segment.EQUITY]
    matched: dict[str, int] = defaultdict(int)
    for lot in match(equity).closed:
        if lot.intraday:
            matched[lot.opened.order_id] += lot.quantity
            matched[lot.closed.order_id] += lot.quantity
    ordered: dict[str, int] = defaultdict(int)
    for f in equity:
        ordered[f.order_id] += f.quantity
    mis = {f.order_id for f in equity if f.product in INTRADAY_PRODUCTS}
    return frozenset(mis | {order for order, quantity in ordered.items() if matched[order] >= quantity})


DpKey = tuple[str, date, str]  # (account_id, trade date, tradingsymbol)


def dp_charges(fills: Iterable[Fill], rates: RateTable | None = None) -> dict[DpKey, Decimal]:
    """The DP charge (with its GST) of each scrip and day shares left an account's demat: an equity
    day whose sells exceed its buys (the day's intraday part never leaves the demat; a BTST sell
    does). ₹13 + 18% GST = ₹15.34 per scrip per day at today's rates, whatever the quantity."""
    table = rates or default_rates()
    net: dict[DpKey, int] = defaultdict(int)
    for f in fills:
        if f.segment is Segment.EQUITY:
            net[(f.account_id, f.trade_date, f.tradingsymbol)] += f.side.sign * f.quantity
    out: dict[DpKey, Decimal] = {}
    for key, quantity in sorted(net.items()):
        if quantity < 0:
            _, on, symbol = key
            try:
                dp = table.find("dp", market_of(Segment.EQUITY, False), "NSE", symbol, on).of(ZERO)
                gst = table.find("gst", market_of(Segment.EQUITY, False), "NSE", symbol, on).fraction
            except RateNotFound:
                continue  # a day before the rate table begins: no DP charge is estimated for it
            out[key] = dp + dp * gst
    return out
