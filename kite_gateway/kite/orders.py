"""Kite's order endpoints for one account, typed: placing, modifying and cancelling orders, the order
book, an order's history and trades, margin and charge previews (positions are KitePortfolio's).
Each method fixes its endpoint's rate class and maps Kite's failures once: a definite
refusal is a GatewayError; a write that may nevertheless have reached Kite raises KiteOutcomeUnknown."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TypedDict, cast

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.autoslice import Autosliced, autosliced
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.errors import written
from kite_gateway.kite.limits import EndpointClass

Number = int | float
KiteValue = str | int | float  # what Kite's order forms take
OrderArgs = Mapping[str, KiteValue]
KiteTime = datetime | str | None


class OrderRow(TypedDict, total=False):
    """One state of an order as Kite reports it (the order book, an order's history, an update)."""

    order_id: str
    parent_order_id: str | None
    exchange_order_id: str | None
    status: str
    status_message: str | None
    tag: str | None
    tags: list[str] | None
    variety: str
    exchange: str
    tradingsymbol: str
    instrument_token: int
    transaction_type: str
    order_type: str
    product: str
    validity: str
    validity_ttl: int | None
    quantity: int
    disclosed_quantity: int
    filled_quantity: int
    pending_quantity: int
    cancelled_quantity: int
    price: Number
    trigger_price: Number
    average_price: Number
    market_protection: Number
    modified: bool
    auction_number: str | None
    placed_by: str
    meta: dict[str, object] | None
    order_timestamp: KiteTime
    exchange_timestamp: KiteTime
    exchange_update_timestamp: KiteTime


class TradeRow(TypedDict, total=False):
    trade_id: str
    order_id: str
    exchange_order_id: str | None
    exchange: str
    tradingsymbol: str
    instrument_token: int
    transaction_type: str
    product: str
    quantity: int
    average_price: Number
    fill_timestamp: KiteTime
    exchange_timestamp: KiteTime


class GstRow(TypedDict, total=False):
    igst: Number
    cgst: Number
    sgst: Number
    total: Number


class ChargesRow(TypedDict, total=False):
    transaction_tax: Number
    transaction_tax_type: str
    exchange_turnover_charge: Number
    sebi_turnover_charge: Number
    brokerage: Number
    stamp_duty: Number
    gst: GstRow
    total: Number


class PnlRow(TypedDict, total=False):
    realised: Number
    unrealised: Number


class MarginRow(TypedDict, total=False):
    """Kite's margin of one order, or of a basket (`initial`, `final`)."""

    type: str
    exchange: str
    tradingsymbol: str
    span: Number
    exposure: Number
    option_premium: Number
    additional: Number
    bo: Number
    cash: Number
    var: Number
    pnl: PnlRow
    leverage: Number
    charges: ChargesRow
    total: Number


class BasketMargins(TypedDict, total=False):
    initial: MarginRow
    final: MarginRow
    orders: list[MarginRow]


class ContractNoteRow(TypedDict, total=False):
    exchange: str
    tradingsymbol: str
    charges: ChargesRow


class MarginOrder(TypedDict):
    """One order of a margin preview, in Kite's form."""

    exchange: str
    tradingsymbol: str
    transaction_type: str
    variety: str
    product: str
    order_type: str
    quantity: int
    price: Number
    trigger_price: Number


class ContractNoteOrder(TypedDict):
    """One fill of a charges preview, in Kite's form."""

    order_id: str
    exchange: str
    tradingsymbol: str
    transaction_type: str
    variety: str
    product: str
    order_type: str
    quantity: int
    average_price: Number


def order_not_found(account_id: str, what: str) -> GatewayError:
    """NOT_FOUND (ORDER_NOT_FOUND) for an order the account does not have."""
    return GatewayError(
        Status.NOT_FOUND,
        Reason.ORDER_NOT_FOUND,
        f"no order for {what} on account {account_id}",
        {"account_id": account_id},
    )


class KiteOrders:
    """The order endpoints of one account's KiteCaller."""

    def __init__(self, caller: KiteCaller) -> None:
        self.caller = caller

    @property
    def account_id(self) -> str:
        return self.caller.account_id

    # Writes ---------------------------------------------------------------------------------

    def order_turn(self, weight: int = 1) -> AbstractAsyncContextManager[None]:
        """The account's turn to send an order Kite counts as `weight` orders (its order pacing and
        the app's limiter), held until the body ends: then a `place_order_now` follows at once."""
        return self.caller.order_turn(weight)

    async def place_order_now(self, args: OrderArgs, tag: str) -> str:
        """Place an order at once (`order_turn` took the pacing's turn and the limiter's room): Kite's order id."""
        call = self.caller.write_now(EndpointClass.ORDERS, "place_order", tag=tag, **args)
        return str(await written(call, self.account_id))

    async def place_autoslice_now(self, args: OrderArgs, tag: str) -> Autosliced:
        """Place an order with Kite's `autoslice=true` at once (`order_turn` took the pacing's turn and the
        limiter's room): the parent order id and every child, placed or refused. One request: once
        it has left, every slice Kite places is placed."""
        call = self.caller.write_now(EndpointClass.ORDERS, "place_autoslice_order", tag=tag, **args)
        return autosliced(await written(call, self.account_id), self.account_id)

    async def modify_order(
        self, variety: str, order_id: str, changes: OrderArgs, before_send: Callable[[], None] | None = None
    ) -> None:
        """Change an open order; `before_send` runs just before the call leaves and refuses it by raising."""
        await self.caller.change(
            EndpointClass.ORDERS, "modify_order", variety, order_id, before_send=before_send, **changes
        )

    async def cancel_order(self, variety: str, order_id: str, parent_order_id: str | None = None) -> None:
        extra = {"parent_order_id": parent_order_id} if parent_order_id else {}
        await self.caller.change(EndpointClass.ORDERS, "cancel_order", variety, order_id, **extra)

    # Reads ----------------------------------------------------------------------------------

    async def orders(self) -> list[OrderRow]:
        """Today's order book, oldest first."""
        return cast(list[OrderRow], await self.caller.read(EndpointClass.OTHER, "orders"))

    async def order_history(self, order_id: str) -> list[OrderRow]:
        """Every state of one order, oldest first; NOT_FOUND for an id that is not the account's."""
        return cast(list[OrderRow], await self._of_order("order_history", order_id))

    async def order_trades(self, order_id: str) -> list[TradeRow]:
        """The fills of one order; NOT_FOUND for an id that is not the account's."""
        return cast(list[TradeRow], await self._of_order("order_trades", order_id))

    async def trades(self) -> list[TradeRow]:
        return cast(list[TradeRow], await self.caller.read(EndpointClass.OTHER, "trades"))

    async def _of_order(self, method: str, order_id: str) -> object:
        """Kite's rows of one order. Kite refuses an id that is not one of the account's orders;
        whether it is unknown or another account's, the answer is the same NOT_FOUND, which tells
        nothing of orders elsewhere."""
        try:
            return cast(object, await self.caller.read(EndpointClass.OTHER, method, order_id))
        except GatewayError as exc:
            if exc.code in (Status.INVALID_ARGUMENT, Status.NOT_FOUND):
                raise order_not_found(self.account_id, f"order_id {order_id}") from None
            raise

    async def order_margins(self, orders: list[MarginOrder]) -> list[MarginRow]:
        return cast(list[MarginRow], await self.caller.read(EndpointClass.OTHER, "order_margins", orders))

    async def basket_order_margins(self, orders: list[MarginOrder], consider_positions: bool) -> BasketMargins:
        basket = await self.caller.read(EndpointClass.OTHER, "basket_order_margins", orders, consider_positions)
        return cast(BasketMargins, basket)

    async def virtual_contract_note(self, fills: list[ContractNoteOrder]) -> list[ContractNoteRow]:
        notes = await self.caller.read(EndpointClass.OTHER, "get_virtual_contract_note", fills)
        return cast(list[ContractNoteRow], notes)
