"""Streaming: one upstream Kite ticker per account, fanned out to any number of subscribers."""

from kite_gateway.streaming.fanout import Mailbox
from kite_gateway.streaming.order_streams import OrderUpdates
from kite_gateway.streaming.postbacks import PostbackIntake
from kite_gateway.streaming.tick_streams import AccountTicks, ConnectionStats, TickStreams
from kite_gateway.streaming.ticks import SubscriptionOutcome, TickLevel, UpstreamState

__all__ = [
    "AccountTicks",
    "ConnectionStats",
    "Mailbox",
    "OrderUpdates",
    "PostbackIntake",
    "SubscriptionOutcome",
    "TickLevel",
    "TickStreams",
    "UpstreamState",
]
