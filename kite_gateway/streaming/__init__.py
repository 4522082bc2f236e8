"""Streaming: one upstream Kite ticker per account, fanned out to any number of subscribers."""

from kite_gateway.streaming.fanout import Mailbox
from kite_gateway.streaming.order_streams import OrderUpdates
from kite_gateway.streaming.postbacks import PostbackIntake
from kite_gateway.streaming.price_watch import PriceWatch
from kite_gateway.streaming.tick_streams import (
    AccountTicks,
    AccountTickStats,
    ConnectionStats,
    TickerChoice,
    TickStreams,
)
from kite_gateway.streaming.ticks import LEVEL_OF_MODE, SubscriptionOutcome, SubscriptionState, TickLevel, UpstreamState
from kite_gateway.streaming.upstream import Callbacks, Ticker, TickerFactory, UpstreamConnection

__all__ = [
    "LEVEL_OF_MODE",
    "AccountTickStats",
    "AccountTicks",
    "Callbacks",
    "ConnectionStats",
    "Mailbox",
    "OrderUpdates",
    "PostbackIntake",
    "PriceWatch",
    "SubscriptionOutcome",
    "SubscriptionState",
    "TickLevel",
    "TickStreams",
    "Ticker",
    "TickerChoice",
    "TickerFactory",
    "UpstreamConnection",
    "UpstreamState",
]
