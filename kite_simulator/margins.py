"""Margin requirements and charges of orders, in the shape of Kite's `/margins` and `/charges`.

Margins: delivery equity needs the full value, intraday equity 20%, futures and short options
SPAN plus exposure on the notional, long options the premium. Charges follow Zerodha's published
schedule in force from 1 Apr 2026 (brokerage, STT/CTT, exchange turnover with IPFT, SEBI fee,
stamp duty, GST).
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


# Zerodha's schedule for trades from 1 Apr 2026 (Finance Act 2026 F&O STT; exchange fees flat since
# 1 Oct 2024), in percent of the traded value (the premium, for options). The simulator's own table,
# written apart from the gateway's dated one (kite_gateway/core/reports/charge_rates.toml) so that
# the two cross-check each other (tests/core/reports/test_simulator_agrees.py).
# kind -> (STT/CTT type, on buys, on sells, stamp on buys)
_TAX_AND_STAMP = {
    "delivery": ("stt", Decimal("0.1"), Decimal("0.1"), Decimal("0.015")),
    "intraday": ("stt", ZERO, Decimal("0.025"), Decimal("0.003")),
    "NFO:FUT": ("stt", ZERO, Decimal("0.05"), Decimal("0.002")),
    "NFO:OPT": ("stt", ZERO, Decimal("0.15"), Decimal("0.003")),
    "CDS:FUT": ("stt", ZERO, ZERO, Decimal("0.0001")),
    "CDS:OPT": ("stt", ZERO, ZERO, Decimal("0.0001")),
    "MCX:FUT": ("ctt", ZERO, Decimal("0.01"), Decimal("0.002")),
    "MCX:OPT": ("ctt", ZERO, Decimal("0.05"), Decimal("0.003")),
}
# exchange:kind -> exchange transaction fee + IPFT (contract notes show the two as one line)
_EXCHANGE_FEE = {
    "NSE:EQ": Decimal("0.00297") + Decimal("0.0001"),
    "BSE:EQ": Decimal("0.00375"),  # groups A and B
    "NFO:FUT": Decimal("0.00173") + Decimal("0.0001"),
    "NFO:OPT": Decimal("0.03503") + Decimal("0.0005"),
    "BFO:FUT": ZERO,
    "BFO:OPT": Decimal("0.005"),  # stock and Sensex 50 options; Sensex and Bankex below
    "CDS:FUT": Decimal("0.00035") + Decimal("0.0005"),
    "CDS:OPT": Decimal("0.0311") + Decimal("0.002"),
    "BCD:FUT": Decimal("0.00045"),
    "BCD:OPT": Decimal("0.001"),
    "MCX:FUT": Decimal("0.0021"),
    "MCX:OPT": Decimal("0.0418"),
}
_BSE_INDEX_OPTIONS = Decimal("0.0325")
_SEBI = Decimal("0.0001")  # Rs 10 a crore
_GST = Decimal("0.18")
_BROKERAGE_RATE, _BROKERAGE_CAP = Decimal("0.03"), Decimal(20)
_PERCENT = Decimal("0.01")
_SAME_SEGMENT = {"BFO": "NFO", "BCD": "CDS", "BSE": "NSE"}


def _schedule_key(instrument: SimInstrument, product: str) -> tuple[str, str]:
    """(tax-and-stamp key, exchange-fee key) of an instrument traded under `product`."""
    kind = instrument.instrument_type
    if kind == "EQ":
        return ("delivery" if product in ("CNC", "MTF") else "intraday"), f"{instrument.exchange}:EQ"
    contract = "OPT" if kind in ("CE", "PE") else "FUT"
    family = _SAME_SEGMENT.get(instrument.exchange, instrument.exchange)
    return f"{family}:{contract}", f"{instrument.exchange}:{contract}"


def charges(instrument: SimInstrument, transaction_type: str, product: str, quantity: int, price: Decimal) -> Charges:
    """Charges of an order of `quantity` at `price`, each line rounded to the paisa (Kite's virtual
    contract note shows STT unrounded too, where the contract note itself rounds it to the rupee).
    Equity is delivery under CNC/MTF and intraday otherwise (the simulator does not look at the
    day's other trades as Zerodha does for a CNC round trip)."""
    turnover = price * quantity * instrument.multiplier
    buy = transaction_type == "BUY"
    tax_key, fee_key = _schedule_key(instrument, product)
    tax_type, on_buy, on_sell, stamp_rate = _TAX_AND_STAMP[tax_key]
    fee_rate = _EXCHANGE_FEE[fee_key]
    symbol = instrument.tradingsymbol
    if fee_key == "BFO:OPT" and symbol.startswith(("SENSEX", "BANKEX")) and not symbol.startswith("SENSEX50"):
        fee_rate = _BSE_INDEX_OPTIONS
    tax = turnover * (on_buy if buy else on_sell) * _PERCENT
    if tax_key == "delivery":
        brokerage = ZERO
    elif instrument.instrument_type in ("CE", "PE"):
        brokerage = _BROKERAGE_CAP
    else:
        brokerage = min(_BROKERAGE_CAP, turnover * _BROKERAGE_RATE * _PERCENT)
    exchange_charge = turnover * fee_rate * _PERCENT
    sebi = turnover * _SEBI * _PERCENT
    stamp = turnover * stamp_rate * _PERCENT if buy else ZERO
    gst = (brokerage + exchange_charge + sebi) * _GST
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
