"""The clustered mode: several replicas over one PostgreSQL database and one NATS server. Leases
say which replica owns which account (kite_gateway/cluster/lease_keeper.py)."""

from kite_gateway.cluster.fencing import AccountFence
from kite_gateway.cluster.lease_keeper import LeaseKeeper
from kite_gateway.cluster.membership import Membership

__all__ = ["AccountFence", "LeaseKeeper", "Membership"]
