"""Ticks across replicas through a real nats-server: two TickStreams in one process, one the
account's owner on the simulator's ticker, one fed from the bus. Subscribers of both get the same
ticks; an instrument wanted only on the other replica is subscribed at Kite by the owner; a moved
lease switches both sides without dropping a subscriber; a replica gone quiet is forgotten; a NATS
restart shows as RECONNECTING and the ticks come back."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from kite_gateway.cluster.bus import Bus
from kite_gateway.cluster.tick_relay import BusTicker, TickRelay
from kite_gateway.core.market import Listing
from kite_gateway.streaming.fanout import Mailbox
from kite_gateway.streaming.tick_streams import AccountTicks, TickStreams
from kite_gateway.streaming.ticks import TickLevel, UpstreamState
from kite_simulator import ThreadedSimulator
from kite_wire import Tick
from tests.simulator.conftest import regular_hours
from tests.support.nats import NatsServer

ACCOUNT = "ZS0001"
EVERY = 0.2  # the relays' re-publication interval (their ttl: 1.6 s)


class TickText:
    """A TickEncoding whose bytes say which tick it was: b"<token>:<price>:<level>"."""

    def tick(self, raw: Tick, level: int, symbol: str, received_ns: int) -> bytes:
        return f"{raw.instrument_token}:{raw.last_price}:{level}".encode()

    def upstream_status(self, state: UpstreamState, message: str, at_ns: int) -> bytes:
        return f"state {state.name}: {message}".encode()


@dataclass
class Reader:
    """A subscriber: reads its mailbox as a stream would, keeping what it got."""

    mailbox: Mailbox[int]
    ticks: list[bytes] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while not self.mailbox.closed:
            taken = await self.mailbox.take(0.05)
            if taken is not None:
                self.notes += [note.decode() for note in taken[0]]
                self.ticks += taken[1]

    def of(self, token: int) -> list[bytes]:
        return [t for t in self.ticks if t.startswith(f"{token}:".encode())]

    def states(self) -> list[str]:
        return [note.split(":")[0].removeprefix("state ") for note in self.notes]


@dataclass
class Replica:
    name: str
    bus: Bus
    streams: TickStreams
    relay: TickRelay
    session: tuple[str, str]  # the account's api_key and access token (every replica has the same)
    readers: list[Reader] = field(default_factory=list)

    async def hub(self, sim: ThreadedSimulator) -> AccountTicks:
        return await self.streams.get(ACCOUNT, *self.session, symbols(sim))

    async def subscriber(self, sim: ThreadedSimulator, level: TickLevel, *wanted: str) -> Reader:
        hub = await self.hub(sim)
        mailbox = hub.fanout.open(f"{self.name}-reader", level=level)
        outcomes = await hub.add(mailbox, [listing(sim, s) for s in wanted], level)
        assert {o.state.name for o in outcomes} == {"ACCEPTED"}
        reader = Reader(mailbox)
        reader.task = asyncio.create_task(reader.run())
        self.readers.append(reader)
        return reader

    async def close(self) -> None:
        for reader in self.readers:
            reader.mailbox.close()
            if reader.task is not None:
                await reader.task
        await self.relay.stop()
        await self.streams.stop()
        await self.bus.close()


def listing(sim: ThreadedSimulator, symbol: str) -> Listing:
    found = sim.universe.by_symbol[symbol]
    return Listing(found.instrument_token, found.exchange_token, found.tradingsymbol, found.name, found.exchange,
                   found.segment, found.instrument_type, None, Decimal(0), Decimal("0.05"), 1, Decimal(0))  # fmt: skip


def symbols(sim: ThreadedSimulator) -> dict[int, str]:
    return {i.instrument_token: i.symbol for i in sim.universe}


def token(sim: ThreadedSimulator, symbol: str) -> int:
    return sim.universe.by_symbol[symbol].instrument_token


async def eventually(condition: Callable[[], bool], what: str, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.01)


async def replica(name: str, sim: ThreadedSimulator, url: str, prefix: str, session: tuple[str, str]) -> Replica:
    bus = Bus(url, prefix=prefix)
    assert await bus.start(wait=5)
    streams = TickStreams(sim.ws_url, TickText())

    async def open_ticks(account_id: str) -> AccountTicks:  # as the app opens a hub: with the stored session
        return await streams.get(account_id, *session, symbols(sim))

    relay = TickRelay(bus, streams, name, open_ticks=open_ticks, every=EVERY)
    await relay.start()
    return Replica(name, bus, streams, relay, session)


def kite_holds(sim: ThreadedSimulator) -> dict[int, str]:
    """What the simulator (Kite) has subscribed for the account, over all its connections."""
    held: dict[int, str] = {}
    for modes in sim.on_loop(lambda s: [dict(c.modes) for c in s.ticker.connections if c.session.user_id == ACCOUNT]):
        held.update(modes)
    return held


def kite_connections(sim: ThreadedSimulator) -> int:
    return int(sim.on_loop(lambda s: sum(c.session.user_id == ACCOUNT for c in s.ticker.connections)))


@pytest.fixture
async def sim() -> AsyncIterator[ThreadedSimulator]:
    simulator = ThreadedSimulator(regular_hours(tick_interval=0.05, clock_runs=True, step_seconds=0.05))
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def pair(sim: ThreadedSimulator, nats_server: NatsServer) -> AsyncIterator[tuple[Replica, Replica]]:
    prefix, session = f"t{time.monotonic_ns()}", sim.session_for(ACCOUNT)
    owner = await replica("a", sim, nats_server.url, prefix, session)
    other = await replica("b", sim, nats_server.url, prefix, session)
    await owner.relay.acquired(ACCOUNT)
    yield owner, other
    await other.close()
    await owner.close()


def contiguous_within(part: list[bytes], whole: list[bytes]) -> bool:
    """`part` appears in `whole` as one run, in order, nothing skipped or repeated."""
    if not part:
        return False
    starts = [i for i, item in enumerate(whole) if item == part[0]]
    return any(whole[i : i + len(part)] == part for i in starts)


async def test_subscribers_on_the_owner_and_on_a_bus_fed_replica_get_the_same_ticks(
    sim: ThreadedSimulator, pair: tuple[Replica, Replica]
) -> None:
    owner, other = pair
    infy = token(sim, "NSE:INFY")
    here = await owner.subscriber(sim, TickLevel.QUOTE, "NSE:INFY")
    there = await other.subscriber(sim, TickLevel.QUOTE, "NSE:INFY")
    assert isinstance((await other.hub(sim)).ticker, BusTicker)
    assert not isinstance((await owner.hub(sim)).ticker, BusTicker)
    await eventually(lambda: len(there.of(infy)) >= 20, "the bus-fed subscriber has 20 ticks")
    last = there.of(infy)[-1]
    await eventually(lambda: last in here.of(infy), "the owner's subscriber has the latest relayed tick")
    assert contiguous_within(there.of(infy), here.of(infy)), (there.of(infy)[:5], here.of(infy)[-25:])
    assert kite_connections(sim) == 1  # only the owner holds a Kite connection for the account
    mirrored = await other.hub(sim)
    await eventually(lambda: mirrored.state is UpstreamState.CONNECTED, "the other replica mirrors CONNECTED")


async def test_an_instrument_wanted_only_on_another_replica_is_subscribed_at_kite_by_the_owner_and_dropped_with_it(
    sim: ThreadedSimulator, pair: tuple[Replica, Replica]
) -> None:
    owner, other = pair
    infy, tcs = token(sim, "NSE:INFY"), token(sim, "NSE:TCS")
    here = await owner.subscriber(sim, TickLevel.LTP, "NSE:INFY")
    there = await other.subscriber(sim, TickLevel.FULL, "NSE:TCS")
    await eventually(lambda: kite_holds(sim).get(tcs) == "full", "the owner subscribed TCS in full at Kite")
    await eventually(lambda: len(there.of(tcs)) >= 3, "the other replica's subscriber gets TCS")
    assert there.of(tcs)[-1].endswith(b":2")  # in full
    assert here.of(tcs) == [] and len(here.of(infy)) > 0  # the owner's subscriber gets only what it asked for
    hub = await other.hub(sim)
    await hub.close(there.mailbox)
    await eventually(lambda: tcs not in kite_holds(sim), "the owner unsubscribed TCS once nobody wanted it")
    assert kite_holds(sim).get(infy) == "ltp"


async def test_a_replica_gone_quiet_is_forgotten_by_the_owner_after_the_ttl(
    sim: ThreadedSimulator, pair: tuple[Replica, Replica]
) -> None:
    owner, other = pair
    tcs = token(sim, "NSE:TCS")
    await other.subscriber(sim, TickLevel.QUOTE, "NSE:TCS")
    await eventually(lambda: tcs in kite_holds(sim), "the owner subscribed TCS for the other replica")
    await other.relay.stop()  # alive but silent: it no longer re-publishes its interest
    quiet = time.monotonic()
    await eventually(lambda: tcs not in kite_holds(sim), "the owner dropped the silent replica's TCS", seconds=10)
    assert time.monotonic() - quiet >= owner.relay.ttl - 2 * EVERY  # not before the ttl


async def test_a_moved_lease_switches_both_replicas_and_keeps_every_subscriber_with_a_reconnecting_note(
    sim: ThreadedSimulator, pair: tuple[Replica, Replica]
) -> None:
    owner, other = pair
    infy, tcs = token(sim, "NSE:INFY"), token(sim, "NSE:TCS")
    here = await owner.subscriber(sim, TickLevel.QUOTE, "NSE:INFY")
    there = await other.subscriber(sim, TickLevel.QUOTE, "NSE:TCS")
    await eventually(lambda: len(here.of(infy)) > 0 and len(there.of(tcs)) > 0, "both subscribers get ticks")
    await owner.relay.lost(ACCOUNT)
    await other.relay.acquired(ACCOUNT)
    assert isinstance((await owner.hub(sim)).ticker, BusTicker)
    assert not isinstance((await other.hub(sim)).ticker, BusTicker)
    before = len(here.of(infy)), len(there.of(tcs))
    await eventually(lambda: len(here.of(infy)) > before[0] + 5 and len(there.of(tcs)) > before[1] + 5,
                     "both subscribers get ticks again after the move")  # fmt: skip
    await eventually(lambda: kite_holds(sim).keys() == {infy, tcs} and kite_connections(sim) == 1,
                     "the new owner holds both replicas' instruments on one connection")  # fmt: skip
    assert "RECONNECTING" in here.states() and "RECONNECTING" in there.states()
    await eventually(lambda: here.states()[-1] == "CONNECTED" and there.states()[-1] == "CONNECTED",
                     "both report CONNECTED after the move")  # fmt: skip
    assert not here.mailbox.closed and not there.mailbox.closed


async def test_a_nats_restart_shows_the_bus_fed_feed_reconnecting_then_its_ticks_come_back(
    sim: ThreadedSimulator, own_nats: NatsServer
) -> None:
    session = sim.session_for(ACCOUNT)
    owner, other = (
        await replica("a", sim, own_nats.url, "kg", session),
        await replica("b", sim, own_nats.url, "kg", session),
    )
    try:
        await owner.relay.acquired(ACCOUNT)
        infy = token(sim, "NSE:INFY")
        there = await other.subscriber(sim, TickLevel.LTP, "NSE:INFY")
        await eventually(lambda: len(there.of(infy)) > 0 and there.states()[-1:] == ["CONNECTED"], "ticks flow")
        own_nats.stop()
        await eventually(lambda: there.states()[-1] == "RECONNECTING", "the subscriber is told the feed is down")
        assert "NATS" in there.notes[-1]
        own_nats.start()
        count = len(there.of(infy))
        await eventually(lambda: len(there.of(infy)) > count + 5, "ticks come back after the restart")
        await eventually(lambda: there.states()[-1] == "CONNECTED", "the subscriber is told the feed is up")
        assert kite_connections(sim) == 1
    finally:
        with contextlib.suppress(Exception):
            await other.close()
        await owner.close()
