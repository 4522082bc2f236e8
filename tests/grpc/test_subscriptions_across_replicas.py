"""Tick subscriptions when any replica answers any call (two whole gateways against the Kite
simulator, as a round_robin channel over the replicas would use them): a stream opened on one
replica is changed and listed through another; its id names the replica holding it, and a forged
id reaches nobody else's stream; a replica that is gone ends its streams (NOT_FOUND), one that is
listed but not reachable or silent makes the call UNAVAILABLE with a retry, never INTERNAL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from kite_gateway_api.v1 import market_data_pb2, market_data_pb2_grpc

from kite_gateway.auth import Principals, token_digest
from kite_gateway.grpc.forwarded_principal import Caller, PrincipalSeal
from kite_gateway.grpc.forwarding_subscriptions import holder_of
from kite_gateway.storage.sealing import Sealer
from kite_simulator import ThreadedSimulator
from tests.e2e.conftest import status_of
from tests.e2e.test_streaming import INFY, TCS, next_event, refs, ticks_until
from tests.grpc.forwarding_cluster import PRINCIPALS, SECRET, TOKENS, Cluster, bearer, served_of
from tests.grpc.test_forwarding import retry_delay
from tests.grpc.test_forwarding_gateways import Replica, start_replica
from tests.simulator.conftest import regular_hours

# Two in-process gateways standing for replicas, each alone on a database of its own (the
# suite's PostgreSQL run would give both one database; tests/cluster runs real clustered replicas).
pytestmark = pytest.mark.sqlite_only

ACCOUNT = "ZS0001"
UPDATE = "kite_gateway.v1.MarketDataService.UpdateSubscription"


@pytest.fixture
async def sim() -> AsyncIterator[ThreadedSimulator]:
    simulator = ThreadedSimulator(regular_hours(tick_interval=0.05))
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
def cluster() -> Cluster:
    return Cluster(owner_of={ACCOUNT: "a"})


@pytest.fixture
async def pair(tmp_path: Path, sim: ThreadedSimulator, cluster: Cluster) -> AsyncIterator[tuple[Replica, Replica]]:
    key = Sealer.generate_key()
    a = await start_replica(tmp_path, sim, key, cluster, "a")
    b = await start_replica(tmp_path, sim, key, cluster, "b")
    yield a, b
    await b.stop()
    await a.stop()


def market(replica: Replica) -> market_data_pb2_grpc.MarketDataServiceStub:
    return market_data_pb2_grpc.MarketDataServiceStub(replica.channel)


def open_stream(replica: Replica, who: str = "reader", *symbols: str) -> Any:
    request = market_data_pb2.StreamTicksRequest(
        account_id=ACCOUNT, instruments=refs(*(symbols or (INFY,))), heartbeat_interval=Duration(seconds=1)
    )
    return market(replica).StreamTicks(request, metadata=bearer(who))


def update(subscription_id: str, *add: str) -> market_data_pb2.UpdateSubscriptionRequest:
    return market_data_pb2.UpdateSubscriptionRequest(
        account_id=ACCOUNT, subscription_id=subscription_id, add=refs(*(add or (TCS,)))
    )


LIST = market_data_pb2.ListSubscriptionsRequest(account_id=ACCOUNT)


async def failure(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def started(stream: Any) -> str:
    return (await next_event(stream, "started")).started.subscription_id


async def test_a_stream_opened_on_one_replica_is_updated_and_listed_through_the_other(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    on_a = open_stream(a)
    on_b = open_stream(b)
    try:
        id_a, id_b = await started(on_a), await started(on_b)
        assert holder_of(id_a) is not None and holder_of(id_a)[0] == "a"  # type: ignore[index]
        assert holder_of(id_b) is not None and holder_of(id_b)[0] == "b"  # type: ignore[index]
        assert id_a != id_b

        call = market(b).UpdateSubscription(update(id_a), metadata=bearer("reader"))
        reply = await call
        assert [(s.symbol, s.state) for s in reply.statuses] == [(TCS, market_data_pb2.SUBSCRIPTION_STATE_ACCEPTED)]
        assert await served_of(call) == ("a", "b")
        assert (await next_event(on_a, "changed")).changed.statuses == reply.statuses
        await ticks_until(on_a, {TCS})  # ticks of the instrument added through the other replica

        for entry in (b, a):
            listing_call = market(entry).ListSubscriptions(LIST, metadata=bearer("reader"))
            listing = await listing_call
            mine = {s.subscription_id: {i.symbol for i in s.instruments} for s in listing.subscriptions}
            assert mine == {id_a: {INFY, TCS}, id_b: {INFY}}, f"listed through {entry.name}"
            assert {s.principal for s in listing.subscriptions} == {"reader"}
            assert listing.upstream, "the account's upstream connection is reported"
            assert await served_of(listing_call) == ("a,b", entry.name)

        # the id each replica listed works through the other one too
        await market(a).UpdateSubscription(update(id_b, INFY), metadata=bearer("reader"))
        assert (await next_event(on_b, "changed")).changed.statuses
    finally:
        on_a.cancel()
        on_b.cancel()


async def test_another_caller_can_neither_update_nor_list_a_subscription_through_any_replica(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    stream = open_stream(a)
    try:
        subscription = await started(stream)
        for entry in (b, a):
            error = await failure(market(entry).UpdateSubscription(update(subscription), metadata=bearer("trader")))
            assert error.code() is grpc.StatusCode.NOT_FOUND, (entry.name, error)
            listing = await market(entry).ListSubscriptions(LIST, metadata=bearer("trader"))
            assert list(listing.subscriptions) == []
        listed = await market(b).ListSubscriptions(LIST, metadata=bearer("reader"))
        assert [(s.subscription_id, len(s.instruments)) for s in listed.subscriptions] == [(subscription, 1)]
    finally:
        stream.cancel()


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param(lambda own: "nosuch~" + own.partition("~")[2], id="a-replica-not-in-the-cluster"),
        pytest.param(lambda own: own.partition("~")[2], id="the-servicers-id-without-its-replica"),
        pytest.param(lambda own: "b~" + own.partition("~")[2], id="another-replicas-id-of-the-same-number"),
        pytest.param(lambda own: "a~" + own, id="the-replica-named-twice"),
        pytest.param(lambda own: "~" + own, id="an-empty-replica"),
        pytest.param(lambda own: "a~", id="an-empty-id"),
        pytest.param(lambda own: "~~~", id="separators-only"),
    ],
)
async def test_a_forged_subscription_id_is_not_found_through_either_replica_and_changes_no_stream(
    pair: tuple[Replica, Replica], forged: Any
) -> None:
    a, b = pair
    stream = open_stream(a)
    try:
        subscription = forged(await started(stream))
        for entry in (b, a):
            error = await failure(market(entry).UpdateSubscription(update(subscription), metadata=bearer("reader")))
            assert error.code() is grpc.StatusCode.NOT_FOUND, (entry.name, subscription, error)
        listed = await market(b).ListSubscriptions(LIST, metadata=bearer("reader"))
        assert [{i.symbol for i in s.instruments} for s in listed.subscriptions] == [{INFY}]
    finally:
        stream.cancel()


async def test_an_id_naming_a_replica_not_in_the_cluster_says_its_stream_ended_with_it(
    pair: tuple[Replica, Replica],
) -> None:
    _, b = pair
    error = await failure(market(b).UpdateSubscription(update("gone-7~ZS0001-1"), metadata=bearer("reader")))
    assert error.code() is grpc.StatusCode.NOT_FOUND
    assert "ended with its replica gone-7" in (error.details() or "")
    assert status_of(error)[2] == {"account_id": ACCOUNT, "replica": "gone-7"}


async def test_a_forwarded_update_for_a_stream_its_receiver_does_not_hold_is_not_found_not_forwarded_again(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    stream = open_stream(a)
    try:
        subscription = await started(stream)
        seal = PrincipalSeal(SECRET, Principals.from_toml(PRINCIPALS, "test"))
        body = update(subscription).SerializeToString(deterministic=True)  # the seal is for this request
        sealed = seal.metadata(Caller("reader", token_digest(TOKENS["reader"])), UPDATE, [ACCOUNT], body)
        error = await failure(market(b).UpdateSubscription(update(subscription), metadata=sealed))
        assert error.code() is grpc.StatusCode.NOT_FOUND
        assert "at most once" in (error.details() or "")
        assert (await market(a).UpdateSubscription(update(subscription), metadata=sealed)).statuses
    finally:
        stream.cancel()


async def test_a_replica_stopped_but_still_listed_is_unavailable_with_a_retry_and_once_gone_not_found(
    pair: tuple[Replica, Replica], cluster: Cluster
) -> None:
    a, b = pair
    on_a, on_b = open_stream(a), open_stream(b)
    try:
        id_a, id_b = await started(on_a), await started(on_b)
        await a.gateway.stop(0)
        for _ in range(2):  # the first call may find the channel connected, the second one failing
            error = await failure(market(b).UpdateSubscription(update(id_a), metadata=bearer("reader")))
            assert error.code() is grpc.StatusCode.UNAVAILABLE, error
            assert retry_delay(error) == 1.0
            assert cluster.address_of["a"] in (error.details() or "")
            listing = await failure(market(b).ListSubscriptions(LIST, metadata=bearer("reader")))
            assert listing.code() is grpc.StatusCode.UNAVAILABLE, listing
            assert retry_delay(listing) == 1.0
            assert status_of(listing)[2] == {"replicas": "a"}

        cluster.gone.add("a")  # its lease time ran out: it left the cluster's table
        error = await failure(market(b).UpdateSubscription(update(id_a), metadata=bearer("reader")))
        assert error.code() is grpc.StatusCode.NOT_FOUND
        assert "ended with its replica a" in (error.details() or "")
        listed = await market(b).ListSubscriptions(LIST, metadata=bearer("reader"))
        assert [s.subscription_id for s in listed.subscriptions] == [id_b]
    finally:
        on_a.cancel()
        on_b.cancel()


async def test_a_listed_replica_that_never_answers_makes_the_list_unavailable_before_the_callers_deadline(
    pair: tuple[Replica, Replica], cluster: Cluster
) -> None:
    _, b = pair
    hold = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await hold.wait()  # accepts the connection, never speaks HTTP/2 (a replica paused by SIGSTOP)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    cluster.address_of["c"] = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        began = time.monotonic()
        error = await failure(market(b).ListSubscriptions(LIST, metadata=bearer("reader"), timeout=2.0))
        assert error.code() is grpc.StatusCode.UNAVAILABLE, error
        assert time.monotonic() - began < 2.0
        assert status_of(error)[2] == {"replicas": "c"}
        assert "did not answer within" in (error.details() or "")
    finally:
        hold.set()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("subscription", ["a~ZS0001-1", "gone-7~ZS0001-1", "ZS0001-1"])
async def test_who_may_not_read_the_account_is_refused_so_before_hearing_whether_a_subscription_exists(
    pair: tuple[Replica, Replica], subscription: str
) -> None:
    _, b = pair
    denied = await failure(market(b).UpdateSubscription(update(subscription), metadata=bearer("ops")))
    assert denied.code() is grpc.StatusCode.PERMISSION_DENIED, denied
    stranger = await failure(
        market(b).UpdateSubscription(update(subscription), metadata=(("authorization", "Bearer x"),))
    )
    assert stranger.code() is grpc.StatusCode.UNAUTHENTICATED, stranger
    listing = await failure(market(b).ListSubscriptions(LIST, metadata=bearer("ops")))
    assert listing.code() is grpc.StatusCode.PERMISSION_DENIED, listing


async def test_while_the_clusters_table_cannot_be_read_updates_and_lists_are_unavailable_not_internal(
    pair: tuple[Replica, Replica], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = pair
    stream = open_stream(a)
    try:
        subscription = await started(stream)

        async def unreadable() -> dict[str, str]:
            raise ConnectionRefusedError("the database is restarting")

        monkeypatch.setattr(b.forwarding.owners, "replicas", unreadable)
        for call in (
            market(b).UpdateSubscription(update(subscription), metadata=bearer("reader")),
            market(b).ListSubscriptions(LIST, metadata=bearer("reader")),
        ):
            error = await failure(call)
            assert error.code() is grpc.StatusCode.UNAVAILABLE, error
            assert retry_delay(error) == 1.0
            assert "ConnectionRefusedError" in (error.details() or "")
        assert (await market(a).UpdateSubscription(update(subscription), metadata=bearer("reader"))).statuses
    finally:
        stream.cancel()
