"""The trading engine: Kite's order state machine over every account. It reads an order's form
(engine.form), checks it as Kite does (engine.validation), runs the RMS (engine.rms), walks the
order through Kite's statuses and fills it against the simulated book (engine.matching), and keeps
each account's orders, trades, positions, holdings and funds consistent (engine.views renders them).

Synchronous rejections (HTTP 400 InputException) are for malformed orders: unknown instrument,
bad enums, quantity not a multiple of the lot size, price off the tick grid, above the freeze
quantity, market orders without market protection, a closed market. RMS rejections happen after
acceptance, as a REJECTED order with a message: insufficient funds, insufficient holdings, a
price outside the circuit limits.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from kite_simulator import orders as st
from kite_simulator.clock import Clock
from kite_simulator.engine import form as fields
from kite_simulator.engine import matching, rms, views
from kite_simulator.engine.accounts import Account
from kite_simulator.engine.validation import check_iceberg, validate
from kite_simulator.errors import input_error, network_error, order_error
from kite_simulator.ids import daily_sequence
from kite_simulator.market import LiveQuote, MarketModel
from kite_simulator.orders import SimOrder, SimTrade
from kite_simulator.portfolio import Holding
from kite_simulator.ratelimit import OrderCaps, OrderLimits
from kite_simulator.sessions import App, User
from kite_simulator.universe import SimInstrument, Universe
from kite_wire import IST, ORDER_TYPES, PRODUCTS, VALIDITIES, VARIETIES, MarketHours

MAX_MODIFICATIONS = 25

# (update kind for listeners) postback statuses Kite sends: COMPLETE, CANCELLED, REJECTED, UPDATE.
OrderListener = Callable[[SimOrder, str | None], None]


class TradingEngine:
    """Every account's orders, fills and portfolio on one simulated market."""

    def __init__(self, universe: Universe, market: MarketModel, clock: Clock) -> None:
        self.universe = universe
        self.market = market
        self.hours: MarketHours = market.hours
        self.clock = clock
        self.accounts: dict[str, Account] = {}
        self.listeners: list[OrderListener] = []
        self.require_market_protection = True
        self.order_caps: OrderCaps | None = OrderCaps(OrderLimits())
        self.order_ids = daily_sequence(clock.now())
        self.trade_ids = daily_sequence(clock.now())

    # Accounts ---------------------------------------------------------------------------------

    def open_account(self, user: User, opening_balance: Decimal, commodity_balance: Decimal) -> Account:
        account = Account(user, opening_balance, commodity_balance)
        self.accounts[user.user_id] = account
        return account

    def account(self, user_id: str) -> Account:
        return self.accounts[user_id]

    def add_holding(self, user_id: str, symbol: str, quantity: int, average_price: Decimal) -> None:
        instrument = self.universe.by_symbol[symbol]
        self.accounts[user_id].holdings[instrument.instrument_token] = Holding(instrument, quantity, average_price)

    def quote(self, instrument: SimInstrument) -> LiveQuote:
        return self.market.quote(instrument, self.clock.now())

    # Placement --------------------------------------------------------------------------------

    def instrument(self, form: Mapping[str, str]) -> SimInstrument:
        return fields.instrument(self.universe, form)

    def _new_id(self, now: datetime) -> str:
        return f"{now.astimezone(IST):%y%m%d}{self.order_ids.take():09d}"

    def new_order_id(self) -> str:
        """An id from the order sequence that names no order (an autoslice parent's)."""
        return self._new_id(self.clock.now())

    def place(
        self,
        app: App,
        user_id: str,
        variety: str,
        form: Mapping[str, str],
        counted: bool = True,
        kite_tags: Sequence[str] = (),
    ) -> str:
        """`POST /orders/{variety}`: returns the order id (the first leg's, for icebergs). A placement
        is `counted` against the user's order caps (not those a GTT makes when it fires); `kite_tags`
        are the tags Kite adds to the order itself."""
        account = self.accounts[user_id]
        now = self.clock.now()
        if variety not in VARIETIES:
            raise input_error("Invalid `variety`.")
        if counted and self.order_caps is not None:
            self.order_caps.count(user_id, now)
        instrument = self.instrument(form)
        order = SimOrder(
            order_id=self._new_id(now),
            user_id=user_id,
            app_id=app.app_id,
            api_key=app.api_key,
            instrument=instrument,
            variety=variety,
            transaction_type=fields.choice(form, "transaction_type", ("BUY", "SELL")),
            order_type=fields.choice(form, "order_type", ORDER_TYPES),
            product=fields.choice(form, "product", PRODUCTS),
            validity=fields.choice(form, "validity", VALIDITIES, default="DAY"),
            quantity=fields.integer(form, "quantity"),
            price=fields.decimal(form, "price"),
            trigger_price=fields.decimal(form, "trigger_price"),
            disclosed_quantity=fields.integer(form, "disclosed_quantity", 0),
            validity_ttl=fields.integer(form, "validity_ttl", 0),
            market_protection=fields.decimal(form, "market_protection"),
            tag=fields.text(form, "tag", required=False) or None,
            algo_id=fields.text(form, "algo_id", required=False) or None,
            guid=uuid.uuid4().hex[:20],
            order_time=now,
            kite_tags=list(kite_tags),
        )
        self._validate(order, now)
        if variety == "iceberg":
            legs = fields.integer(form, "iceberg_legs")
            leg_quantity = fields.integer(form, "iceberg_quantity")
            check_iceberg(legs, leg_quantity, order.quantity)
            total = order.quantity
            order.quantity = min(leg_quantity, total)
            order.meta = {
                "iceberg": {
                    "leg": 1,
                    "legs": legs,
                    "leg_quantity": leg_quantity,
                    "total_quantity": total,
                    "remaining_quantity": total - order.quantity,
                }
            }
        if variety == "auction":
            order.auction_number = fields.text(form, "auction_number")
        account.orders[order.order_id] = order
        self._accept(account, order, now)
        return order.order_id

    def _validate(self, order: SimOrder, now: datetime) -> None:
        validate(order, self.hours, now, self.require_market_protection)

    def _accept(self, account: Account, order: SimOrder, now: datetime) -> None:
        order.transition(st.PUT_ORDER_REQ_RECEIVED, now)
        order.transition(st.VALIDATION_PENDING, now)
        reason = rms.rejection(account, order, self.quote)
        if reason:
            order.transition(st.REJECTED, now, reason)
            order.cancelled_quantity = 0
            self._notify(order, "REJECTED")
            return
        if order.variety == "amo":
            order.transition(st.AMO_REQ_RECEIVED, now)
            self._notify(order, None)
            return
        self._open(order, now)
        self._match_order(account, order, self.quote(order.instrument), now)

    def _open(self, order: SimOrder, now: datetime) -> None:
        order.transition(st.OPEN_PENDING, now)
        order.exchange_order_id = f"{1_100_000_000_000_000 + int(order.order_id[-9:]):d}"
        order.exchange_time = now
        status = st.TRIGGER_PENDING if order.order_type in ("SL", "SL-M") else st.OPEN
        order.transition(status, now)
        self._notify(order, None)

    # Modify and cancel ------------------------------------------------------------------------

    def _count_change(self, user_id: str, now: datetime) -> None:
        """A modification or cancellation counts in the user's calendar second (429 beyond)."""
        if self.order_caps is not None:
            self.order_caps.count_change(user_id, now)

    def _working(self, user_id: str, order_id: str) -> SimOrder:
        order = self.accounts[user_id].orders.get(order_id)
        if order is None:
            raise input_error(f"Invalid `order_id`: {order_id} is not an order of this account.")
        if order.is_final:
            raise order_error(f"Order cannot be modified or cancelled as it is already {order.status}.")
        return order

    def modify(self, user_id: str, variety: str, order_id: str, form: Mapping[str, str]) -> str:
        now = self.clock.now()
        self._count_change(user_id, now)
        order = self._working(user_id, order_id)
        if order.modifications >= MAX_MODIFICATIONS:
            raise network_error("Maximum allowed order modifications exceeded.", 400)
        if variety != order.variety:
            raise input_error(f"Invalid `variety`: the order is a {order.variety} order.")
        updated = dataclasses.replace(order, history=[], meta=dict(order.meta))
        if form.get("order_type"):
            updated.order_type = fields.choice(form, "order_type", ORDER_TYPES)
        if form.get("quantity"):
            updated.quantity = fields.integer(form, "quantity")
        if form.get("price"):
            updated.price = fields.decimal(form, "price")
        if form.get("trigger_price"):
            updated.trigger_price = fields.decimal(form, "trigger_price")
        if form.get("disclosed_quantity"):
            updated.disclosed_quantity = fields.integer(form, "disclosed_quantity")
        if form.get("validity"):
            updated.validity = fields.choice(form, "validity", VALIDITIES)
        if form.get("market_protection"):
            updated.market_protection = fields.decimal(form, "market_protection")
        if updated.quantity < order.filled_quantity:
            raise input_error("Quantity cannot be less than the quantity already filled.")
        self._validate(updated, now)
        order.transition(st.MODIFY_VALIDATION_PENDING, now)
        order.transition(st.MODIFY_PENDING, now)
        for name in ("order_type", "quantity", "price", "trigger_price", "disclosed_quantity", "validity",
                     "market_protection", "validity_ttl"):  # fmt: skip
            setattr(order, name, getattr(updated, name))
        order.modifications += 1
        order.transition(st.MODIFIED, now)
        resting = st.AMO_REQ_RECEIVED if order.variety == "amo" and not order.exchange_order_id else (
            st.TRIGGER_PENDING if order.order_type in ("SL", "SL-M") and not order.triggered else st.OPEN
        )  # fmt: skip
        order.transition(resting, now)
        self._notify(order, "UPDATE")
        if resting == st.OPEN:
            self._match_order(self.accounts[user_id], order, self.quote(order.instrument), now)
        return order.order_id

    def cancel(self, user_id: str, variety: str, order_id: str) -> str:
        now = self.clock.now()
        self._count_change(user_id, now)
        order = self._working(user_id, order_id)
        if variety != order.variety:
            raise input_error(f"Invalid `variety`: the order is a {order.variety} order.")
        order.transition(st.CANCEL_PENDING, now)
        self._cancel(order, now, "Cancelled by the user.")
        return order.order_id

    def _cancel(self, order: SimOrder, now: datetime, message: str) -> None:
        order.cancelled_quantity = order.quantity - order.filled_quantity
        if "iceberg" in order.meta:
            order.meta["iceberg"]["remaining_quantity"] = 0
        order.transition(st.CANCELLED, now, message)
        self._notify(order, "CANCELLED")

    # Matching ---------------------------------------------------------------------------------

    def match_all(self) -> None:
        """One matching pass at the clock's time: open AMOs at the session start, trigger stop-losses,
        fill what the book allows, expire IOC/TTL/day orders."""
        now = self.clock.now()
        quotes: dict[int, LiveQuote] = {}
        for account in self.accounts.values():
            for order in list(account.orders.values()):
                if order.status not in st.WORKING_STATUSES:
                    continue
                token = order.instrument.instrument_token
                if token not in quotes:
                    quotes[token] = self.quote(order.instrument)
                self._match_order(account, order, quotes[token], now)

    def _match_order(self, account: Account, order: SimOrder, quote: LiveQuote, now: datetime) -> None:
        if order.status == st.AMO_REQ_RECEIVED:
            if not self.hours.is_open(order.instrument.exchange, now):
                return
            self._open(order, now)
            if order.status != st.OPEN:
                return
        expiry = matching.expiry(order, self.hours, now)
        if expiry:
            self._cancel(order, now, expiry)
            return
        if not self.hours.is_open(order.instrument.exchange, now):
            return
        if order.status == st.TRIGGER_PENDING:
            if not matching.triggered(order, quote):
                return
            order.triggered = True
            order.transition(st.OPEN, now)
            self._notify(order, None)
        filled_before = order.filled_quantity
        for quantity, price in matching.fills(order, quote):
            self._fill(account, order, quantity, price, now)
        if order.pending_quantity == 0:
            order.transition(st.COMPLETE, now)
            self._notify(order, "COMPLETE")
            self._next_leg(account, order, now)
        elif order.validity == "IOC":
            self._cancel(order, now, "Unfilled quantity of an IOC order cancelled.")
        elif order.filled_quantity != filled_before:
            order.transition(st.OPEN, now)
            self._notify(order, "UPDATE")

    def _fill(self, account: Account, order: SimOrder, quantity: int, price: Decimal, now: datetime) -> None:
        order.fill(quantity, price)
        account.trades.append(SimTrade(f"{self.trade_ids.take():08d}", order, quantity, price, now))
        account.position(order.instrument, order.product).add_fill(order.transaction_type, quantity, price)
        holding = account.holdings.get(order.instrument.instrument_token)
        if holding and order.product == "CNC" and order.transaction_type == "SELL":
            holding.used_quantity += min(quantity, holding.sellable)

    def _derived_order(self, order: SimOrder, now: datetime, **changes: Any) -> SimOrder:
        """A new order carrying `order`'s terms, fresh state, and `changes`."""
        return dataclasses.replace(
            order,
            order_id=self._new_id(now),
            history=[],
            filled_quantity=0,
            cancelled_quantity=0,
            filled_value=Decimal(0),
            status=st.PUT_ORDER_REQ_RECEIVED,
            status_message=None,
            order_time=now,
            exchange_order_id=None,
            exchange_time=None,
            modifications=0,
            triggered=False,
            **changes,
        )

    def _next_leg(self, account: Account, order: SimOrder, now: datetime) -> None:
        """Place the next leg of a completed iceberg leg, or the stop-loss leg of a filled cover order."""
        iceberg = order.meta.get("iceberg")
        if iceberg and iceberg["remaining_quantity"] > 0:
            quantity = min(iceberg["leg_quantity"], iceberg["remaining_quantity"])
            progress = {
                **iceberg,
                "leg": iceberg["leg"] + 1,
                "remaining_quantity": iceberg["remaining_quantity"] - quantity,
            }
            leg = self._derived_order(
                order,
                now,
                quantity=quantity,
                parent_order_id=order.parent_order_id or order.order_id,
                meta={"iceberg": progress},
            )
            account.orders[leg.order_id] = leg
            self._accept(account, leg, now)
        elif order.variety == "co" and order.parent_order_id is None:
            stop = self._derived_order(
                order,
                now,
                order_type="SL-M",
                transaction_type="SELL" if order.transaction_type == "BUY" else "BUY",
                price=Decimal(0),
                parent_order_id=order.order_id,
                market_protection=Decimal(-1),
                meta={},
            )
            account.orders[stop.order_id] = stop
            stop.transition(st.PUT_ORDER_REQ_RECEIVED, now)
            stop.transition(st.VALIDATION_PENDING, now)
            self._open(stop, now)

    def _notify(self, order: SimOrder, postback_status: str | None) -> None:
        for listener in self.listeners:
            listener(order, postback_status)

    # Views ------------------------------------------------------------------------------------

    def orders_json(self, user_id: str) -> list[dict[str, Any]]:
        return views.orders(self.accounts[user_id])

    def order_history(self, user_id: str, order_id: str) -> list[dict[str, Any]]:
        return views.order_history(self.accounts[user_id], order_id)

    def trades_json(self, user_id: str, order_id: str | None = None) -> list[dict[str, Any]]:
        """An order's trades, or (as Kite's /trades) every trade of the current IST day."""
        today = None if order_id is not None else self.clock.now().astimezone(IST).date()
        return views.trades(self.accounts[user_id], order_id, today)

    def positions_json(self, user_id: str) -> dict[str, list[dict[str, Any]]]:
        return views.positions(self.accounts[user_id], self.quote)

    def holdings_json(self, user_id: str) -> list[dict[str, Any]]:
        return views.holdings(self.accounts[user_id], self.quote)

    def margins_json(self, user_id: str, segment: str | None = None) -> dict[str, Any]:
        return views.margins(self.accounts[user_id], self.quote, segment)

    def convert_position(self, user_id: str, form: Mapping[str, str]) -> None:
        """`PUT /portfolio/positions`: move today's quantity from one product to another."""
        account = self.accounts[user_id]
        instrument = self.instrument(form)
        side = fields.choice(form, "transaction_type", ("BUY", "SELL"))
        fields.choice(form, "position_type", ("day", "overnight"))
        quantity = fields.integer(form, "quantity")
        old = fields.choice(form, "old_product", PRODUCTS)
        new = fields.choice(form, "new_product", PRODUCTS)
        if old == new:
            raise input_error("`old_product` and `new_product` are the same.")
        source = account.positions.get((instrument.instrument_token, old))
        movable = 0
        if source is not None:
            movable = source.day_buy_quantity if side == "BUY" else source.day_sell_quantity
        if quantity <= 0 or quantity > movable:
            raise input_error(f"Position conversion quantity {quantity} exceeds the convertible {movable}.")
        if (instrument.instrument_type == "EQ" and new == "NRML") or (instrument.is_derivative and new == "CNC"):
            raise input_error(f"Cannot convert {instrument.tradingsymbol} to {new}.")
        assert source is not None
        source.move(side, quantity, account.position(instrument, new))
