"""Margin requirements and charges of orders, in the shape of Kite's `/margins` and `/charges`.

Margins: delivery equity needs the full value, intraday equity 20%, futures and short options
SPAN plus exposure on the notional, long options the premium. Charges follow Zerodha's published
schedule (brokerage, STT/CTT, exchange turnover, SEBI fee, stamp duty, GST).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kite_simulator.universe import SimInstrument
from kite_wire import kite_number

CENT = Decimal("0.01")
ZERO = Decimal(0)

# (SPAN, exposure) as fractions of the notional, by exchange, for futures and short options.
_FO_RATES = {"NFO": (Decimal("0.12"), Decimal("0.03")), "BFO": (Decimal("0.12"), Decimal("0.03")),
             "MCX": (Decimal("0.06"), Decimal("0.02")), "CDS": (Decimal("0.025"), Decimal("0.005")),
             "BCD": (Decimal("0.025"), Decimal("0.005"))}  # fmt: skip
_INTRADAY_EQUITY = Decimal("0.20")


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Margin:
    """A margin requirement by component (Kite's names)."""

    span: Decimal = ZERO
    exposure: Decimal = ZERO
    option_premium: Decimal = ZERO
    var: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.span + self.exposure + self.option_premium + self.var


def order_margin(
    instrument: SimInstrument, transaction_type: str, product: str, quantity: int, price: Decimal
) -> Margin:
    """What one order blocks when it is placed (price: its limit, or the last price for market orders)."""
    value = price * quantity * instrument.multiplier
    if instrument.instrument_type == "EQ":
        if product == "MIS":
            return Margin(var=_money(value * _INTRADAY_EQUITY))
        return Margin(var=_money(value)) if transaction_type == "BUY" else Margin()
    span_rate, exposure_rate = _FO_RATES.get(instrument.exchange, (Decimal("0.12"), Decimal("0.03")))
    if instrument.instrument_type in ("CE", "PE"):
        if transaction_type == "BUY":
            return Margin(option_premium=_money(value))
        notional = instrument.strike * quantity * instrument.multiplier
        return Margin(span=_money(notional * span_rate), exposure=_money(notional * exposure_rate))
    return Margin(span=_money(value * span_rate), exposure=_money(value * exposure_rate))


@dataclass(frozen=True)
class Charges:
    transaction_tax: Decimal
    transaction_tax_type: str
    exchange_turnover_charge: Decimal
    sebi_turnover_charge: Decimal
    brokerage: Decimal
    stamp_duty: Decimal
    gst: Decimal

    @property
    def total(self) -> Decimal:
        return (
            self.transaction_tax + self.exchange_turnover_charge + self.sebi_turnover_charge + self.brokerage
            + self.stamp_duty + self.gst
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "transaction_tax": kite_number(self.transaction_tax),
            "transaction_tax_type": self.transaction_tax_type,
            "exchange_turnover_charge": kite_number(self.exchange_turnover_charge),
            "sebi_turnover_charge": kite_number(self.sebi_turnover_charge),
            "brokerage": kite_number(self.brokerage),
            "stamp_duty": kite_number(self.stamp_duty),
            "gst": {"igst": kite_number(self.gst), "cgst": 0, "sgst": 0, "total": kite_number(self.gst)},
            "total": kite_number(self.total),
        }


def charges(instrument: SimInstrument, transaction_type: str, product: str, quantity: int, price: Decimal) -> Charges:
    """Charges of a fill of `quantity` at `price`."""
    turnover = price * quantity * instrument.multiplier
    sell = transaction_type == "SELL"
    kind = instrument.instrument_type
    pct = Decimal("0.01")
    if instrument.exchange in ("MCX",):
        tax_type, tax = "ctt", turnover * Decimal("0.01") * pct if sell and kind == "FUT" else ZERO
        exchange_rate, stamp_rate = Decimal("0.0021") * pct, Decimal("0.002") * pct
    elif instrument.exchange in ("CDS", "BCD"):
        tax_type, tax = "stt", ZERO
        exchange_rate, stamp_rate = Decimal("0.00035") * pct, Decimal("0.0001") * pct
    elif kind == "EQ":
        delivery = product in ("CNC", "MTF")
        tax_type = "stt"
        if delivery:
            tax = turnover * Decimal("0.1") * pct
        else:
            tax = turnover * Decimal("0.025") * pct if sell else ZERO
        exchange_rate = Decimal("0.00297") * pct
        stamp_rate = (Decimal("0.015") if delivery else Decimal("0.003")) * pct
    elif kind == "FUT":
        tax_type, tax = "stt", turnover * Decimal("0.02") * pct if sell else ZERO
        exchange_rate, stamp_rate = Decimal("0.00173") * pct, Decimal("0.002") * pct
    else:
        tax_type, tax = "stt", turnover * Decimal("0.1") * pct if sell else ZERO
        exchange_rate, stamp_rate = Decimal("0.03503") * pct, Decimal("0.003") * pct
    if kind == "EQ" and product in ("CNC", "MTF"):
        brokerage = ZERO
    elif kind in ("CE", "PE"):
        brokerage = Decimal(20)
    else:
        brokerage = min(Decimal(20), turnover * Decimal("0.03") * pct)
    exchange_charge = turnover * exchange_rate
    sebi = turnover * Decimal("10") / Decimal("10000000")
    stamp = turnover * stamp_rate if transaction_type == "BUY" else ZERO
    gst = (brokerage + exchange_charge + sebi) * Decimal("0.18")
    return Charges(
        _money(tax), tax_type, _money(exchange_charge), _money(sebi), _money(brokerage), _money(stamp), _money(gst)
    )


def basket_total_json(margin: Margin, compact: bool = False) -> dict[str, Any]:
    """A basket's `initial` or `final` block: a margin with no instrument and no charges of its own."""
    return _margin_fields("", "", "", margin, Charges(ZERO, "stt", ZERO, ZERO, ZERO, ZERO, ZERO), compact)


def margin_json(
    instrument: SimInstrument, margin: Margin, fill_charges: Charges, compact: bool = False
) -> dict[str, Any]:
    """One entry of `/margins/orders`."""
    kind = "commodity" if instrument.exchange == "MCX" else "equity"
    return _margin_fields(kind, instrument.tradingsymbol, instrument.exchange, margin, fill_charges, compact)


def _margin_fields(
    kind: str, tradingsymbol: str, exchange: str, margin: Margin, fill_charges: Charges, compact: bool
) -> dict[str, Any]:
    if compact:
        return {"type": kind, "tradingsymbol": tradingsymbol, "exchange": exchange, "total": kite_number(margin.total)}
    return {
        "type": kind,
        "tradingsymbol": tradingsymbol,
        "exchange": exchange,
        "span": kite_number(margin.span),
        "exposure": kite_number(margin.exposure),
        "option_premium": kite_number(margin.option_premium),
        "additional": 0,
        "bo": 0,
        "cash": 0,
        "var": kite_number(margin.var),
        "pnl": {"realised": 0, "unrealised": 0},
        "leverage": 1,
        "charges": fill_charges.to_json(),
        "total": kite_number(margin.total),
    }
