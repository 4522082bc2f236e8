"""The clustered mode: replicas sharing one PostgreSQL database and one NATS bus. Leases say which
replica owns which account (lease_keeper.py, membership.py); the bus carries live ticks and
order-update wake-ups across replicas (bus.py, tick_relay.py, update_relay.py)."""

from kite_gateway.cluster.bus import Bus, Subscription, account_of, every_account, subject
from kite_gateway.cluster.fencing import AccountFence
from kite_gateway.cluster.lease_keeper import LeaseKeeper
from kite_gateway.cluster.membership import Membership
from kite_gateway.cluster.tick_relay import BusTicker, TickRelay
from kite_gateway.cluster.update_relay import UpdateRelay

__all__ = [
    "AccountFence",
    "Bus",
    "BusTicker",
    "LeaseKeeper",
    "Membership",
    "Subscription",
    "TickRelay",
    "UpdateRelay",
    "account_of",
    "every_account",
    "subject",
]
