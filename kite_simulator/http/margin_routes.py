"""Kite's margin calculators (orders, basket) and the virtual contract note (charges)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from kite_simulator import margins
from kite_simulator.engine import TradingEngine
from kite_simulator.errors import input_error
from kite_simulator.http.envelope import ok, read_json_list
from kite_simulator.universe import SimInstrument
from kite_wire import kite_number


class MarginRoutes:
    def __init__(self, engine: TradingEngine) -> None:
        self.engine = engine

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/margins/orders", self.order_margins),
            web.post("/margins/basket", self.basket_margins),
            web.post("/charges/orders", self.virtual_contract_note),
        ]

    def _priced(self, item: Mapping[str, Any], price_field: str) -> tuple[SimInstrument, str, str, int, Decimal]:
        instrument = self.engine.instrument({k: str(item.get(k, "")) for k in ("exchange", "tradingsymbol")})
        side = str(item.get("transaction_type", ""))
        if side not in ("BUY", "SELL"):
            raise input_error("Invalid `transaction_type`.")
        try:
            quantity = int(item.get("quantity", 0))
            price = Decimal(str(item.get(price_field) or 0))
        except (ValueError, ArithmeticError):
            raise input_error("Invalid `quantity` or price.") from None
        if quantity <= 0:
            raise input_error("Invalid `quantity`.")
        return (
            instrument,
            side,
            str(item.get("product", "CNC")),
            quantity,
            price or self.engine.quote(instrument).last_price,
        )

    async def order_margins(self, request: web.Request) -> web.StreamResponse:
        compact = request.query.get("mode") == "compact"
        out = []
        for item in await read_json_list(request):
            instrument, side, product, quantity, price = self._priced(item, "price")
            margin = margins.order_margin(instrument, side, product, quantity, price)
            fill = margins.charges(instrument, side, product, quantity, price)
            out.append(margins.margin_json(instrument, margin, fill, compact))
        return ok(out)

    async def basket_margins(self, request: web.Request) -> web.StreamResponse:
        compact = request.query.get("mode") == "compact"
        items = await read_json_list(request)
        entries, total = [], margins.Margin()
        for item in items:
            instrument, side, product, quantity, price = self._priced(item, "price")
            margin = margins.order_margin(instrument, side, product, quantity, price)
            entries.append(
                margins.margin_json(
                    instrument, margin, margins.charges(instrument, side, product, quantity, price), compact
                )
            )
            total = margins.Margin(total.span + margin.span, total.exposure + margin.exposure,
                                   total.option_premium + margin.option_premium, total.var + margin.var)  # fmt: skip
        # Hedged legs (opposite sides) earn a SPAN benefit, as Kite's basket netting does.
        sides = {str(i.get("transaction_type")) for i in items}
        benefit = Decimal("0.7") if len(sides) == 2 else Decimal(1)
        hedged = margins.Margin(total.span * benefit, total.exposure, total.option_premium, total.var)
        no_charges = margins.Charges(Decimal(0), "stt", Decimal(0), Decimal(0), Decimal(0), Decimal(0), Decimal(0))
        return ok(
            {
                "initial": margins.basket_total_json(total, compact),
                "final": margins.basket_total_json(hedged, compact),
                "orders": entries,
                "charges": no_charges.to_json(),
            }
        )

    async def virtual_contract_note(self, request: web.Request) -> web.StreamResponse:
        out = []
        for item in await read_json_list(request):
            instrument, side, product, quantity, price = self._priced(item, "average_price")
            out.append(
                {
                    "transaction_type": side,
                    "tradingsymbol": instrument.tradingsymbol,
                    "exchange": instrument.exchange,
                    "variety": str(item.get("variety", "regular")),
                    "product": product,
                    "order_type": str(item.get("order_type", "MARKET")),
                    "quantity": quantity,
                    "price": kite_number(price),
                    "charges": margins.charges(instrument, side, product, quantity, price).to_json(),
                }
            )
        return ok(out)
