"""Where each API method runs in a cluster: on any replica, or on the owner of the account it names.

Derived from the service descriptors, so that a new RPC cannot escape the rule unnoticed (a test
holds the whole table):

- OWNER: the request names one account (`account_id`): orders and their queries, GTT, the kill
  switch of an account, Kite reads (quotes, history, instruments, profile, margins, portfolio),
  the audit trail, the account itself. The owner holds its session, its rate limits, its order
  sequence and its kill switch; a request whose account_id is empty runs where it arrived (the
  gateway-wide kill switch, or the servicer's INVALID_ARGUMENT).
- LOCAL: served on any replica: the live streams, fed by the cluster's fan-out bus (LOCAL_METHODS),
  and every method that names no account (listing accounts, logins, adding an account, the market
  calendar). A tick stream's subscription_id names the replica holding it
  (kite_gateway.grpc.forwarding_subscriptions).
- HOLDER: a change of a live stream's subscription (UpdateSubscription): run on the replica that
  holds the stream, which its subscription_id names, wherever the call arrived.
- EVERY_REPLICA: the caller's subscriptions on an account (ListSubscriptions): every live replica
  answers for the streams it holds, and the entry merges them.
- PER_OWNER: a bulk write (`legs`, PlaceBulkOrders): the legs are split by owner, each part runs on
  its owner, and the results come back in request order; legs whose account is moving get their
  own UNAVAILABLE failure, as a failed leg never aborts the others.
- ONE_OWNER: a multi-account read (`account_ids`, GetConsolidatedPortfolio): forwarded when one
  other replica owns every account it names, else run where it arrived (any replica reads any
  account's Kite data with the session it shares).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from google.protobuf.descriptor import MethodDescriptor

from kite_gateway.grpc.registry import API_SERVICES


class Route(enum.Enum):
    LOCAL = "any replica"
    OWNER = "the account's owner"
    PER_OWNER = "each leg's owner"
    ONE_OWNER = "the owner of every account, else any replica"
    HOLDER = "the replica holding the stream its subscription_id names"
    EVERY_REPLICA = "every live replica, merged"


# Served on any replica from the fan-out bus: ticks and order updates reach every replica.
LOCAL_METHODS: frozenset[str] = frozenset(
    {
        "kite_gateway.v1.MarketDataService.StreamTicks",
        "kite_gateway.v1.MarketDataService.UpdateSubscription",
        "kite_gateway.v1.MarketDataService.ListSubscriptions",
        "kite_gateway.v1.OrderService.StreamOrderUpdates",
    }
)


# OWNER methods whose effect is stored and binds every replica (the kill switch: the statement that
# records a send refuses it while a switch is stored engaged): on the owner when it can be reached,
# else where they arrive, so that an emergency stop is never told to retry later while its account
# moves between replicas or its owner is cut off from this replica.
ANYWHERE_WHEN_UNOWNED: frozenset[str] = frozenset({"kite_gateway.v1.OrderService.SetKillSwitch"})

# Of the local methods, those about the tick streams' subscriptions, wherever the streams are held.
SUBSCRIPTION_ROUTES: dict[str, Route] = {
    "kite_gateway.v1.MarketDataService.UpdateSubscription": Route.HOLDER,
    "kite_gateway.v1.MarketDataService.ListSubscriptions": Route.EVERY_REPLICA,
}
# Of the local methods, the stream that announces a subscription_id in its first message.
ANNOUNCING_METHODS: frozenset[str] = frozenset({"kite_gateway.v1.MarketDataService.StreamTicks"})


def route_of(method: MethodDescriptor, local_methods: Iterable[str] = LOCAL_METHODS) -> Route:
    fields = method.input_type.fields_by_name
    if method.full_name in frozenset(local_methods):
        return SUBSCRIPTION_ROUTES.get(method.full_name, Route.LOCAL)
    if "account_id" in fields:
        return Route.OWNER
    if "legs" in fields:
        return Route.PER_OWNER
    if "account_ids" in fields:
        return Route.ONE_OWNER
    return Route.LOCAL


def api_methods() -> dict[str, MethodDescriptor]:
    """Every API method by its gRPC path (/package.Service/Method)."""
    return {f"/{s.full_name}/{method.name}": method for s in API_SERVICES for method in s.descriptor.methods}


def routes(local_methods: Iterable[str] = LOCAL_METHODS) -> dict[str, Route]:
    """The route of every API method, by full name (package.Service.Method)."""
    local = frozenset(local_methods)
    return {method.full_name: route_of(method, local) for method in api_methods().values()}
