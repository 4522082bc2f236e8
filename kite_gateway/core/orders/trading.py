"""The trading use cases on one account: place an order (validated, admitted by the risk checks,
placed idempotently), modify it (held to the same lot and tick rules and the order-size limits),
and cancel it (unless it is already final)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal

from kite_gateway.core.market import InstrumentMaster, LastPrices
from kite_gateway.core.orders.accounts import OrderAccounts
from kite_gateway.core.orders.admission import admission
from kite_gateway.core.orders.placement import IdempotentPlacement
from kite_gateway.core.orders.requests import Modification, NewOrder, OrderTarget, Placed
from kite_gateway.core.orders.status import is_final
from kite_gateway.core.orders.validation import modify_kwargs, order_kwargs
from kite_gateway.core.risk import PreTradeRisk
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite import KiteOrders
from kite_wire import kite_decimal


class OrderActions:
    def __init__(
        self,
        accounts: OrderAccounts,
        master: InstrumentMaster,
        placement: IdempotentPlacement,
        risk: PreTradeRisk,
        last_prices: LastPrices,
        market_protection: Decimal,
        clock: Callable[[], float],
    ) -> None:
        self.accounts = accounts
        self.master = master
        self.placement = placement
        self.risk = risk
        self.last_prices = last_prices
        self.market_protection = market_protection  # for MARKET and SL-M orders that do not say
        self._clock = clock  # the order dispatch clock, which deadlines are on

    async def place(self, kite: KiteOrders, order: NewOrder, time_remaining: float | None) -> Placed:
        """Place `order` on `kite`'s account (opened with OrderAccounts.trading); `time_remaining`
        is the caller's (None: it set no deadline)."""
        kwargs = order_kwargs(order.params, self.market_protection, f"{order.field}params")
        self.risk.kill_switches.check(kite.account_id)  # refused at once; checked again when it is sent
        order_id, replayed = await self.placement.place_order(
            kite,
            order.client_order_id,
            order.fingerprint,
            kwargs,
            check=admission(self.risk, self.last_prices, kite, kwargs, order.params.listing),
            deadline=None if time_remaining is None else self._clock() + time_remaining,
            sliced=order.params.autoslice,
        )
        sliced = await self.placement.slices(kite.account_id, order.client_order_id) if order.params.autoslice else None
        if sliced is None:
            return Placed(order_id, order.client_order_id, replayed)
        return Placed(order_id, order.client_order_id, replayed, sliced.parent_order_id, sliced.children)

    async def modify(self, account_id: str, target: OrderTarget, change: Modification) -> str:
        """Modify an open order; its id."""
        self.risk.kill_switches.check(account_id)
        kite = await self.accounts.trading(account_id)
        order_id = await self.accounts.order_id(kite, target)
        last = (await kite.order_history(order_id))[-1]
        listing = self.master.by_token.get(int(last.get("instrument_token") or 0))
        changes = modify_kwargs(change, listing, self.market_protection)
        self.risk.check_modification(
            account_id,
            int(change.quantity or last.get("quantity") or 0),
            change.price or change.trigger_price or kite_decimal(last.get("price")),
        )
        blocked = functools.partial(self.risk.kill_switches.check, account_id)
        await kite.modify_order(last["variety"], order_id, changes, before_send=blocked)
        return order_id

    async def cancel(self, account_id: str, target: OrderTarget) -> str:
        """Cancel an order not yet final; its id."""
        kite = await self.accounts.trading(account_id)
        order_id = await self.accounts.order_id(kite, target)
        last = (await kite.order_history(order_id))[-1]
        status = last.get("status")
        if is_final(status):
            raise GatewayError(
                Status.FAILED_PRECONDITION,
                Reason.KITE_ORDER_REJECTED,
                f"order {order_id} is already {status} and cannot be cancelled",
                {"account_id": account_id, "order_id": order_id, "status": str(status)},
            )
        await kite.cancel_order(last["variety"], order_id, last.get("parent_order_id") or None)
        return order_id
