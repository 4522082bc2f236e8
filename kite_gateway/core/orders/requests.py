"""The order requests the use cases take and the results they give, free of any transport: the
gRPC servicer builds them from its messages (kite_gateway/grpc/mapping.py) and maps them back."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from kite_gateway.core.market import Listing
from kite_gateway.errors import GatewayError
from kite_gateway.kite import SliceOutcome


class Protection(Enum):
    """How a MARKET or SL-M order's market protection was asked for."""

    DEFAULT = "default"  # unset: the gateway's KITE_GATEWAY_MARKET_PROTECTION
    AUTO = "auto"  # Kite chooses (-1)
    PERCENT = "percent"  # the caller's percent


@dataclass(frozen=True)
class OrderParams:
    """A new order's fields, with Kite's texts for its enums and its instrument resolved."""

    listing: Listing
    variety: str  # "regular", "amo", "co", "iceberg", "auction"
    order_type: str  # "MARKET", "LIMIT", "SL", "SL-M"
    product: str
    transaction_type: str  # "BUY" or "SELL"
    validity: str  # "DAY", "IOC", "TTL"
    quantity: int
    price: Decimal = Decimal(0)
    trigger_price: Decimal = Decimal(0)
    protection: Protection | None = None  # None: the request did not say (the same as DEFAULT)
    protection_percent: Decimal = Decimal(0)
    validity_ttl_minutes: int = 0
    disclosed_quantity: int = 0
    iceberg_legs: int = 0
    iceberg_quantity: int = 0
    auction_number: str = ""
    algo_id: str = ""  # the exchange's algo ID sent as Kite's `algo_id` ("" : none; defaults filled in by the caller)
    autoslice: bool = False  # Kite's autoslice=true: up to 10 child orders of at most the freeze quantity


@dataclass(frozen=True)
class NewOrder:
    """One order to place: its idempotency key, its fields and their fingerprint."""

    account_id: str
    client_order_id: str
    params: OrderParams
    fingerprint: str
    field: str = ""  # the request's path to this order ("legs[3]." in a bulk request)


@dataclass(frozen=True)
class Placed:
    order_id: str  # an autoslice's first placed child
    client_order_id: str
    replayed: bool
    parent_order_id: str = ""  # an autoslice's parent (it names no order); "" when not sliced
    children: tuple[SliceOutcome, ...] = ()  # an autoslice's children, in slice order


@dataclass(frozen=True)
class OrderTarget:
    """An existing order, by Kite's order id or by the client_order_id it was placed with."""

    order_id: str = ""
    client_order_id: str = ""


@dataclass(frozen=True)
class Modification:
    """What a modification changes (None: left as it is); enums as Kite's texts."""

    quantity: int | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    order_type: str | None = None
    validity: str | None = None
    disclosed_quantity: int | None = None


@dataclass(frozen=True)
class Fill:
    """One fill of a charges preview."""

    order_id: str
    listing: Listing
    transaction_type: str
    variety: str
    product: str
    order_type: str
    quantity: int
    average_price: Decimal


@dataclass(frozen=True)
class LegResult:
    """One leg of a bulk placement: placed, or the failure that stopped it (never both)."""

    account_id: str
    client_order_id: str
    placed: Placed | None = None
    failure: GatewayError | None = None


@dataclass(frozen=True)
class Cancellation:
    """What engaging a kill switch did to one open order."""

    account_id: str
    order_id: str
    cancelled: bool
    error: str = ""
