"""The ticker's Kite-like cadence (frames_per_second): each instrument is looked at once a second,
in the one frame of the second its phase falls in, so a connection's ticks are spread over the
second's frames instead of all arriving together."""

from __future__ import annotations

from typing import Any

from kite_simulator import Simulator
from kite_simulator.clock import ManualClock
from kite_simulator.ticker import TickerConnection, phase
from kite_wire.ticker_packets import decode_message
from tests.simulator.conftest import regular_hours

SLOTS = 10


class _Silent:
    """A request whose transport is never closed (the test reads the outbox)."""

    transport = None


def _connection(sim: Simulator, tokens: list[int]) -> TickerConnection:
    session: Any = None
    connection = TickerConnection(ws=None, session=session, request=_Silent())  # type: ignore[arg-type]
    connection.modes = dict.fromkeys(tokens, "quote")
    sim.ticker.connections.add(connection)
    return connection


def _frames(connection: TickerConnection) -> list[list[int]]:
    frames = []
    while not connection.outbox.empty():
        message = connection.outbox.get_nowait()
        if isinstance(message, bytes) and len(message) > 1:
            frames.append([tick.instrument_token for tick in decode_message(message)])
    return frames


def test_phases_spread_the_tokens_evenly_over_the_slots() -> None:
    sim = Simulator(regular_hours())
    tokens = [i.instrument_token for i in sim.universe][:3000]
    counts = [0] * SLOTS
    for token in tokens:
        counts[phase(token, SLOTS)] += 1
    assert min(counts) > 0.8 * len(tokens) / SLOTS and max(counts) < 1.2 * len(tokens) / SLOTS


def test_over_a_second_each_instrument_ticks_once_in_the_frame_of_its_phase() -> None:
    sim = Simulator(regular_hours(frames_per_second=SLOTS))
    assert isinstance(sim.clock, ManualClock)
    tokens = [i.instrument_token for i in sim.universe if i.tradable][:500]
    connection = _connection(sim, tokens)
    for second in range(3):
        sim.clock.advance(1.0)
        seen: list[int] = []
        for slot in range(SLOTS):
            sim.ticker.tick(slot)
            for frame in _frames(connection):
                assert {phase(t, SLOTS) for t in frame} == {slot}, f"second {second}: slot {slot}'s frame"
                seen += frame
        assert sorted(seen) == sorted(tokens), f"second {second}: every instrument once"


def test_an_instrument_just_subscribed_ticks_in_the_next_frame_whatever_its_phase() -> None:
    sim = Simulator(regular_hours(frames_per_second=SLOTS))
    token = next(i.instrument_token for i in sim.universe if phase(i.instrument_token, SLOTS) == 3)
    connection = _connection(sim, [token])
    connection.fresh.add(token)
    sim.ticker.tick(0)
    assert _frames(connection) == [[token]]
