"""The bus against a real nats-server: messages reach subscribers (also one made before the first
connection), subjects carry any account id safely, and across a NATS restart the bus reports
itself unhealthy, reconnects by itself and delivers again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from kite_gateway.cluster.bus import Bus, account_of, every_account, subject
from tests.support.nats import NatsServer


async def eventually(condition: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.005)


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[Bus]:
    connected = Bus(nats_server.url, prefix=f"t{time.monotonic_ns()}")
    assert await connected.start(wait=5)
    yield connected
    await connected.close()


@pytest.mark.parametrize("account_id", ["ZS0001", "a.b", "*", ">", "with space", "~7E", "ünï", "x-y_z"])
def test_any_account_id_makes_one_subject_token_and_comes_back_from_it(account_id: str) -> None:
    name = subject("orders", account_id)
    assert name.startswith("kg.orders.") and name.count(".") == 2
    assert not set(name.split(".")[-1]) & set(" *>\t")
    assert account_of(name) == account_id


def test_an_unknown_kind_or_an_empty_account_is_refused() -> None:
    with pytest.raises(ValueError):
        subject("trades", "ZS0001")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        subject("ticks", "")


async def test_a_published_message_reaches_every_subscriber_of_its_subject_and_a_wildcard(bus: Bus) -> None:
    exact: list[tuple[str, bytes]] = []
    wild: list[tuple[str, bytes]] = []

    async def on_wild(name: str, payload: bytes) -> None:
        wild.append((name, payload))

    await bus.subscribe(bus.subject("ticks", "ZS0001"), lambda name, payload: exact.append((name, payload)))
    await bus.subscribe(bus.every_account("ticks"), on_wild)
    await bus.flush()
    assert bus.publish(bus.subject("ticks", "ZS0001"), b"\x00\x01frame")
    assert bus.publish(bus.subject("ticks", "ZS 2"), b"other")
    await eventually(lambda: len(wild) == 2, "the wildcard subscriber has both")
    assert exact == [(bus.subject("ticks", "ZS0001"), b"\x00\x01frame")]
    assert [bus.account_of(name) for name, _ in wild] == ["ZS0001", "ZS 2"]
    assert every_account("ticks", bus.prefix) == f"{bus.prefix}.ticks.*"


async def test_an_unsubscribed_handler_gets_nothing_more(bus: Bus) -> None:
    got: list[bytes] = []
    subscription = await bus.subscribe(bus.subject("orders", "A"), lambda _n, p: got.append(p))
    await bus.flush()
    bus.publish(bus.subject("orders", "A"), b"1")
    await eventually(lambda: got == [b"1"], "the first message arrived")
    await subscription.unsubscribe()
    seen: list[bytes] = []
    await bus.subscribe(bus.subject("orders", "A"), lambda _n, p: seen.append(p))
    await bus.flush()
    bus.publish(bus.subject("orders", "A"), b"2")
    await eventually(lambda: seen == [b"2"], "the second subscriber has the second message")
    assert got == [b"1"]


async def test_a_bus_started_before_its_server_connects_when_it_comes_and_makes_its_subscriptions() -> None:
    server = NatsServer(use_env=False)
    bus = Bus(server.url)
    got: list[bytes] = []
    try:
        assert not await bus.start(wait=0.2)
        await bus.subscribe(bus.subject("gaps", "A"), lambda _n, p: got.append(p))
        assert not bus.healthy() and not bus.publish(bus.subject("gaps", "A"), b"lost")
        server.start()
        await eventually(bus.healthy, "the bus connected to the late server")
        bus.publish(bus.subject("gaps", "A"), b"kept")
        await eventually(lambda: got == [b"kept"], "the subscription made on connection delivers")
        assert bus.dropped == 1
    finally:
        await bus.close()
        server.close()


async def test_across_a_nats_restart_the_bus_is_unhealthy_then_reconnects_and_delivers_again(
    own_nats: NatsServer,
) -> None:
    bus = Bus(own_nats.url)
    events: list[str] = []
    bus.on_disconnected.append(lambda: events.append("down"))
    bus.on_connected.append(lambda: events.append("up"))
    got: list[bytes] = []
    try:
        assert await bus.start(wait=5)
        await bus.subscribe(bus.subject("interest", "A"), lambda _n, p: got.append(p))
        own_nats.stop()
        await eventually(lambda: not bus.healthy(), "the bus noticed the server is gone")
        assert not bus.publish(bus.subject("interest", "A"), b"while down")
        own_nats.start()
        await eventually(bus.healthy, "the bus reconnected by itself")
        bus.publish(bus.subject("interest", "A"), b"after")
        await eventually(lambda: got == [b"after"], "the subscription survived the restart")
        assert events == ["up", "down", "up"]
        own_nats.kill()
        await eventually(lambda: not bus.healthy(), "the bus noticed the server was killed")
        own_nats.start()
        await eventually(bus.healthy, "the bus reconnected after a kill -9 of the server")
    finally:
        await bus.close()
    assert not bus.healthy()
