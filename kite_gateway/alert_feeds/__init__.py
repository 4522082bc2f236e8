"""The gateway alerts' feeds: adapters that turn what the running gateway's parts report into the
alert engine's events (kite_gateway/core/alerts/events.py) and hand each to an injected `emit`
(the alert center's `offer`: synchronous, non-blocking). A feed never raises into, nor blocks,
the part that reported (outlet.py). Listeners hooked into a part: orders (OrderUpdateFeed.on_stored),
duplicates (DuplicateOrders.listeners), risk refusals (PreTradeRisk and KillSwitches
`refusal_listeners`), P&L and margins (ExitWatch.mark_listeners). Pollers, run as tasks: sessions
(AccountManager) and tickers (TickStreams.stats). Prices: an internal subscriber on an active
account's tick hub (prices.py). Wired in kite_gateway/app.py."""

from kite_gateway.alert_feeds.duplicates import DuplicateAlerts
from kite_gateway.alert_feeds.orders import OrderAlerts
from kite_gateway.alert_feeds.outlet import Emit, Outlet
from kite_gateway.alert_feeds.pnl import ExitAlerts, PnlAlerts
from kite_gateway.alert_feeds.polling import DEFAULT_INTERVAL, Sleep
from kite_gateway.alert_feeds.prices import PriceAlerts, TickQuote, price_instruments
from kite_gateway.alert_feeds.refusals import RefusalAlerts
from kite_gateway.alert_feeds.sessions import SessionAlerts
from kite_gateway.alert_feeds.ticker import TickerAlerts

__all__ = [
    "DEFAULT_INTERVAL",
    "DuplicateAlerts",
    "Emit",
    "ExitAlerts",
    "OrderAlerts",
    "Outlet",
    "PnlAlerts",
    "PriceAlerts",
    "RefusalAlerts",
    "SessionAlerts",
    "Sleep",
    "TickQuote",
    "TickerAlerts",
    "price_instruments",
]
