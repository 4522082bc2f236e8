"""The trading engine: validates orders as Kite does, walks them through Kite's statuses, fills
them against the simulated book, and keeps each account's orders, trades, positions, holdings
and funds consistent.

Synchronous rejections (HTTP 400 InputException) are for malformed orders: unknown instrument,
bad enums, quantity not a multiple of the lot size, price off the tick grid, above the freeze
quantity, market orders without market protection, a closed market. RMS rejections happen after
acceptance, as a REJECTED order with a message: insufficient funds, insufficient holdings, a
price outside the circuit limits.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from kite_gateway.core.market.sessions import MarketHours
from kite_simulator import orders as st
from kite_simulator.clock import Clock
from kite_simulator.errors import input_error, network_error, order_error
from kite_simulator.ids import daily_sequence
from kite_simulator.margins import Margin, order_margin
from kite_simulator.market import LiveQuote, MarketModel
from kite_simulator.orders import SimOrder, SimTrade
from kite_simulator.portfolio import Holding, Position, Utilised, segment_funds
from kite_simulator.ratelimit import OrderCaps, OrderLimits
from kite_simulator.sessions import App, User
from kite_simulator.universe import SimInstrument, Universe
from kite_wire.formats import IST

VARIETIES = ("regular", "amo", "co", "iceberg", "auction")
ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
PRODUCTS = ("CNC", "NRML", "MIS", "MTF", "CO")
VALIDITIES = ("DAY", "IOC", "TTL")
MAX_MODIFICATIONS = 25
AUTO_PROTECTION = Decimal(2)  # percent applied when market_protection is -1

# (update kind for listeners) postback statuses Kite sends: COMPLETE, CANCELLED, REJECTED, UPDATE.
OrderListener = Callable[[SimOrder, str | None], None]


@dataclass
class Account:
    """One user's trading state."""

    user: User
    opening_balance: Decimal
    commodity_balance: Decimal
    orders: dict[str, SimOrder] = field(default_factory=dict)
    trades: list[SimTrade] = field(default_factory=list)
    positions: dict[tuple[int, str], Position] = field(default_factory=dict)
    holdings: dict[int, Holding] = field(default_factory=dict)

    def position(self, instrument: SimInstrument, product: str) -> Position:
        key = (instrument.instrument_token, product)
        if key not in self.positions:
            self.positions[key] = Position(instrument, product)
        return self.positions[key]


def _text(form: Mapping[str, str], name: str, required: bool = True) -> str:
    value = (form.get(name) or "").strip()
    if required and not value:
        raise input_error(f"Missing or empty field `{name}`.")
    return value


def _choice(form: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    value = _text(form, name, required=default is None) or (default or "")
    if value not in allowed:
        raise input_error(f"Invalid `{name}`.")
    return value


def _int(form: Mapping[str, str], name: str, default: int | None = None) -> int:
    raw = _text(form, name, required=default is None)
    if not raw:
        return default or 0
    try:
        return int(Decimal(raw))
    except (InvalidOperation, ValueError):
        raise input_error(f"Invalid `{name}`.") from None


def _decimal(form: Mapping[str, str], name: str) -> Decimal:
    raw = _text(form, name, required=False)
    if not raw:
        return Decimal(0)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise input_error(f"Invalid `{name}`.") from None
    if not value.is_finite() or (value < 0 and name != "market_protection"):
        raise input_error(f"Invalid `{name}`.")
    return value


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
        exchange = _text(form, "exchange")
        symbol = _text(form, "tradingsymbol")
        instrument = self.universe.by_symbol.get(f"{exchange}:{symbol}")
        if instrument is None:
            raise input_error(f"Invalid `tradingsymbol` or `exchange`: {exchange}:{symbol} is not listed.")
        if not instrument.tradable:
            raise input_error(f"{exchange}:{symbol} is an index and cannot be traded.")
        return instrument

    def _new_id(self, now: datetime) -> str:
        return f"{now.astimezone(IST):%y%m%d}{self.order_ids.take():09d}"

    def place(self, app: App, user_id: str, variety: str, form: Mapping[str, str], counted: bool = True) -> str:
        """`POST /orders/{variety}`: returns the order id (the first leg's, for icebergs). A placement
        is `counted` against the user's order caps (not those a GTT makes when it fires)."""
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
            transaction_type=_choice(form, "transaction_type", ("BUY", "SELL")),
            order_type=_choice(form, "order_type", ORDER_TYPES),
            product=_choice(form, "product", PRODUCTS),
            validity=_choice(form, "validity", VALIDITIES, default="DAY"),
            quantity=_int(form, "quantity"),
            price=_decimal(form, "price"),
            trigger_price=_decimal(form, "trigger_price"),
            disclosed_quantity=_int(form, "disclosed_quantity", 0),
            validity_ttl=_int(form, "validity_ttl", 0),
            market_protection=_decimal(form, "market_protection"),
            tag=_text(form, "tag", required=False) or None,
            guid=uuid.uuid4().hex[:20],
            order_time=now,
        )
        self._validate(order, form, now)
        if variety == "iceberg":
            legs = _int(form, "iceberg_legs")
            leg_quantity = _int(form, "iceberg_quantity")
            if not 2 <= legs <= 10 or leg_quantity * legs < order.quantity or leg_quantity <= 0:
                raise input_error("Invalid `iceberg_legs` or `iceberg_quantity`.")
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
            order.auction_number = _text(form, "auction_number")
        account.orders[order.order_id] = order
        self._accept(account, order, now)
        return order.order_id

    def _validate(self, order: SimOrder, form: Mapping[str, str], now: datetime) -> None:
        instrument = order.instrument
        open_now = self.hours.is_open(instrument.exchange, now)
        if order.variety == "amo" and open_now:
            raise input_error("After market orders can be placed only when the market is closed.")
        if order.variety != "amo" and not open_now:
            raise input_error("Markets are closed right now. Use GTT for placing long standing orders instead.")
        if order.quantity <= 0:
            raise input_error("Invalid `quantity`.")
        lot = max(instrument.lot_size, 1)
        if order.quantity % lot:
            raise input_error(f"Quantity should be a multiple of lot size ({lot}) for {instrument.tradingsymbol}.")
        if instrument.freeze_quantity and order.quantity > instrument.freeze_quantity and order.variety != "iceberg":
            raise input_error(
                f"Quantity exceeds the freeze limit of {instrument.freeze_quantity} for {instrument.tradingsymbol}. "
                "Use an iceberg order or autoslice."
            )
        if instrument.instrument_type == "EQ" and order.product == "NRML":
            raise input_error("NRML is not allowed for equity; use CNC or MIS.")
        if instrument.is_derivative and order.product in ("CNC", "MTF"):
            raise input_error(f"{order.product} is not allowed for derivatives; use NRML or MIS.")
        if order.order_type in ("LIMIT", "SL") and order.price <= 0:
            raise input_error("Invalid `price`. A LIMIT or SL order needs a price.")
        if order.order_type in ("MARKET", "SL-M") and order.price:
            order.price = Decimal(0)
        if order.order_type in ("SL", "SL-M") or order.variety == "co":
            if order.trigger_price <= 0:
                raise input_error("Invalid `trigger_price`. A stop-loss order needs a trigger price.")
        elif order.trigger_price:
            order.trigger_price = Decimal(0)
        for name, price in (("price", order.price), ("trigger_price", order.trigger_price)):
            if price and price % instrument.tick_size:
                raise input_error(
                    f"Tick size for this script is {instrument.tick_size}. Kindly enter {name.replace('_', ' ')} "
                    "in the multiple of tick size for this script."
                )
        if order.order_type in ("MARKET", "SL-M"):
            protection = order.market_protection
            if protection == 0 and self.require_market_protection:
                raise input_error(
                    "Market orders without market protection are not allowed via API. Please set market "
                    "protection or use a Limit order."
                )
            if protection != -1 and not 0 <= protection <= 100:
                raise input_error("Invalid `market_protection`: use -1 (automatic) or a percentage up to 100.")
        if order.validity == "TTL" and order.validity_ttl <= 0:
            raise input_error("Invalid `validity_ttl`. A TTL order needs its minutes to live.")
        if order.validity != "TTL":
            order.validity_ttl = 0
        if order.tag is not None and (len(order.tag) > 20 or not order.tag.replace("_", "").isalnum()):
            raise input_error("Invalid `tag`: up to 20 letters and digits.")
        if order.disclosed_quantity < 0 or order.disclosed_quantity > order.quantity:
            raise input_error("Invalid `disclosed_quantity`.")
        if order.variety == "co":
            order.product = "CO"

    def _accept(self, account: Account, order: SimOrder, now: datetime) -> None:
        order.transition(st.PUT_ORDER_REQ_RECEIVED, now)
        order.transition(st.VALIDATION_PENDING, now)
        reason = self._rms_rejection(account, order)
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

    def _rms_rejection(self, account: Account, order: SimOrder) -> str | None:
        instrument = order.instrument
        quote = self.quote(instrument)
        if order.order_type in ("LIMIT", "SL") and quote.upper_circuit:
            if order.price > quote.upper_circuit:
                return (f"Your order price is higher than the current upper circuit limit of {quote.upper_circuit}. "
                        "Place an order within the daily range.")  # fmt: skip
            if order.price < quote.lower_circuit:
                return (f"Your order price is lower than the current lower circuit limit of {quote.lower_circuit}. "
                        "Place an order within the daily range.")  # fmt: skip
        if instrument.instrument_type == "EQ" and order.product in ("CNC", "MTF") and order.transaction_type == "SELL":
            holding = account.holdings.get(instrument.instrument_token)
            bought_today = account.position(instrument, order.product).day_quantity
            pending_sells = sum(
                o.pending_quantity
                for o in account.orders.values()
                if o is not order and not o.is_final and o.instrument is instrument and o.product == order.product
                and o.transaction_type == "SELL"
            )  # fmt: skip
            available = (holding.sellable if holding else 0) + max(bought_today, 0) - pending_sells
            if order.quantity > available:
                return (f"Insufficient holdings: {available} of {instrument.tradingsymbol} available to sell, "
                        f"order quantity {order.quantity}.")  # fmt: skip
            return None
        segment = "commodity" if instrument.exchange == "MCX" else "equity"
        required = self._order_margin(order, quote).total
        free = self.available_margin(account, segment, exclude=order)
        if required > free:
            return f"Insufficient funds. Required margin is {required:.2f} but available margin is {free:.2f}."
        return None

    def _order_margin(self, order: SimOrder, quote: LiveQuote) -> Margin:
        price = order.price or order.trigger_price or quote.last_price
        return order_margin(order.instrument, order.transaction_type, order.product, order.pending_quantity, price)

    # Modify and cancel ------------------------------------------------------------------------

    def _working(self, user_id: str, order_id: str) -> SimOrder:
        order = self.accounts[user_id].orders.get(order_id)
        if order is None:
            raise input_error(f"Invalid `order_id`: {order_id} is not an order of this account.")
        if order.is_final:
            raise order_error(f"Order cannot be modified or cancelled as it is already {order.status}.")
        return order

    def modify(self, user_id: str, variety: str, order_id: str, form: Mapping[str, str]) -> str:
        order = self._working(user_id, order_id)
        now = self.clock.now()
        if order.modifications >= MAX_MODIFICATIONS:
            raise network_error("Maximum allowed order modifications exceeded.", 400)
        if variety != order.variety:
            raise input_error(f"Invalid `variety`: the order is a {order.variety} order.")
        updated = dataclasses.replace(order, history=[], meta=dict(order.meta))
        if form.get("order_type"):
            updated.order_type = _choice(form, "order_type", ORDER_TYPES)
        if form.get("quantity"):
            updated.quantity = _int(form, "quantity")
        if form.get("price"):
            updated.price = _decimal(form, "price")
        if form.get("trigger_price"):
            updated.trigger_price = _decimal(form, "trigger_price")
        if form.get("disclosed_quantity"):
            updated.disclosed_quantity = _int(form, "disclosed_quantity")
        if form.get("validity"):
            updated.validity = _choice(form, "validity", VALIDITIES)
        if form.get("market_protection"):
            updated.market_protection = _decimal(form, "market_protection")
        if updated.quantity < order.filled_quantity:
            raise input_error("Quantity cannot be less than the quantity already filled.")
        self._validate(updated, form, now)
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
        order = self._working(user_id, order_id)
        if variety != order.variety:
            raise input_error(f"Invalid `variety`: the order is a {order.variety} order.")
        now = self.clock.now()
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

    def _expired(self, order: SimOrder, now: datetime) -> str | None:
        if (
            order.validity == "TTL"
            and order.order_time
            and now >= order.order_time + timedelta(minutes=order.validity_ttl)
        ):
            return "Order cancelled as its time to live expired."
        window = self.hours.session(order.instrument.exchange, (order.exchange_time or now).astimezone(IST).date())
        if window and now >= window[1] and order.status != st.AMO_REQ_RECEIVED:
            return "Order cancelled by the exchange at the end of the session."
        return None

    def _match_order(self, account: Account, order: SimOrder, quote: LiveQuote, now: datetime) -> None:
        if order.status == st.AMO_REQ_RECEIVED:
            if not self.hours.is_open(order.instrument.exchange, now):
                return
            self._open(order, now)
            if order.status != st.OPEN:
                return
        expiry = self._expired(order, now)
        if expiry:
            self._cancel(order, now, expiry)
            return
        if not self.hours.is_open(order.instrument.exchange, now):
            return
        buy = order.transaction_type == "BUY"
        if order.status == st.TRIGGER_PENDING:
            hit = quote.last_price >= order.trigger_price if buy else quote.last_price <= order.trigger_price
            if not hit:
                return
            order.triggered = True
            order.transition(st.OPEN, now)
            self._notify(order, None)
        limit = self._limit(order, quote)
        filled_before = order.filled_quantity
        for level in quote.offers if buy else quote.bids:
            if order.pending_quantity <= 0 or (buy and level.price > limit) or (not buy and level.price < limit):
                break
            take = min(order.pending_quantity, level.quantity)
            if take:
                self._fill(account, order, take, level.price, now)
        if order.pending_quantity == 0:
            order.transition(st.COMPLETE, now)
            self._notify(order, "COMPLETE")
            self._next_leg(account, order, now)
        elif order.validity == "IOC":
            self._cancel(order, now, "Unfilled quantity of an IOC order cancelled.")
        elif order.filled_quantity != filled_before:
            order.transition(st.OPEN, now)
            self._notify(order, "UPDATE")

    def _limit(self, order: SimOrder, quote: LiveQuote) -> Decimal:
        if order.order_type in ("LIMIT", "SL"):
            return order.price
        percent = AUTO_PROTECTION if order.market_protection == -1 else order.market_protection
        band = quote.last_price * percent / 100
        return quote.last_price + band if order.transaction_type == "BUY" else quote.last_price - band

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
        return [o.to_json() for o in self.accounts[user_id].orders.values()]

    def order_history(self, user_id: str, order_id: str) -> list[dict[str, Any]]:
        order = self.accounts[user_id].orders.get(order_id)
        if order is None:
            raise input_error(f"Invalid `order_id`: {order_id} is not an order of this account.")
        return list(order.history)

    def trades_json(self, user_id: str, order_id: str | None = None) -> list[dict[str, Any]]:
        account = self.accounts[user_id]
        if order_id is not None and order_id not in account.orders:
            raise input_error(f"Invalid `order_id`: {order_id} is not an order of this account.")
        return [t.to_json() for t in account.trades if order_id is None or t.order.order_id == order_id]

    def positions_json(self, user_id: str) -> dict[str, list[dict[str, Any]]]:
        account = self.accounts[user_id]
        net, day = [], []
        for position in account.positions.values():
            quote = self.quote(position.instrument)
            if position.overnight_quantity or position.day_buy_quantity or position.day_sell_quantity:
                net.append(position.figures(quote, day_only=False))
            if position.day_buy_quantity or position.day_sell_quantity:
                day.append(position.figures(quote, day_only=True))
        return {"net": net, "day": day}

    def holdings_json(self, user_id: str) -> list[dict[str, Any]]:
        return [h.figures(self.quote(h.instrument)) for h in self.accounts[user_id].holdings.values()]

    def utilised(self, account: Account, segment: str, exclude: SimOrder | None = None) -> Utilised:
        used = Utilised()
        for position in account.positions.values():
            instrument = position.instrument
            if (instrument.exchange == "MCX") != (segment == "commodity"):
                continue
            quote = self.quote(instrument)
            figures = position.figures(quote, day_only=False)
            realised, unrealised = Decimal(str(figures["realised"])), Decimal(str(figures["unrealised"]))
            if position.product in ("CNC", "MTF"):
                used.delivery += max(position.day_buy_value - position.day_sell_value, Decimal(0))
                continue
            used.m2m_realised -= realised
            used.m2m_unrealised -= unrealised
            quantity = figures["quantity"]
            if quantity:
                side = "BUY" if quantity > 0 else "SELL"
                margin = order_margin(instrument, side, position.product, abs(quantity), quote.last_price)
                used.span += margin.span
                used.exposure += margin.exposure
                used.var += margin.var
                if side == "BUY" and instrument.instrument_type in ("CE", "PE"):
                    used.option_premium += Decimal(str(figures["buy_value"]))
        for order in account.orders.values():
            if order is exclude or order.is_final or (order.instrument.exchange == "MCX") != (segment == "commodity"):
                continue
            margin = self._order_margin(order, self.quote(order.instrument))
            used.span += margin.span
            used.exposure += margin.exposure
            used.option_premium += margin.option_premium
            used.var += margin.var
        return used

    def available_margin(self, account: Account, segment: str, exclude: SimOrder | None = None) -> Decimal:
        balance = account.commodity_balance if segment == "commodity" else account.opening_balance
        return balance - self.utilised(account, segment, exclude).debits

    def margins_json(self, user_id: str, segment: str | None = None) -> dict[str, Any]:
        account = self.accounts[user_id]
        out = {
            "equity": segment_funds(True, account.opening_balance, self.utilised(account, "equity")),
            "commodity": segment_funds(True, account.commodity_balance, self.utilised(account, "commodity")),
        }
        return out if segment is None else out[segment]

    def convert_position(self, user_id: str, form: Mapping[str, str]) -> None:
        """`PUT /portfolio/positions`: move today's quantity from one product to another."""
        account = self.accounts[user_id]
        instrument = self.instrument(form)
        side = _choice(form, "transaction_type", ("BUY", "SELL"))
        _choice(form, "position_type", ("day", "overnight"))
        quantity = _int(form, "quantity")
        old = _choice(form, "old_product", PRODUCTS)
        new = _choice(form, "new_product", PRODUCTS)
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
