"""The Kite adapter: the official `kiteconnect` client per account, off the event loop, rate-limited."""

from kite_gateway.kite.alerts import (
    AlertHistoryRow,
    AlertOrderResult,
    AlertQuote,
    AlertRow,
    AlertSpec,
    BasketOrder,
    KiteAlerts,
)
from kite_gateway.kite.autoslice import AUTOSLICE_TAG, Autosliced, SliceOutcome, slice_parent
from kite_gateway.kite.caller import LAST_CHECK, KiteCaller, KiteConnector
from kite_gateway.kite.egress import Egress, EgressConfigError, EgressMap, SharedEgress
from kite_gateway.kite.egress_checks import check_egresses
from kite_gateway.kite.errors import KiteOutcomeUnknown
from kite_gateway.kite.gtt import SINGLE, TWO_LEG, GttLeg, GttOrder, GttRow, KiteGtt
from kite_gateway.kite.limits import RateLimits, order_spacing
from kite_gateway.kite.market import Candle, DepthLevel, KiteMarket, Ohlc, OhlcQuote, Quote
from kite_gateway.kite.orders import (
    BasketMargins,
    ChargesRow,
    ContractNoteOrder,
    ContractNoteRow,
    KiteOrders,
    KiteValue,
    MarginOrder,
    MarginRow,
    Number,
    OrderRow,
    TradeRow,
    order_not_found,
)
from kite_gateway.kite.paths import ORDER_ID, preview
from kite_gateway.kite.portfolio import (
    HoldingRow,
    KitePortfolio,
    Margins,
    PositionConversion,
    PositionRow,
    Positions,
    SegmentMargins,
)
from kite_gateway.kite.user import KiteLogin, KiteUser, MarginSegment, Profile, UserMargins

__all__ = [
    "AUTOSLICE_TAG",
    "LAST_CHECK",
    "ORDER_ID",
    "SINGLE",
    "TWO_LEG",
    "AlertHistoryRow",
    "AlertOrderResult",
    "AlertQuote",
    "AlertRow",
    "AlertSpec",
    "Autosliced",
    "BasketMargins",
    "BasketOrder",
    "Candle",
    "ChargesRow",
    "ContractNoteOrder",
    "ContractNoteRow",
    "DepthLevel",
    "Egress",
    "EgressConfigError",
    "EgressMap",
    "GttLeg",
    "GttOrder",
    "GttRow",
    "HoldingRow",
    "KiteAlerts",
    "KiteCaller",
    "KiteConnector",
    "KiteGtt",
    "KiteLogin",
    "KiteMarket",
    "KiteOrders",
    "KiteOutcomeUnknown",
    "KitePortfolio",
    "KiteUser",
    "KiteValue",
    "MarginOrder",
    "MarginRow",
    "MarginSegment",
    "Margins",
    "Number",
    "Ohlc",
    "OhlcQuote",
    "OrderRow",
    "PositionConversion",
    "PositionRow",
    "Positions",
    "Profile",
    "Quote",
    "RateLimits",
    "SegmentMargins",
    "SharedEgress",
    "SliceOutcome",
    "TradeRow",
    "UserMargins",
    "check_egresses",
    "order_not_found",
    "order_spacing",
    "preview",
    "slice_parent",
]
