"""Tick subscriptions in a cluster: a stream is held by the replica it was opened on (its mailbox is
there), and its caller reaches it through any replica.

- StreamTicks' SubscriptionStarted announces `<replica>~<id>`: the id of the replica holding the
  stream, SEPARATOR (never in a replica id: letters, digits, . _ -; and unreserved in URLs), and
  the servicer's own id. Callers treat it as opaque. Without Forwarding (the single-process
  default) ids are the servicer's, unchanged.
- UpdateSubscription runs on the replica its id names: here (without the prefix), or forwarded there
  once with the caller's sealed principal, so that the holder checks the caller is the stream's own
  exactly as for a direct call (NOT_FOUND otherwise). An id naming a replica that is no longer in
  the cluster (it left, or its lease time ran out): NOT_FOUND, the stream ended with its replica.
  A holder still in the cluster's table but not reachable: UNAVAILABLE with a RetryInfo (a retry
  reaches it, or finds it gone). An id not of this form names no stream (NOT_FOUND): not even the
  servicer's own id is accepted, so that an id works through every replica or through none.
- ListSubscriptions: the caller's streams here and on every other live replica (each asked with
  the caller's principal, within PEER_TIMEOUT or the caller's deadline if shorter), merged in order
  of start, with the account's upstream connections as the replica holding them reports them. A
  replica that does not answer in time fails the whole call UNAVAILABLE with a RetryInfo, naming
  it: a list silently missing a replica's streams would be wrong (the response has no field to
  mark it incomplete), and a replica that is gone leaves the table within its lease's time, after
  which the retry answers. A replica that does not know the account holds none of its streams (its
  NOT_FOUND counts as none); any other failure of a replica is the call's, as that replica gave it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, NoReturn

import grpc
import structlog
from google.protobuf.descriptor import MethodDescriptor
from kite_gateway_api.v1 import market_data_pb2

from kite_gateway.auth import authorize
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.grpc.forwarded_principal import FORWARDED_BY, SERVED_BY, Caller, forwarded_caller
from kite_gateway.grpc.registry import Undecodable

if TYPE_CHECKING:
    from kite_gateway.grpc.forwarding import ForwardingInterceptor, Local

log = structlog.get_logger(__name__)

SEPARATOR = "~"
PEER_TIMEOUT = 3.0  # seconds another replica gets to list its subscriptions
_DEADLINE_SHARE = 0.8  # of a shorter caller deadline, so that the caller hears which replica was silent


def qualified(replica_id: str, subscription_id: str) -> str:
    """The id callers see for a subscription the replica `replica_id` holds."""
    return f"{replica_id}{SEPARATOR}{subscription_id}"


def holder_of(subscription_id: str) -> tuple[str, str] | None:
    """(replica, the servicer's id) of an id callers were given; None for an id of no replica's form."""
    replica, separator, local = subscription_id.partition(SEPARATOR)
    return (replica, local) if separator and replica else None


def announced(item: Any, replica_id: str) -> Any:
    """A StreamTicks message (serialized or not) with its SubscriptionStarted's id qualified."""
    raw = isinstance(item, bytes)
    message = market_data_pb2.StreamTicksResponse.FromString(item) if raw else item
    if not isinstance(message, market_data_pb2.StreamTicksResponse) or message.WhichOneof("event") != "started":
        return item
    rewritten = market_data_pb2.StreamTicksResponse()
    rewritten.CopyFrom(message)
    rewritten.started.subscription_id = qualified(replica_id, message.started.subscription_id)
    return rewritten.SerializeToString() if raw else rewritten


def _ended(account_id: str, subscription_id: str, replica: str) -> GatewayError:
    return GatewayError(
        Status.NOT_FOUND,
        Reason.INVALID_FIELD,
        f"no live subscription {subscription_id!r} on account {account_id}: its stream ended with its replica "
        f"{replica}, which is no longer part of the cluster (open a new StreamTicks)",
        {"account_id": account_id, "replica": replica},
    )


def _unknown(account_id: str, subscription_id: str) -> GatewayError:
    return GatewayError(
        Status.NOT_FOUND,
        Reason.INVALID_FIELD,
        f"no live subscription {subscription_id!r} on account {account_id}: pass the subscription_id as the "
        "stream's SubscriptionStarted announced it",
        {"account_id": account_id},
    )


def _not_here(account_id: str, subscription_id: str, replica_id: str) -> GatewayError:
    return GatewayError(
        Status.NOT_FOUND,
        Reason.INVALID_FIELD,
        f"no live subscription {subscription_id!r} on account {account_id} at replica {replica_id}, the one it "
        "was forwarded to (replicas forward a call at most once)",
        {"account_id": account_id, "replica": replica_id},
    )


def _unreachable(what: str, replicas: dict[str, str], why: str, retry_after: float) -> GatewayError:
    named = ", ".join(f"{replica} at {address}" for replica, address in sorted(replicas.items()))
    return GatewayError(
        Status.UNAVAILABLE,
        Reason.UNSPECIFIED,
        f"{what}: replica {named} {why}; retry in {retry_after:.0f} s (a replica that is gone leaves the "
        "cluster within its lease's time, and the streams it held ended with it)",
        {"replicas": ",".join(sorted(replicas))},
        retry_after=retry_after,
    )


def _cluster_unknown(what: str, exc: Exception, retry_after: float) -> GatewayError:
    log.warning("forwarding.replicas_unknown", error=type(exc).__name__)
    return GatewayError(
        Status.UNAVAILABLE,
        Reason.UNSPECIFIED,
        f"{what}: the cluster's replicas cannot be read right now ({type(exc).__name__}); retry in {retry_after:.0f} s",
        retry_after=retry_after,
    )


def _with_id(request: market_data_pb2.UpdateSubscriptionRequest, subscription_id: str) -> Any:
    copy = market_data_pb2.UpdateSubscriptionRequest()
    copy.CopyFrom(request)
    copy.subscription_id = subscription_id
    return copy


def _listing(reply: Any) -> market_data_pb2.ListSubscriptionsResponse:
    if isinstance(reply, bytes):
        return market_data_pb2.ListSubscriptionsResponse.FromString(reply)
    assert isinstance(reply, market_data_pb2.ListSubscriptionsResponse)
    return reply


def _start(subscription: market_data_pb2.Subscription) -> tuple[int, int, str]:
    return subscription.start_time.seconds, subscription.start_time.nanos, subscription.subscription_id


class Subscriptions:
    """The HOLDER and EVERY_REPLICA handlers of a forwarding interceptor (see the module's description)."""

    def __init__(self, interceptor: ForwardingInterceptor, retry_after: float, peer_timeout: float = PEER_TIMEOUT):
        self.interceptor = interceptor
        self.retry_after = retry_after
        self.peer_timeout = peer_timeout

    @property
    def replica_id(self) -> str:
        return self.interceptor.forwarding.replica_id

    async def _refuse(self, context: grpc.aio.ServicerContext, error: GatewayError) -> NoReturn:
        await self.interceptor._refuse(context, error)

    def _qualified(self, reply: Any) -> market_data_pb2.ListSubscriptionsResponse:
        """This replica's own answer, its ids naming this replica."""
        listing = market_data_pb2.ListSubscriptionsResponse()
        listing.CopyFrom(_listing(reply))
        for subscription in listing.subscriptions:
            subscription.subscription_id = qualified(self.replica_id, subscription.subscription_id)
        return listing

    def _admitted(
        self, method: MethodDescriptor, request: Any, context: grpc.aio.ServicerContext, forwarded: bool
    ) -> Caller | None:
        """Authenticate and authorize a call this replica answers itself (the caller to carry on, or
        None for a call another replica forwarded here, whose principal its seal gave)."""
        if not forwarded:
            return self.interceptor._admitted(method, request, context, authorized=True)
        principal = forwarded_caller.get()
        if self.interceptor.principals is not None and principal is not None:
            authorize(principal, method.full_name, request)
        return None

    # UpdateSubscription -------------------------------------------------------------------------

    def holder(self, method: MethodDescriptor, local: Local) -> Local:
        interceptor = self.interceptor

        async def update(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                forwarded = interceptor._opened(method, request, context.invocation_metadata())
            except GatewayError as exc:
                await self._refuse(context, exc)
            if isinstance(request, Undecodable):  # the servicer's wrapper says what is wrong with it
                await context.send_initial_metadata(interceptor.served_by)
                return await local(request, context)
            held, account = holder_of(request.subscription_id), request.account_id
            if held is not None and held[0] == self.replica_id:  # here: NOT_FOUND for another caller's stream
                await context.send_initial_metadata(interceptor.served_by)
                return await local(_with_id(request, held[1]), context)
            try:  # who may not read the account hears so before whether the subscription exists
                caller = self._admitted(method, request, context, forwarded)
            except GatewayError as exc:
                await self._refuse(context, exc)
            if held is None:  # no stream in the cluster has such an id (a servicer's own id is never given out)
                await self._refuse(context, _unknown(account, request.subscription_id))
            if caller is None:  # forwarded here by a replica that believed this one holds it: not again
                await self._refuse(context, _not_here(account, request.subscription_id, self.replica_id))
            replica = held[0]
            try:
                address = await interceptor.owners.replica_address(replica)
            except Exception as exc:  # the cluster's table cannot be read: no answer, and never INTERNAL
                what = f"subscription {request.subscription_id!r}"
                await self._refuse(context, _cluster_unknown(what, exc, self.retry_after))
            if address is None:
                await self._refuse(context, _ended(account, request.subscription_id, replica))
            try:
                reply, initial, trailing = await interceptor._call_owner(address, method, request, context, caller)
            except grpc.aio.AioRpcError as exc:
                if not interceptor._answered_by_owner(exc):
                    detail = (exc.details() or exc.code().name)[:200]
                    log.warning("forwarding.holder_unreachable", replica=replica, address=address, code=exc.code().name)
                    what = f"subscription {request.subscription_id!r} on account {account}"
                    why = f"holds its stream and cannot be reached ({detail})"
                    await self._refuse(context, _unreachable(what, {replica: address}, why, self.retry_after))
                await interceptor._relay_failure(context, exc, address, account)
            await interceptor._pass_back(context, initial, trailing)
            return reply

        return update

    # ListSubscriptions --------------------------------------------------------------------------

    def every_replica(self, method: MethodDescriptor, local: Local) -> Local:
        interceptor = self.interceptor

        async def listing(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                forwarded = interceptor._opened(method, request, context.invocation_metadata())
            except GatewayError as exc:
                await self._refuse(context, exc)
            if forwarded or isinstance(request, Undecodable) or not request.account_id:
                await context.send_initial_metadata(interceptor.served_by)
                return self._qualified(await local(request, context))
            try:
                caller = interceptor._admitted(method, request, context)
            except GatewayError as exc:
                await self._refuse(context, exc)
            here = self._qualified(await local(request, context))  # authorized there; NOT_FOUND for a stranger
            try:
                peers = {r: a for r, a in (await interceptor.owners.replicas()).items() if r != self.replica_id}
            except Exception as exc:  # the cluster's table cannot be read: no answer, and never INTERNAL
                what = f"the subscriptions on account {request.account_id}"
                await self._refuse(context, _cluster_unknown(what, exc, self.retry_after))
            remaining = context.time_remaining()
            timeout = self.peer_timeout if remaining is None else min(self.peer_timeout, remaining * _DEADLINE_SHARE)

            async def ask(address: str) -> market_data_pb2.ListSubscriptionsResponse | grpc.aio.AioRpcError:
                try:
                    raw, _, _ = await interceptor._call_owner(address, method, request, context, caller, timeout)
                except grpc.aio.AioRpcError as exc:
                    return exc
                return market_data_pb2.ListSubscriptionsResponse.FromString(raw)

            names = sorted(peers)
            answers = await asyncio.gather(*(ask(peers[name]) for name in names))
            merged, silent, served = [here], {}, [self.replica_id]
            for name, answer in zip(names, answers, strict=True):
                if isinstance(answer, market_data_pb2.ListSubscriptionsResponse):
                    merged.append(answer)
                    served.append(name)
                elif answer.code() is grpc.StatusCode.DEADLINE_EXCEEDED or not interceptor._answered_by_owner(answer):
                    silent[name] = peers[name]
                elif answer.code() is grpc.StatusCode.NOT_FOUND:  # it does not know the account: none there
                    served.append(name)
                else:
                    await interceptor._relay_failure(context, answer, peers[name], request.account_id)
            if silent:
                log.warning("forwarding.subscriptions_incomplete", account_id=request.account_id, silent=sorted(silent))
                what = f"the subscriptions on account {request.account_id} cannot all be listed"
                why = f"could not be reached or did not answer within {timeout:.1f} s (a list without its streams "
                why += "would be wrong)"
                await self._refuse(context, _unreachable(what, silent, why, self.retry_after))
            reply = market_data_pb2.ListSubscriptionsResponse(
                subscriptions=sorted((s for part in merged for s in part.subscriptions), key=_start),
                upstream=next((part.upstream for part in merged if part.upstream), ()),
            )
            metadata = [(SERVED_BY, ",".join(sorted(served)))]
            if len(served) > 1:
                metadata.append((FORWARDED_BY, self.replica_id))
            await context.send_initial_metadata(tuple(metadata))
            return reply

        return listing
