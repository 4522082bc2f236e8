"""The pre-trade admission of an order: its risk intent and, only when a configured limit needs
them, its price (Kite's LTP for market orders) and the account's open positions from Kite."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal

from kite_gateway.core.market import LastPrices, Listing
from kite_gateway.core.risk import OrderIntent, Positions, PreTradeRisk
from kite_gateway.errors import GatewayError
from kite_gateway.kite import KiteMarket, KiteOrders, KitePortfolio, KiteValue
from kite_gateway.observability import RISK_REFUSALS
from kite_wire import kite_decimal


async def _price(kite: KiteOrders, kwargs: Mapping[str, KiteValue], last_prices: LastPrices) -> Decimal:
    if kwargs.get("price"):
        return kite_decimal(kwargs["price"])
    if kwargs.get("trigger_price"):
        return kite_decimal(kwargs["trigger_price"])
    symbol = f"{kwargs['exchange']}:{kwargs['tradingsymbol']}"
    return kite_decimal((await last_prices.get(KiteMarket(kite.caller), [symbol]))[symbol])


async def _positions(kite: KiteOrders) -> Positions:
    net = (await KitePortfolio(kite.caller).positions()).net
    return {(row.exchange, row.tradingsymbol): (row.quantity, row.last_price) for row in net if row.quantity}


def admission(
    risk: PreTradeRisk,
    last_prices: LastPrices,
    kite: KiteOrders,
    kwargs: Mapping[str, KiteValue],
    listing: Listing,
) -> Callable[[], Awaitable[None]]:
    """The check to run just before the order goes to Kite (never for a replayed placement)."""

    async def admit() -> None:
        try:
            await check()
        except GatewayError as exc:
            RISK_REFUSALS.labels(kite.account_id, exc.metadata.get("limit", "kill_switch")).inc()
            raise

    async def check() -> None:
        intent = OrderIntent(
            account_id=kite.account_id,
            exchange=str(kwargs["exchange"]),
            tradingsymbol=str(kwargs["tradingsymbol"]),
            instrument_type=listing.instrument_type,
            product=str(kwargs["product"]),
            buy=kwargs["transaction_type"] == "BUY",
            quantity=int(kwargs["quantity"]),
        )
        await risk.admit(intent, lambda: _price(kite, kwargs, last_prices), lambda: _positions(kite))

    return admit
