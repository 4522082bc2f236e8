"""Forwarding between replicas, on real gateways serving probe servicers: which methods go to the
account's owner, the caller's principal and deadline carried there, the owner's answer passed back
unchanged, UNAVAILABLE with a RetryInfo while an account is moving or its owner is gone, at most
one hop, and a forged or replayed seal refused. (tests/grpc/test_forwarding_gateways.py runs the
whole stack against the Kite simulator.)"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from kite_gateway_api.v1 import account_pb2, account_pb2_grpc, market_data_pb2, market_data_pb2_grpc

from kite_gateway.auth import Principals, current_principal, token_digest
from kite_gateway.config import Settings
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.grpc.forwarded_principal import (
    FORWARDED_PRINCIPAL,
    FORWARDED_SIGNATURE,
    HOP,
    Caller,
    PrincipalSeal,
)
from kite_gateway.grpc.forwarding import Forwarding
from kite_gateway.grpc.forwarding_routes import LOCAL_METHODS, Route, routes
from kite_gateway.grpc.server import Gateway
from kite_gateway.grpc.status import STATUS_DETAILS_KEY
from tests.e2e.conftest import eventually, status_of
from tests.grpc.forwarding_cluster import PRINCIPALS, SECRET, TOKENS, Cluster, bearer, served, served_of

ACCOUNT_SERVICE = "kite_gateway.v1.AccountService"
MARKET_SERVICE = "kite_gateway.v1.MarketDataService"
GET_PROFILE = f"{ACCOUNT_SERVICE}.GetProfile"

# Where every API method runs. A new RPC fails this test until it is placed here on purpose.
EXPECTED_ROUTES = {
    "AccountService": {
        "GetLoginUrl": Route.LOCAL, "CompleteLogin": Route.LOCAL, "AddAccount": Route.LOCAL,
        "ListAccounts": Route.LOCAL, "GetAccount": Route.OWNER, "RemoveAccount": Route.OWNER,
        "GetProfile": Route.OWNER, "GetMargins": Route.OWNER,
    },
    "OrderService": {
        "PlaceOrder": Route.OWNER, "ModifyOrder": Route.OWNER, "CancelOrder": Route.OWNER,
        "ListOrders": Route.OWNER, "GetOrderHistory": Route.OWNER, "ListTrades": Route.OWNER,
        "GetOrderMargins": Route.OWNER, "GetOrderCharges": Route.OWNER, "PlaceGtt": Route.OWNER,
        "ModifyGtt": Route.OWNER, "DeleteGtt": Route.OWNER, "ListGtts": Route.OWNER, "GetGtt": Route.OWNER,
        "CreateKiteAlert": Route.OWNER, "ModifyKiteAlert": Route.OWNER, "DeleteKiteAlerts": Route.OWNER,
        "ListKiteAlerts": Route.OWNER, "GetKiteAlert": Route.OWNER, "GetKiteAlertHistory": Route.OWNER,
        "PlaceBulkOrders": Route.PER_OWNER, "StreamOrderUpdates": Route.LOCAL, "ListAuditEvents": Route.OWNER,
        "SetKillSwitch": Route.OWNER, "GetKillSwitch": Route.OWNER, "PlaceBasket": Route.OWNER,
        "CancelAllOrders": Route.ONE_OWNER, "SquareOff": Route.ONE_OWNER,
    },
    "PortfolioService": {
        "GetPositions": Route.OWNER, "GetHoldings": Route.OWNER, "ConvertPosition": Route.OWNER,
        "GetConsolidatedPortfolio": Route.ONE_OWNER, "GetExitStatus": Route.OWNER,
    },
    "MarketDataService": {
        "GetQuote": Route.OWNER, "GetLtp": Route.OWNER, "GetOhlc": Route.OWNER, "GetHistoricalData": Route.OWNER,
        "SearchInstruments": Route.OWNER, "GetInstruments": Route.OWNER, "StreamTicks": Route.LOCAL,
        "UpdateSubscription": Route.HOLDER, "ListSubscriptions": Route.EVERY_REPLICA, "GetMarketStatus": Route.LOCAL,
        "GetTradingCalendar": Route.LOCAL,
    },
    "SignalService": {  # a strategy's legs are placed where their accounts are owned (the fence)
        "SubmitSignal": Route.LOCAL, "GetSignal": Route.LOCAL, "ListSignals": Route.LOCAL,
        "ApproveSignal": Route.LOCAL, "RejectSignal": Route.LOCAL, "ListStrategies": Route.LOCAL,
        "StreamSignals": Route.LOCAL,
    },
    "AlertService": {  # the gateway's alerts: one store and one sequence, served by any replica
        "ListAlerts": Route.LOCAL, "StreamAlerts": Route.LOCAL, "ListAlertRules": Route.LOCAL,
        "PutAlertRule": Route.LOCAL, "DeleteAlertRule": Route.LOCAL, "ListAlertDeadLetters": Route.LOCAL,
    },
    "ReportService": {  # the fill log is one store every replica reads
        "GetTradebook": Route.LOCAL, "GetPnlStatement": Route.LOCAL, "GetTaxPnl": Route.LOCAL,
        "GetDailyReport": Route.LOCAL,
    },
}  # fmt: skip


def test_every_api_method_has_a_route_and_a_new_one_fails_here_until_it_is_placed() -> None:
    expected = {
        f"kite_gateway.v1.{service}.{method}": route
        for service, methods in EXPECTED_ROUTES.items()
        for method, route in methods.items()
    }
    assert routes() == expected


def test_the_streams_fed_by_the_fan_out_bus_and_their_subscriptions_are_the_local_methods() -> None:
    assert {name.rpartition(".")[2] for name in LOCAL_METHODS} == {
        "StreamTicks",
        "UpdateSubscription",
        "ListSubscriptions",
        "StreamOrderUpdates",
    }
    assert routes(local_methods=frozenset())["kite_gateway.v1.OrderService.StreamOrderUpdates"] is Route.OWNER


# -- the probes and the replicas ------------------------------------------------------------------


@dataclass
class Seen:
    account_id: str
    principal: str
    time_remaining: float | None
    metadata: dict[str, Any]


class ProbeAccounts(account_pb2_grpc.AccountServiceServicer):
    """GetProfile says who served it and records what it saw; GetMargins fails with rich details."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[Seen] = []
        self.hold: asyncio.Event | None = None
        self.cancelled = False

    async def GetProfile(
        self, request: account_pb2.GetProfileRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.GetProfileResponse:
        principal = current_principal.get()
        assert principal is not None
        self.seen.append(
            Seen(request.account_id, principal.name, context.time_remaining(), dict(context.invocation_metadata()))
        )
        if self.hold is not None:
            try:
                await self.hold.wait()
            except asyncio.CancelledError:
                self.cancelled = True
                raise
        profile = account_pb2.Profile(account_id=request.account_id, user_name=f"served by {self.name}")
        return account_pb2.GetProfileResponse(profile=profile)

    async def GetMargins(
        self, request: account_pb2.GetMarginsRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.GetMarginsResponse:
        raise GatewayError(
            Status.RESOURCE_EXHAUSTED,
            Reason.KITE_RATE_LIMITED,
            f"Kite's rate limit for {request.account_id} on {self.name}; retry later",
            {"account_id": request.account_id, "replica": self.name},
            retry_after=2.5,
        )


class ProbeMarket(market_data_pb2_grpc.MarketDataServiceServicer):
    """StreamTicks: a `started` naming the replica, then nothing until the stream ends."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def StreamTicks(
        self, request: market_data_pb2.StreamTicksRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[market_data_pb2.StreamTicksResponse]:
        started = market_data_pb2.SubscriptionStarted(subscription_id=f"{self.name}:{request.account_id}")
        yield market_data_pb2.StreamTicksResponse(started=started)
        await asyncio.Event().wait()


@dataclass
class Replica:
    name: str
    gateway: Gateway
    forwarding: Forwarding | None
    accounts: ProbeAccounts
    channel: grpc.aio.Channel
    account_stub: account_pb2_grpc.AccountServiceStub = field(init=False)
    market_stub: market_data_pb2_grpc.MarketDataServiceStub = field(init=False)

    def __post_init__(self) -> None:
        self.account_stub = account_pb2_grpc.AccountServiceStub(self.channel)
        self.market_stub = market_data_pb2_grpc.MarketDataServiceStub(self.channel)

    async def stop(self) -> None:
        await self.gateway.stop(0)
        if self.forwarding is not None:
            await self.forwarding.close()
        await self.channel.close()


async def start_replica(
    tmp_path: Path,
    cluster: Cluster | None,
    name: str,
    principals: str | None = PRINCIPALS,
    secret: bytes | None = SECRET,
    local_methods: Iterable[str] = LOCAL_METHODS,
) -> Replica:
    settings = Settings(
        gateway_listen="127.0.0.1:0",
        gateway_data_dir=tmp_path / name,
        gateway_shutdown_grace=0,
        gateway_auth_principals=principals,
    )
    accounts = ProbeAccounts(name)  # type: ignore[abstract]  # the other methods answer UNIMPLEMENTED
    servicers = {ACCOUNT_SERVICE: accounts, MARKET_SERVICE: ProbeMarket(name)}  # type: ignore[abstract]
    forwarding = None
    if cluster is not None:
        forwarding = Forwarding(cluster.lookup(name), secret, replica_id=name, local_methods=local_methods)
    gateway = Gateway(settings, servicers, forwarding=forwarding)
    await gateway.start()
    address = f"127.0.0.1:{gateway.port}"
    if cluster is not None:
        cluster.address_of[name] = address
    return Replica(name, gateway, forwarding, accounts, grpc.aio.insecure_channel(address))


@pytest.fixture
def cluster() -> Cluster:
    return Cluster(owner_of={"ZS0001": "a", "ZS0002": "b"})


@pytest.fixture
async def pair(tmp_path: Path, cluster: Cluster) -> AsyncIterator[tuple[Replica, Replica]]:
    a = await start_replica(tmp_path, cluster, "a")
    b = await start_replica(tmp_path, cluster, "b")
    yield a, b
    await b.stop()
    await a.stop()


def profile(account_id: str = "ZS0001") -> account_pb2.GetProfileRequest:
    return account_pb2.GetProfileRequest(account_id=account_id)


def retry_delay(error: grpc.aio.AioRpcError) -> float | None:
    raw = dict(error.trailing_metadata() or ()).get(STATUS_DETAILS_KEY)
    assert isinstance(raw, bytes), "no google.rpc.Status details"
    for detail in status_pb2.Status.FromString(raw).details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.ToTimedelta().total_seconds())
    return None


async def failure(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


# -- forwarding -----------------------------------------------------------------------------------


async def test_a_call_for_an_account_owned_elsewhere_is_served_by_its_owner_as_the_caller(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    call = b.account_stub.GetProfile(profile(), metadata=(*bearer("reader"), ("x-request-id", "req-7")))
    reply = await call
    assert reply.profile.user_name == "served by a"
    assert await served_of(call) == ("a", "b")
    (seen,) = a.accounts.seen
    assert seen.principal == "reader"
    assert seen.metadata["x-request-id"] == "req-7"
    assert "authorization" not in seen.metadata, "the caller's token must not travel between replicas"
    assert b.accounts.seen == []


async def test_a_call_for_an_account_owned_here_runs_here_without_asking_where_its_owner_is(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    call = b.account_stub.GetProfile(profile("ZS0002"), metadata=bearer("reader"))
    assert (await call).profile.user_name == "served by b"
    assert await served_of(call) == ("b", None)
    assert a.accounts.seen == []
    assert b.gateway is not None and isinstance(b.forwarding, Forwarding)
    assert b.forwarding.owners.asked == []  # type: ignore[attr-defined]


async def test_the_owner_gets_the_callers_remaining_deadline_and_none_when_the_caller_set_none(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    await b.account_stub.GetProfile(profile(), metadata=bearer("reader"), timeout=5)
    await b.account_stub.GetProfile(profile(), metadata=bearer("reader"))
    with_deadline, without = a.accounts.seen
    # grpc-timeout is rounded up on the wire: a little over 5 s can arrive
    assert with_deadline.time_remaining is not None and 3 < with_deadline.time_remaining <= 5.1
    assert without.time_remaining is None


async def test_a_slow_owner_past_the_callers_deadline_is_deadline_exceeded_and_the_owners_call_ends(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    a.accounts.hold = asyncio.Event()
    error = await failure(b.account_stub.GetProfile(profile(), metadata=bearer("reader"), timeout=0.3))
    assert error.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    await eventually(lambda: a.accounts.cancelled, "the owner's handler is cancelled at the deadline", 5)


async def test_an_owners_failure_reaches_the_caller_with_its_code_message_and_details_unchanged(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    request = account_pb2.GetMarginsRequest(account_id="ZS0001")
    direct = await failure(a.account_stub.GetMargins(request, metadata=bearer("reader")))
    forwarded = await failure(b.account_stub.GetMargins(request, metadata=bearer("reader")))
    assert forwarded.code() is direct.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert forwarded.details() == direct.details()
    details = dict(forwarded.trailing_metadata())[STATUS_DETAILS_KEY]
    assert details == dict(direct.trailing_metadata())[STATUS_DETAILS_KEY]
    assert status_of(forwarded)[1:3] == ("KITE_RATE_LIMITED", {"account_id": "ZS0001", "replica": "a"})
    assert retry_delay(forwarded) == 2.5
    assert served(forwarded.initial_metadata()) == ("a", "b")


async def test_a_method_the_owner_does_not_implement_stays_unimplemented_not_unavailable(
    pair: tuple[Replica, Replica],
) -> None:
    _, b = pair
    error = await failure(
        b.account_stub.GetAccount(account_pb2.GetAccountRequest(account_id="ZS0001"), metadata=bearer("reader"))
    )
    assert error.code() is grpc.StatusCode.UNIMPLEMENTED
    assert served(error.initial_metadata()) == ("a", "b")


async def test_what_a_forwarded_principal_may_do_is_the_owners_configuration_not_the_entrys(
    tmp_path: Path, cluster: Cluster
) -> None:
    narrower = PRINCIPALS.replace('read = ["ZS0001", "ZS0002"]', 'read = ["ZS0002"]')
    a = await start_replica(tmp_path, cluster, "a", principals=narrower)
    b = await start_replica(tmp_path, cluster, "b")
    try:
        error = await failure(b.account_stub.GetProfile(profile(), metadata=bearer("reader")))
        assert error.code() is grpc.StatusCode.PERMISSION_DENIED
        assert status_of(error)[1:3] == ("ACCOUNT_ACCESS_DENIED", {"principal": "reader", "account_id": "ZS0001"})
        assert served(error.initial_metadata()) == ("a", "b")
        assert a.accounts.seen == []
    finally:
        await b.stop()
        await a.stop()


async def test_a_caller_with_a_bad_token_is_unauthenticated_at_the_entry_and_nothing_is_forwarded(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    error = await failure(b.account_stub.GetProfile(profile(), metadata=(("authorization", "Bearer nope"),)))
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    assert served(error.initial_metadata()) == ("b", None)
    assert a.accounts.seen == []
    assert b.forwarding is not None and b.forwarding.owners.asked == []  # type: ignore[attr-defined]


async def test_a_call_for_an_account_between_owners_is_unavailable_with_a_retry_in_one_second(
    pair: tuple[Replica, Replica], cluster: Cluster
) -> None:
    _, b = pair
    cluster.owner_of["ZS0001"] = None
    error = await failure(b.account_stub.GetProfile(profile(), metadata=bearer("reader")))
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert retry_delay(error) == 1.0
    assert "ZS0001" in (error.details() or "") and "moving" in (error.details() or "")
    assert "retry in 1 s" in (error.details() or "")


async def test_a_call_whose_owner_is_gone_is_unavailable_with_a_retry_not_unknown_or_internal(
    pair: tuple[Replica, Replica], cluster: Cluster
) -> None:
    a, b = pair
    address = cluster.address_of["a"]
    await a.gateway.stop(0)
    for _ in range(2):  # the first call finds the channel connected, the second one failing
        error = await failure(b.account_stub.GetProfile(profile(), metadata=bearer("reader")))
        assert error.code() is grpc.StatusCode.UNAVAILABLE, error
        assert retry_delay(error) == 1.0
        assert address in (error.details() or "")
        assert served(error.initial_metadata()) == ("b", None)


async def test_a_call_whose_dead_owner_still_holds_the_lease_is_told_to_retry_when_the_lease_can_move(
    pair: tuple[Replica, Replica], cluster: Cluster
) -> None:
    a, b = pair
    cluster.moves_in = 6.5  # the dead owner's lease runs out (and is taken) in 6.5 s
    await a.gateway.stop(0)
    for _ in range(2):
        error = await failure(b.account_stub.GetProfile(profile(), metadata=bearer("reader")))
        assert error.code() is grpc.StatusCode.UNAVAILABLE
        assert retry_delay(error) == 6.5, "a 1 s hint would spend a client's few retries before the lease moves"


async def test_a_forwarded_call_for_an_account_its_receiver_no_longer_owns_is_refused_not_forwarded_again(
    pair: tuple[Replica, Replica], cluster: Cluster
) -> None:
    a, b = pair
    cluster.views["a"] = {"ZS0001": "b"}  # a has handed ZS0001 to b; b has not heard yet
    error = await failure(b.account_stub.GetProfile(profile(), metadata=bearer("reader")))
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert retry_delay(error) == 1.0
    assert "moved away from replica a" in (error.details() or "")
    assert served(error.initial_metadata()) == ("a", "b")
    assert a.accounts.seen == b.accounts.seen == []
    assert a.forwarding is not None and a.forwarding.owners.asked == []  # type: ignore[attr-defined]


# -- the seal -------------------------------------------------------------------------------------


def sealed_for(
    account_id: str = "ZS0001",
    method: str = GET_PROFILE,
    secret: bytes = SECRET,
    body: bytes | None = None,
    **seal: Any,
) -> list[tuple[str, str]]:
    principals = Principals.from_toml(PRINCIPALS, "test")
    caller = Caller("reader", token_digest(TOKENS["reader"]))
    body = profile().SerializeToString(deterministic=True) if body is None else body
    return PrincipalSeal(secret, principals, **seal).metadata(caller, method, [account_id], body)


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param(lambda: sealed_for(secret=b"another cluster's secret"), id="another-secret"),
        pytest.param(lambda: sealed_for(account_id="ZS0002"), id="sealed-for-another-account"),
        pytest.param(lambda: sealed_for(method=f"{ACCOUNT_SERVICE}.GetMargins"), id="sealed-for-another-method"),
        pytest.param(lambda: sealed_for(clock=lambda: time.time() - 1000), id="replayed-later"),
        pytest.param(lambda: sealed_for(body=b"another request"), id="sealed-for-another-request"),
        pytest.param(lambda: [(k, v) for k, v in sealed_for() if k != FORWARDED_SIGNATURE], id="without-a-signature"),
        pytest.param(
            lambda: [
                (k, v.replace('"name":"reader"', '"name":"root"') if k == FORWARDED_PRINCIPAL else v)
                for k, v in sealed_for()
            ],
            id="principal-edited",
        ),
    ],
)
async def test_a_forged_or_replayed_forwarded_principal_is_unauthenticated(
    pair: tuple[Replica, Replica], forged: Any
) -> None:
    a, _ = pair
    error = await failure(a.account_stub.GetProfile(profile(), metadata=forged()))
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    assert a.accounts.seen == []


async def test_a_valid_seal_opens_to_the_owners_principal_without_a_bearer_token(
    pair: tuple[Replica, Replica],
) -> None:
    a, _ = pair
    reply = await a.account_stub.GetProfile(profile(), metadata=sealed_for())
    assert reply.profile.user_name == "served by a"
    assert a.accounts.seen[0].principal == "reader"


async def test_a_call_sealed_as_forwarded_twice_is_refused() -> None:
    seal = PrincipalSeal(SECRET, Principals.from_toml(PRINCIPALS, "test"))
    principal = json.dumps({"at": int(time.time()), "name": "ops", "token_sha256": token_digest(TOKENS["ops"])})
    metadata = [
        (FORWARDED_PRINCIPAL, principal),
        (HOP, "2"),
        (FORWARDED_SIGNATURE, seal._signature(principal, GET_PROFILE, ["ZS0001"], "2", b"")),
    ]
    with pytest.raises(GatewayError) as caught:
        seal.open(metadata, GET_PROFILE, ["ZS0001"], b"")
    assert caught.value.code is Status.FAILED_PRECONDITION
    assert "at most once" in caught.value.message


def test_forwarding_with_caller_authentication_needs_a_cluster_secret(tmp_path: Path, cluster: Cluster) -> None:
    settings = Settings(gateway_listen="127.0.0.1:0", gateway_data_dir=tmp_path, gateway_auth_principals=PRINCIPALS)
    with pytest.raises(ValueError, match="cluster secret"):
        Gateway(settings, forwarding=Forwarding(cluster.lookup("a"), None, replica_id="a"))


async def test_with_authentication_off_everywhere_the_callers_anonymous_name_is_carried_unsigned(
    tmp_path: Path, cluster: Cluster
) -> None:
    a = await start_replica(tmp_path, cluster, "a", principals=None, secret=None)
    b = await start_replica(tmp_path, cluster, "b", principals=None, secret=None)
    try:
        call = b.account_stub.GetProfile(profile())
        assert (await call).profile.user_name == "served by a"
        assert await served_of(call) == ("a", "b")
        assert a.accounts.seen[0].principal == "anonymous@127.0.0.1"
    finally:
        await b.stop()
        await a.stop()


async def test_without_forwarding_the_forwarding_metadata_means_nothing_and_answers_say_nothing_more(
    tmp_path: Path,
) -> None:
    single = await start_replica(tmp_path, None, "single")
    try:
        error = await failure(single.account_stub.GetProfile(profile(), metadata=sealed_for()))
        assert error.code() is grpc.StatusCode.UNAUTHENTICATED
        assert "no bearer token" in (error.details() or "")
        call = single.account_stub.GetProfile(profile(), metadata=(*bearer("reader"), *sealed_for()))
        await call
        assert single.accounts.seen[0].principal == "reader"
        assert served(await call.initial_metadata()) == (None, None)
    finally:
        await single.stop()


# -- streams --------------------------------------------------------------------------------------


def ticks(account_id: str = "ZS0001") -> market_data_pb2.StreamTicksRequest:
    return market_data_pb2.StreamTicksRequest(account_id=account_id)


async def test_a_local_stream_is_served_where_it_arrives_even_for_an_account_owned_elsewhere(
    pair: tuple[Replica, Replica],
) -> None:
    _, b = pair
    stream = b.market_stub.StreamTicks(ticks(), metadata=bearer("reader"))
    first = await stream.read()
    assert first.started.subscription_id == "b~b:ZS0001"  # the replica holding it, and the servicer's id
    assert await served_of(stream) == ("b", None)
    stream.cancel()


async def test_an_owner_bound_stream_is_relayed_and_ends_unavailable_with_a_retry_when_its_owner_goes(
    tmp_path: Path, cluster: Cluster
) -> None:
    a = await start_replica(tmp_path, cluster, "a", local_methods=frozenset())
    b = await start_replica(tmp_path, cluster, "b", local_methods=frozenset())
    try:
        stream = b.market_stub.StreamTicks(ticks(), metadata=bearer("reader"))
        first = await stream.read()
        assert first.started.subscription_id == "a:ZS0001"
        assert await served_of(stream) == ("a", "b")
        await a.gateway.stop(0)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stream.read()
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE, caught.value
        assert retry_delay(caught.value) == 1.0
    finally:
        await b.stop()
        await a.stop()
