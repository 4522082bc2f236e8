"""Orders as use cases, over the typed Kite adapter (kite_gateway/kite/orders.py) and free of any
transport: requests (the use cases' own types), validation before Kite (new orders and
modifications alike), trading (place, modify, cancel), bulk placement, queries, previews,
kill-switch actions, placement that never duplicates (placement, dispatch, duplicates), and the
risk-reducing requests: exit orders (sent through kill switches), square-off and cancel-all by scope."""

from kite_gateway.core.orders.accounts import OrderAccounts
from kite_gateway.core.orders.basket import (
    BasketLegResult,
    BasketMargin,
    BasketRequest,
    BasketResult,
    Baskets,
    LegStatus,
    Policy,
)
from kite_gateway.core.orders.cancel_all import CancelAll, CancelAllResult
from kite_gateway.core.orders.dispatch import OrderDispatch
from kite_gateway.core.orders.duplicates import DuplicateAction, DuplicateFound, DuplicateOrders
from kite_gateway.core.orders.exit_orders import ExitLeg, ExitOrders, exit_client_order_id
from kite_gateway.core.orders.exit_requests import ExitRequests
from kite_gateway.core.orders.exit_scope import (
    AUDIT_ACTION_PLACE_ORDER,
    Audit,
    ExitScope,
    Members,
    RequestOnce,
    ScopeResolver,
    StrategyOrders,
)
from kite_gateway.core.orders.gtt import GttTriggers
from kite_gateway.core.orders.kill_switch_actions import KillSwitchActions
from kite_gateway.core.orders.kite_alerts import KiteAlertBook
from kite_gateway.core.orders.placement import IdempotentPlacement
from kite_gateway.core.orders.previews import FillCharges, MarginPreview
from kite_gateway.core.orders.queries import OrderQueries, OrderState
from kite_gateway.core.orders.requests import (
    Cancellation,
    Fill,
    LegResult,
    Modification,
    NewOrder,
    OrderParams,
    OrderTarget,
    Placed,
    Protection,
)
from kite_gateway.core.orders.square_off import ExitResult, SquareOffResult, SquareOffs
from kite_gateway.core.orders.status import is_final
from kite_gateway.core.orders.trading import OrderActions
from kite_gateway.core.orders.validation import CLIENT_ORDER_ID, check_client_order_id, check_tradable, fingerprint

__all__ = [
    "AUDIT_ACTION_PLACE_ORDER",
    "CLIENT_ORDER_ID",
    "Audit",
    "BasketLegResult",
    "BasketMargin",
    "BasketRequest",
    "BasketResult",
    "Baskets",
    "CancelAll",
    "CancelAllResult",
    "Cancellation",
    "DuplicateAction",
    "DuplicateFound",
    "DuplicateOrders",
    "ExitLeg",
    "ExitOrders",
    "ExitRequests",
    "ExitResult",
    "ExitScope",
    "Fill",
    "FillCharges",
    "GttTriggers",
    "IdempotentPlacement",
    "KillSwitchActions",
    "KiteAlertBook",
    "LegResult",
    "LegStatus",
    "MarginPreview",
    "Members",
    "Modification",
    "NewOrder",
    "OrderAccounts",
    "OrderActions",
    "OrderDispatch",
    "OrderParams",
    "OrderQueries",
    "OrderState",
    "OrderTarget",
    "Placed",
    "Policy",
    "Protection",
    "RequestOnce",
    "ScopeResolver",
    "SquareOffResult",
    "SquareOffs",
    "StrategyOrders",
    "check_client_order_id",
    "check_tradable",
    "exit_client_order_id",
    "fingerprint",
    "is_final",
]
