"""The gateway's charge estimate and the simulator's contract note are written apart (the gateway's
from its dated table, the simulator's from its own schedule of today's rates): for one order of each
segment they must agree line by line, within a paisa.

Where they round differently: the simulator rounds every line to the paisa, as Kite's virtual
contract note shows it (STT too, unrounded to the rupee); the gateway leaves every line unrounded but
STT, which it rounds to the rupee as the contract note does. So STT is compared rounded to the rupee."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest

from kite_gateway.core.reports import Fill, Side
from kite_gateway.core.reports.charges import estimate, whole_rupees
from kite_simulator.margins import charges as simulator_charges
from kite_simulator.universe import SimInstrument, build_universe
from kite_wire import IST

TODAY = date(2026, 12, 3)  # the day this was written: the rates in force since 1 Apr 2026
PAISA = Decimal("0.01")
UNIVERSE = build_universe(5, TODAY)


def instrument(exchange: str, kind: str, prefix: str = "") -> SimInstrument:
    return next(
        i
        for i in UNIVERSE.instruments
        if i.exchange == exchange and i.instrument_type == kind and i.tradingsymbol.startswith(prefix)
    )


CASES = [
    (instrument("NSE", "EQ", "INFY"), "CNC", 100),
    (instrument("NSE", "EQ", "INFY"), "MIS", 100),
    (instrument("BSE", "EQ"), "CNC", 50),
    (instrument("NFO", "FUT", "NIFTY"), "NRML", 75),
    (instrument("NFO", "CE", "NIFTY"), "NRML", 75),
    (instrument("BFO", "CE", "SENSEX"), "NRML", 20),
    (instrument("MCX", "FUT"), "NRML", 2),
    (instrument("MCX", "CE"), "NRML", 2),
    (instrument("CDS", "FUT"), "NRML", 10),
    (instrument("CDS", "CE"), "NRML", 10),
]


def order_fill(i: SimInstrument, side: str, product: str, quantity: int) -> Fill:
    return Fill(
        account_id="ZS0001", trade_id="1", order_id="1", exchange=i.exchange, tradingsymbol=i.tradingsymbol,
        instrument_token=i.instrument_token, instrument_type=i.instrument_type, side=Side(side), product=product,
        quantity=quantity, price=i.base_price, filled_at=datetime.combine(TODAY, time(11), IST),
        multiplier=Decimal(i.multiplier),
    )  # fmt: skip


@pytest.mark.parametrize("side", ["BUY", "SELL"])
@pytest.mark.parametrize(("sim", "product", "quantity"), CASES, ids=lambda c: getattr(c, "tradingsymbol", str(c)))
def test_the_gateways_estimate_agrees_with_the_simulators_contract_note(
    sim: SimInstrument, product: str, quantity: int, side: str
) -> None:
    note = simulator_charges(sim, side, product, quantity, sim.base_price)
    ours = estimate([order_fill(sim, side, product, quantity)])
    pairs = {
        "brokerage": (ours.brokerage, note.brokerage),
        "exchange_turnover_charge": (ours.exchange_turnover_charge, note.exchange_turnover_charge),
        "sebi_turnover_charge": (ours.sebi_turnover_charge, note.sebi_turnover_charge),
        "stamp_duty": (ours.stamp_duty, note.stamp_duty),
        "gst": (ours.gst, note.gst),
    }
    off = {line: (a, b) for line, (a, b) in pairs.items() if abs(a - b) > PAISA}
    assert off == {}, f"{sim.exchange}:{sim.tradingsymbol} {product} {side}"
    assert (ours.transaction_tax, ours.transaction_tax_type) == (
        whole_rupees(note.transaction_tax),
        note.transaction_tax_type,
    )
    assert note.total > 0 and ours.total > 0
