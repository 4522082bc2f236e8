"""Record and replay: the gateway records an account's upstream ticker frames; the simulator replays
the recording as its market, so the same session runs through the whole stack again."""

from __future__ import annotations

import gzip
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kite_gateway_api.v1 import market_data_pb2

from kite_simulator import Simulator, SimulatorConfig, ThreadedSimulator
from kite_simulator.clock import ScaledClock
from kite_simulator.replay import first_frame_time
from kite_wire.recording import Recording, RecordingError, encode_frame, encode_header
from kite_wire.ticker_packets import encode_packet, split_message
from tests.e2e.conftest import start_stack, stop_stack
from tests.e2e.test_streaming import open_stream as open_tick_stream
from tests.e2e.test_streaming import ticks_until
from tests.simulator.conftest import regular_hours

SYMBOLS = ["NSE:INFY", "NSE:TCS", "NSE:RELIANCE", "NSE:SBIN"]
FULL = market_data_pb2.TICK_MODE_FULL


def moment(received_us: int) -> datetime:
    return datetime.fromtimestamp(received_us / 1e6, UTC)


def without_receive_time(tick: market_data_pb2.Tick) -> market_data_pb2.Tick:
    copy = market_data_pb2.Tick()
    copy.CopyFrom(tick)
    copy.ClearField("receive_time")
    return copy


async def record_a_session(
    tmp_path: Path, sim: ThreadedSimulator, key: bytes
) -> tuple[Path, dict[str, market_data_pb2.Tick]]:
    """Stream SYMBOLS in full mode through a recording gateway while the market moves; returns the
    recording and the last tick the subscriber saw of each symbol."""
    stack = await start_stack(tmp_path / "recording", sim, key, gateway_record_dir=tmp_path / "recordings")
    stream = open_tick_stream(stack, *SYMBOLS, mode=FULL)
    last: dict[str, market_data_pb2.Tick] = {}
    try:
        for _ in range(3):
            await sim.advance_async(30)
            last.update(await ticks_until(stream, set(SYMBOLS)))
    finally:
        stream.cancel()
        await stop_stack(stack)
    [path] = (tmp_path / "recordings").glob("ZS0001-*.kgrec")
    return path, last


async def test_the_recording_holds_every_upstream_frame_and_replays_them_byte_for_byte(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    path, _ = await record_a_session(tmp_path, sim, sealing_key)
    recording = Recording(path)
    assert recording.header["account_id"] == "ZS0001"
    frames = list(recording.frames())
    packets = [(f.received_us, p) for f in frames if isinstance(f.payload, bytes) for p in split_message(f.payload)]
    assert {int.from_bytes(p[:4], "big") for _, p in packets} == {
        sim.universe.by_symbol[s].instrument_token for s in SYMBOLS
    }
    assert [f.received_us for f in frames] == sorted(f.received_us for f in frames)

    replay = Simulator(regular_hours(replay=path, start=first_frame_time(recording)))
    for received_us, packet in packets:
        instrument = replay.universe.by_token[int.from_bytes(packet[:4], "big")]
        assert encode_packet(replay.market.quote(instrument, moment(received_us)).snapshot(), "full") == packet


async def test_a_replayed_session_reaches_a_new_subscriber_with_the_recorded_ticks(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    path, recorded = await record_a_session(tmp_path, sim, sealing_key)
    frames = list(Recording(path).frames())
    replay = ThreadedSimulator(regular_hours(replay=path, start=moment(frames[-1].received_us), tick_interval=0.05))
    await replay.start()
    stack = await start_stack(tmp_path / "replaying", replay, sealing_key)
    stream = open_tick_stream(stack, *SYMBOLS, mode=FULL)
    try:
        replayed = await ticks_until(stream, set(SYMBOLS))
    finally:
        stream.cancel()
        await stop_stack(stack)
        await replay.stop()
    assert {s: without_receive_time(t) for s, t in replayed.items()} == {
        s: without_receive_time(t) for s, t in recorded.items()
    }


async def test_setting_the_replay_clock_back_rewinds_the_recording(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    path, _ = await record_a_session(tmp_path, sim, sealing_key)
    frames = [f for f in Recording(path).frames() if isinstance(f.payload, bytes) and len(f.payload) > 1]
    replay = Simulator(regular_hours(replay=path, start=moment(frames[0].received_us)))
    infy = replay.universe.by_symbol["NSE:INFY"]
    first = replay.market.quote(infy, moment(frames[0].received_us))
    later = replay.market.quote(infy, moment(frames[-1].received_us))
    assert first.last_price != later.last_price or first.volume != later.volume
    assert replay.market.quote(infy, moment(frames[0].received_us)) == first


async def test_instruments_the_recording_does_not_carry_follow_the_seeded_model(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    path, _ = await record_a_session(tmp_path, sim, sealing_key)
    start = first_frame_time(Recording(path))
    replay, plain = Simulator(regular_hours(replay=path, start=start)), Simulator(regular_hours(start=start))
    wipro = replay.universe.by_symbol["NSE:WIPRO"]
    assert replay.market.quote(wipro, start) == plain.market.quote(plain.universe.by_symbol["NSE:WIPRO"], start)


def test_a_replay_without_a_manual_clock_runs_on_the_recordings_time_at_its_speed(tmp_path: Path) -> None:
    path = tmp_path / "one.kgrec"
    started = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    path.write_bytes(
        gzip.compress(encode_header({"account_id": "ZS0001", "started": started.isoformat()}))
        + gzip.compress(encode_frame(int(started.timestamp() * 1e6), 0, b"\x00"))
    )
    simulator = Simulator(SimulatorConfig(replay=path, replay_speed=20))
    assert isinstance(simulator.clock, ScaledClock)
    assert (simulator.clock.start, simulator.clock.speed) == (started, 20)
    assert simulator.clock.now() >= started


def test_a_recording_cut_short_by_a_crash_reads_up_to_its_last_whole_frame(tmp_path: Path) -> None:
    path = tmp_path / "cut.kgrec"
    whole = gzip.compress(encode_header({"account_id": "ZS0001", "started": "2026-11-24T04:00:00+00:00"}))
    whole += gzip.compress(encode_frame(1, 0, b"one") + encode_frame(2, 0, '{"type":"order"}'))
    last = gzip.compress(encode_frame(3, 0, b"three"))
    path.write_bytes(whole + last[: len(last) // 2])
    assert [(f.received_us, f.payload) for f in Recording(path).frames()] == [(1, b"one"), (2, '{"type":"order"}')]


def test_a_file_that_is_not_a_recording_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.kgrec"
    path.write_bytes(gzip.compress(b"hello"))
    with pytest.raises(RecordingError, match="not a kite-gateway ticker recording"):
        Recording(path)
    result = subprocess.run(
        [sys.executable, "-m", "kite_gateway", "sim", "--replay", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert f"--replay={path}: cannot read it as a recording" in result.stderr
