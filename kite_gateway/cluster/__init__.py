"""The clustered mode: replicas sharing the database and a NATS bus (live ticks and order-update
wake-ups across replicas)."""

from kite_gateway.cluster.bus import Bus, Subscription, account_of, every_account, subject
from kite_gateway.cluster.tick_relay import BusTicker, TickRelay
from kite_gateway.cluster.update_relay import UpdateRelay

__all__ = [
    "Bus",
    "BusTicker",
    "Subscription",
    "TickRelay",
    "UpdateRelay",
    "account_of",
    "every_account",
    "subject",
]
