"""Any replica answers any RPC: a call for an account another replica owns is forwarded to that
owner over internal gRPC, transparently, with the caller's principal carried.

`Forwarding(...).interceptor(principals)` is the last server interceptor. It wraps each API method's
handler, so that it sees the decoded request and the account it names, and either runs the local
handler or forwards the call (kite_gateway.grpc.forwarding_routes says which methods go where):

- the entry replica authenticates the caller, checks the request's limits and forwards it with the
  caller's sealed principal (kite_gateway.grpc.forwarded_principal) and the caller's remaining
  deadline; the owner authorizes the principal as if it had called directly. A call is forwarded
  at most once: a forwarded call for an account its receiver does not own any more is answered
  UNAVAILABLE, never forwarded again.
- the owner's answer passes through unchanged: its messages (as bytes, not decoded again), its
  status code, message and details (ErrorInfo, BadRequest, RetryInfo, ...), and its metadata.
- while the account is moving (no owner) or its owner cannot be reached: UNAVAILABLE with a
  RetryInfo of RETRY_AFTER seconds and a message saying so; never INTERNAL or UNKNOWN.
- every answer carries the initial metadata `x-kg-served-by: <replica>` (where it ran), and
  `x-kg-forwarded-by: <replica>` when it was forwarded; a bulk call split over owners names each.

Without Forwarding (the single-process default) nothing of this runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, NoReturn, Protocol

import grpc
import structlog
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from kite_gateway_api.v1 import errors_pb2, order_pb2

from kite_gateway.auth import Principals, accounts_named, authorize
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.grpc.forwarded_principal import (
    FORWARDED_BY,
    SERVED_BY,
    Caller,
    PrincipalSeal,
    forwarded_caller,
    is_forwarded,
)
from kite_gateway.grpc.forwarding_routes import (
    ANNOUNCING_METHODS,
    ANYWHERE_WHEN_UNOWNED,
    LOCAL_METHODS,
    Route,
    api_methods,
    route_of,
)
from kite_gateway.grpc.forwarding_subscriptions import Subscriptions, announced
from kite_gateway.grpc.registry import Undecodable
from kite_gateway.grpc.request_limits import MAX_REQUEST_BYTES, check_request
from kite_gateway.grpc.status import STATUS_DETAILS_KEY, abort, failure_pb

log = structlog.get_logger(__name__)

RETRY_AFTER = 1.0  # seconds: about the time a lease takes to move
# Seconds an owner has to answer a call that may run anywhere when it does not (ANYWHERE_WHEN_UNOWNED):
# an owner cut off silently (packets dropped) must not use up the caller's whole deadline.
OWNER_FIRST = 3.0
# The ErrorInfo reason of "the account's owner is not reachable right now".
MOVING_REASON = Reason.ACCOUNT_MOVING
CHANNEL_CLOSE_GRACE = 30.0  # an evicted channel's calls get this long to finish

# Internal channels: answers as large as the owner sends (the entry's caller set no smaller limit
# on this path), keepalive that notices a dead owner within seconds, and quick reconnection to a
# restarted one.
CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", MAX_REQUEST_BYTES),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1_000),
)

# Metadata that belongs to one hop: never copied from the caller to the owner, or back.
_HOP_KEYS = frozenset({"authorization", "content-type", "user-agent", "te", "grpc-timeout"})
# Codes a broken connection, or a replica not serving yet, shows; with no status details from the
# owner's gateway they mean "not reached", not an answer.
_TRANSPORT_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNKNOWN, grpc.StatusCode.CANCELLED, grpc.StatusCode.INTERNAL}
)

Metadata = Sequence[tuple[str, str | bytes]]
Local = Callable[[Any, grpc.aio.ServicerContext], Any]


class OwnerLookup(Protocol):
    """Who owns an account (the lease keeper answers)."""

    def local(self, account_id: str) -> bool:
        """Whether this replica owns the account now. True also for an account the cluster does not
        know at all, so that the local servicer answers NOT_FOUND."""
        ...

    async def address(self, account_id: str) -> str | None:
        """The owner's internal gRPC address (host:port); None while the account is moving or unowned."""
        ...

    async def replica_address(self, replica_id: str) -> str | None:
        """A live replica's internal gRPC address; None for one that is not part of the cluster now."""
        ...

    async def replicas(self) -> dict[str, str]:
        """Every live replica's internal gRPC address, by replica id (this one's included)."""
        ...

    async def retry_after(self, account_id: str) -> float:
        """Seconds until a call for the account can reach a new owner when its owner cannot be
        reached now (its lease has to run out and be taken)."""
        ...


def _caller_metadata(metadata: Metadata | None) -> list[tuple[str, str | bytes]]:
    """The caller's metadata worth carrying to the owner (not its token, not hop-by-hop keys)."""
    return [
        (key, value)
        for key, value in metadata or ()
        if key not in _HOP_KEYS and not key.startswith((":", "grpc-", "x-kg-"))
    ]


def _answer_metadata(metadata: Metadata | None) -> list[tuple[str, str | bytes]]:
    """The owner's answer metadata to pass on to the caller."""
    return [
        (key, value)
        for key, value in metadata or ()
        if key not in _HOP_KEYS
        and not key.startswith(":")
        and (key == STATUS_DETAILS_KEY or not key.startswith("grpc-"))
    ]


def _status_details(error: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    raw = dict(error.trailing_metadata() or ()).get(STATUS_DETAILS_KEY)
    return status_pb2.Status.FromString(raw) if isinstance(raw, bytes) else None


def _unreached(error: grpc.aio.AioRpcError) -> bool:
    """Whether a failed forwarded call never got the owner's answer (a transport failure, or a
    replica not serving) rather than a failure the owner reported."""
    if STATUS_DETAILS_KEY in dict(error.trailing_metadata() or ()):
        return False
    answered = SERVED_BY in dict(error.initial_metadata() or ())
    if error.code() is grpc.StatusCode.INTERNAL and answered:
        return False  # the owner's own internal error, with its error id
    return error.code() in _TRANSPORT_CODES


def moving(account_id: str, why: str, retry_after: float = RETRY_AFTER) -> GatewayError:
    return GatewayError(
        Status.UNAVAILABLE,
        MOVING_REASON,
        f"account {account_id}: {why}; retry in {retry_after:.0f} s (calls that create something are "
        "safe to retry with the same client_order_id)",
        {"account_id": account_id},
        retry_after=retry_after,
    )


def _unreachable(account_id: str, address: str, error: grpc.aio.AioRpcError, retry_after: float) -> GatewayError:
    detail = (error.details() or error.code().name)[:200]
    log.warning("forwarding.owner_unreachable", account_id=account_id, owner=address, code=error.code().name)
    return moving(
        account_id,
        f"its owner replica at {address} cannot be reached ({detail}); the cluster moves the account to "
        "another replica if that one is gone",
        retry_after,
    )


def failure_of(error: grpc.aio.AioRpcError) -> errors_pb2.Failure:
    """The failure of part of a call (a bulk leg) as the owner answered it."""
    failure = errors_pb2.Failure(code=error.code().value[0], message=error.details() or "")
    status = _status_details(error)
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            with contextlib.suppress(ValueError):  # a reason this version does not know: unspecified
                failure.reason = errors_pb2.ErrorReason.Value(f"ERROR_REASON_{info.reason}")
            failure.metadata.update(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            detail.Unpack(failure.bad_request)
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            detail.Unpack(failure.retry_info)
    return failure


def _passing(serializer: Callable[[Any], bytes] | None) -> Callable[[Any], bytes]:
    """A response serializer that passes an owner's already-serialized answer through."""

    def serialize(response: Any) -> bytes:
        if isinstance(response, bytes) or serializer is None:
            return bytes(response)
        return serializer(response)

    return serialize


class Forwarding:
    """Forwards calls for accounts another replica owns (see the module's description).

    `owners` says who owns an account; `secret` (the same on every replica) signs the forwarded
    principal, required with caller authentication on; `replica_id` names this replica in the
    answers' metadata; `credentials` for TLS between replicas (insecure channels otherwise);
    `local_methods` are served where they arrive."""

    def __init__(
        self,
        owners: OwnerLookup,
        secret: bytes | None,
        *,
        replica_id: str,
        credentials: grpc.ChannelCredentials | None = None,
        local_methods: Iterable[str] = LOCAL_METHODS,
        channel_options: Sequence[tuple[str, Any]] = CHANNEL_OPTIONS,
        max_channels: int = 32,
    ) -> None:
        self.owners = owners
        self.secret = secret
        self.replica_id = replica_id
        self.credentials = credentials
        self.local_methods = frozenset(local_methods)
        self.channel_options = tuple(channel_options)
        self.max_channels = max_channels
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def seal(self, principals: Principals | None) -> PrincipalSeal:
        return PrincipalSeal(self.secret, principals)

    def interceptor(self, principals: Principals | None) -> grpc.aio.ServerInterceptor:
        """The server interceptor (last in the chain) for a gateway authenticating with `principals`.
        ValueError when authentication is on and there is no secret."""
        return ForwardingInterceptor(self, self.seal(principals), principals)

    def channel(self, address: str) -> grpc.aio.Channel:
        """The channel to an owner (one per address, the least recently used closed beyond max_channels)."""
        channel = self._channels.pop(address, None)
        if channel is None:
            if self.credentials is None:
                channel = grpc.aio.insecure_channel(address, options=self.channel_options)
            else:
                channel = grpc.aio.secure_channel(address, self.credentials, options=self.channel_options)
            if len(self._channels) >= self.max_channels:
                oldest = next(iter(self._channels))
                self._close_later(self._channels.pop(oldest))
        self._channels[address] = channel
        return channel

    def _close_later(self, channel: grpc.aio.Channel) -> None:
        task = asyncio.get_running_loop().create_task(channel.close(CHANNEL_CLOSE_GRACE))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Close every channel (calls still forwarded are cancelled)."""
        channels, self._channels = list(self._channels.values()), {}
        await asyncio.gather(*(channel.close() for channel in channels), *self._closing, return_exceptions=True)


class ForwardingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, forwarding: Forwarding, seal: PrincipalSeal, principals: Principals | None) -> None:
        self.forwarding = forwarding
        self.owners = forwarding.owners
        self.seal = seal
        self.principals = principals
        self.served_by = ((SERVED_BY, forwarding.replica_id),)
        self.methods = {
            path: (method, route_of(method, forwarding.local_methods)) for path, method in api_methods().items()
        }
        self.subscriptions = Subscriptions(self, RETRY_AFTER)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        known = self.methods.get(details.method)
        if handler is None or known is None or handler.request_streaming:
            return handler
        method, route = known
        serializer = _passing(handler.response_serializer)
        if handler.response_streaming:
            return handler._replace(
                unary_stream=self._streaming(method, route, handler.unary_stream), response_serializer=serializer
            )
        if route is Route.PER_OWNER:
            wrapped = self._split(method, handler.unary_unary)
        elif route is Route.HOLDER:
            wrapped = self.subscriptions.holder(method, handler.unary_unary)
        elif route is Route.EVERY_REPLICA:
            wrapped = self.subscriptions.every_replica(method, handler.unary_unary)
        else:
            wrapped = self._unary(method, route, handler.unary_unary)
        return handler._replace(unary_unary=wrapped, response_serializer=serializer)

    # -- deciding where a call runs --------------------------------------------------------------

    def _opened(self, method: MethodDescriptor, request: Any, metadata: Metadata) -> bool:
        """Whether the call was forwarded to this replica (its seal verified and its principal set)."""
        if not is_forwarded(metadata):
            return False
        accounts, body = (accounts_named(request), _body(request)) if isinstance(request, Message) else ([], b"")
        forwarded_caller.set(self.seal.open(metadata, method.full_name, accounts, body))
        return True

    async def _owner_of(
        self, method: MethodDescriptor, route: Route, request: Any, context: grpc.aio.ServicerContext
    ) -> tuple[str, Caller] | None:
        """Where a call runs: None here, else the owner's address and the caller to carry there.
        GatewayError when it can run nowhere now, or when the caller is refused at the door."""
        forwarded = self._opened(method, request, context.invocation_metadata())
        if route is Route.LOCAL or isinstance(request, Undecodable):
            return None
        accounts = accounts_named(request)
        if not accounts:
            return None
        if route is Route.OWNER:
            (account,) = accounts
            anywhere = method.full_name in ANYWHERE_WHEN_UNOWNED
            if self.owners.local(account):
                return None
            if forwarded:  # never forwarded twice
                if anywhere:
                    return None
                raise moving(account, f"it moved away from replica {self.forwarding.replica_id} while the call was "
                             "being forwarded to it")  # fmt: skip
            caller = self._admitted(method, request, context)
            address = await self.owners.address(account)
            if address is None:
                if anywhere:
                    return None
                raise moving(account, "it is moving between replicas (its owner is starting or handing it over)")
            return address, caller
        # ONE_OWNER: a read any replica may run, forwarded only when one other replica owns every account.
        if forwarded or any(self.owners.local(account) for account in accounts):
            return None
        addresses = {await self.owners.address(account) for account in accounts}
        if len(addresses) != 1 or None in addresses:
            return None
        return str(addresses.pop()), self._admitted(method, request, context)

    def _admitted(
        self, method: MethodDescriptor, request: Any, context: grpc.aio.ServicerContext, authorized: bool = False
    ) -> Caller:
        """Authenticate the caller here (and check the request's limits, and with `authorized` its
        permissions), as the owner would, before anything leaves this replica."""
        caller, principal = self.seal.caller(context.invocation_metadata(), str(context.peer()))
        check_request(request)
        if authorized and self.principals is not None:
            authorize(principal, method.full_name, request)
        return caller

    # -- calling the owner ------------------------------------------------------------------------

    def _outgoing(
        self, method: MethodDescriptor, request: Message, context: grpc.aio.ServicerContext, caller: Caller
    ) -> list[tuple[str, str | bytes]]:
        return [
            *_caller_metadata(context.invocation_metadata()),
            *self.seal.metadata(caller, method.full_name, accounts_named(request), _body(request)),
        ]

    def _path(self, method: MethodDescriptor) -> str:
        return f"/{method.containing_service.full_name}/{method.name}"

    async def _call_owner(
        self,
        address: str,
        method: MethodDescriptor,
        request: Message,
        context: grpc.aio.ServicerContext,
        caller: Caller,
        within: float | None = None,
        *,
        at_most: float | None = None,
    ) -> tuple[bytes, Metadata, Metadata]:
        """The owner's answer (bytes) and its initial and trailing metadata; AioRpcError as it failed.
        Within the caller's remaining deadline, or `within` seconds; and at most `at_most` seconds."""
        timeout = context.time_remaining() if within is None else within
        if at_most is not None:
            timeout = at_most if timeout is None else min(timeout, at_most)
        call = self.forwarding.channel(address).unary_unary(self._path(method))(
            request.SerializeToString(),
            metadata=self._outgoing(method, request, context, caller),
            timeout=timeout,
        )
        try:
            reply = await call
        except asyncio.CancelledError:
            call.cancel()
            raise
        return reply, await call.initial_metadata(), await call.trailing_metadata()

    async def _wait_for(self, account_id: str) -> float:
        """The retry delay for an account whose owner was not reached: until its lease can move."""
        try:
            return max(RETRY_AFTER, await self.owners.retry_after(account_id))
        except GatewayError:  # the database is not answering either
            return RETRY_AFTER

    async def _refuse(self, context: grpc.aio.ServicerContext, error: GatewayError) -> NoReturn:
        """End a call this replica answers itself."""
        await context.send_initial_metadata(self.served_by)
        await abort(context, error)
        raise AssertionError("unreachable: abort raises")

    async def _relay_failure(
        self, context: grpc.aio.ServicerContext, error: grpc.aio.AioRpcError, address: str, account_id: str
    ) -> NoReturn:
        """End the call as the owner's failure ended it (or UNAVAILABLE when the owner was not reached)."""
        if _unreached(error):
            await self._refuse(context, _unreachable(account_id, address, error, await self._wait_for(account_id)))
        await context.send_initial_metadata(self._relayed(error.initial_metadata()))
        await context.abort(error.code(), error.details() or "", tuple(_answer_metadata(error.trailing_metadata())))
        raise AssertionError("unreachable: abort raises")

    def _relayed(self, initial: Metadata | None) -> list[tuple[str, str | bytes]]:
        return [*_answer_metadata(initial), (FORWARDED_BY, self.forwarding.replica_id)]

    async def _pass_back(self, context: grpc.aio.ServicerContext, initial: Metadata, trailing: Metadata) -> None:
        """The owner's answer metadata, on the caller's call."""
        await context.send_initial_metadata(self._relayed(initial))
        context.set_trailing_metadata(tuple(_answer_metadata(trailing)))

    @staticmethod
    def _answered_by_owner(error: grpc.aio.AioRpcError) -> bool:
        """Whether a failed forwarded call is the other replica's answer (not a transport failure)."""
        return not _unreached(error)

    # -- the wrapped handlers ---------------------------------------------------------------------

    def _unary(self, method: MethodDescriptor, route: Route, local: Local) -> Local:
        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                owner = await self._owner_of(method, route, request, context)
            except GatewayError as exc:
                await self._refuse(context, exc)
            if owner is None:
                await context.send_initial_metadata(self.served_by)
                return await local(request, context)
            address, caller = owner
            anywhere = method.full_name in ANYWHERE_WHEN_UNOWNED
            try:
                reply, initial, trailing = await self._call_owner(
                    address, method, request, context, caller, at_most=OWNER_FIRST if anywhere else None
                )
            except grpc.aio.AioRpcError as exc:
                silent = exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED and STATUS_DETAILS_KEY not in dict(
                    exc.trailing_metadata() or ()
                )
                if anywhere and (_unreached(exc) or silent):  # its effect is stored, and binds the owner too
                    log.warning("forwarding.served_here", method=method.full_name, owner=address, code=exc.code().name)
                    await context.send_initial_metadata(self.served_by)
                    return await local(request, context)
                await self._relay_failure(context, exc, address, accounts_named(request)[0])
            await self._pass_back(context, initial, trailing)
            return reply

        return unary

    def _streaming(self, method: MethodDescriptor, route: Route, local: Local) -> Local:
        # A tick stream served where it arrived announces an id naming this replica (forwarding_subscriptions).
        announcing = route is Route.LOCAL and method.full_name in ANNOUNCING_METHODS

        async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                owner = await self._owner_of(method, route, request, context)
            except GatewayError as exc:
                await self._refuse(context, exc)
            if owner is None:
                await context.send_initial_metadata(self.served_by)
                first = announcing
                async for item in local(request, context):
                    if first:
                        item, first = announced(item, self.forwarding.replica_id), False
                    yield item
                return
            address, caller = owner
            account = accounts_named(request)[0]
            call = self.forwarding.channel(address).unary_stream(self._path(method))(
                request.SerializeToString(),
                metadata=self._outgoing(method, request, context, caller),
                timeout=context.time_remaining(),
            )
            relayed = False
            try:
                initial = await call.initial_metadata()
                if SERVED_BY in dict(initial or ()):  # the owner answered (else the call failed first)
                    await context.send_initial_metadata(self._relayed(initial))
                    relayed = True
                async for item in call:
                    yield item
                context.set_trailing_metadata(tuple(_answer_metadata(await call.trailing_metadata())))
            except grpc.aio.AioRpcError as exc:
                if not relayed:
                    await self._relay_failure(context, exc, address, account)
                if _unreached(exc):  # the owner went away during the stream: resume elsewhere
                    await abort(context, _unreachable(account, address, exc, await self._wait_for(account)))
                await context.abort(exc.code(), exc.details() or "", tuple(_answer_metadata(exc.trailing_metadata())))
            finally:
                call.cancel()

        return streaming

    def _split(self, method: MethodDescriptor, local: Local) -> Local:
        """PlaceBulkOrders: each owner runs its accounts' legs; the results in request order."""
        response_class: Any = message_factory.GetMessageClass(method.output_type)

        async def split(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                plan = await self._leg_owners(method, request, context)
            except GatewayError as exc:
                await self._refuse(context, exc)
            if plan is None:
                await context.send_initial_metadata(self.served_by)
                return await local(request, context)
            groups, caller = plan
            legs = list(request.legs)
            results: list[order_pb2.BulkOrderLegResult | None] = [None] * len(legs)
            served: set[str] = set()

            def place(indices: list[int], replies: Iterable[order_pb2.BulkOrderLegResult]) -> None:
                for index, result in zip(indices, replies, strict=True):
                    results[index] = result

            def fail(indices: list[int], failure: errors_pb2.Failure) -> None:
                place(indices, (_leg_failure(legs[i], failure) for i in indices))

            async def run(address: str | None, indices: list[int]) -> None:
                part = type(request)(legs=[legs[i] for i in indices])
                if address == "":
                    reply = await local(part, context)
                    served.add(self.forwarding.replica_id)
                    place(indices, reply.results)
                    return
                if address is None or caller is None:
                    account = legs[indices[0]].account_id
                    fail(indices, failure_pb(moving(account, "it is moving between replicas")))
                    return
                try:
                    raw, initial, _ = await self._call_owner(address, method, part, context, caller)
                except grpc.aio.AioRpcError as exc:
                    account = legs[indices[0]].account_id
                    unreached = _unreached(exc)
                    if unreached:
                        fail(indices, failure_pb(_unreachable(account, address, exc, await self._wait_for(account))))
                    else:
                        fail(indices, failure_of(exc))
                    return
                served.update(_text(v) for k, v in initial if k == SERVED_BY)
                place(indices, response_class.FromString(raw).results)

            tasks = [asyncio.ensure_future(run(address, indices)) for address, indices in groups.items()]
            try:
                await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()
            names = ",".join(sorted(served)) or self.forwarding.replica_id
            await context.send_initial_metadata(((SERVED_BY, names), (FORWARDED_BY, self.forwarding.replica_id)))
            return response_class(results=results)

        return split

    async def _leg_owners(
        self, method: MethodDescriptor, request: Any, context: grpc.aio.ServicerContext
    ) -> tuple[dict[str | None, list[int]], Caller | None] | None:
        """The legs' indices by owner address ("" here, None moving); None when all run here."""
        forwarded = self._opened(method, request, context.invocation_metadata())
        if isinstance(request, Undecodable):
            return None
        owner: dict[str, str | None] = {}
        for leg in request.legs:
            if leg.account_id not in owner:
                here = not leg.account_id or self.owners.local(leg.account_id)
                owner[leg.account_id] = "" if here else None
        if all(address == "" for address in owner.values()):
            return None
        caller = None
        if not forwarded:  # the whole request is admitted here, as it would be by one replica
            caller = self._admitted(method, request, context, authorized=True)
            for account, address in owner.items():
                if address is None:
                    owner[account] = await self.owners.address(account)
        groups: dict[str | None, list[int]] = {}
        for index, leg in enumerate(request.legs):
            groups.setdefault(owner[leg.account_id], []).append(index)
        return groups, caller


def _body(request: Message) -> bytes:
    """What the seal signs of a request: its deterministic serialization (the same on the entry
    replica and on the owner, which decoded what the entry sent)."""
    return request.SerializeToString(deterministic=True)


def _text(value: str | bytes) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _leg_failure(leg: order_pb2.BulkOrderLeg, failure: errors_pb2.Failure) -> order_pb2.BulkOrderLegResult:
    return order_pb2.BulkOrderLegResult(account_id=leg.account_id, client_order_id=leg.client_order_id, failure=failure)
