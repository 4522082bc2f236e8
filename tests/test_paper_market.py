"""The paper market (`serve --paper`) survives restarts in the data directory, `--reset-paper`
starts it afresh (keeping the old state beside it), and `--regular-hours` rehearses closed markets."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from kite_gateway.app import serve
from kite_gateway.cli import EXIT_CONFIG, EXIT_STARTUP, main
from kite_gateway.config import Settings
from kite_gateway.grpc import StartupError
from kite_gateway.paper import PAPER_STATE_FILE, start_simulator
from kite_simulator import set_aside_state
from tests.simulator.conftest import login, place


def paper_settings(tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return Settings(gateway_data_dir=data, gateway_paper_listen="127.0.0.1:0")


async def orders_after_start(settings: Settings, reset: bool = False, trade: bool = False) -> list[str]:
    """Start the paper market as `serve --paper` does; ZS0001's order ids as it came up (after
    placing one more when `trade`), then stop it."""
    simulator, _ = await start_simulator(settings, "http://127.0.0.1/kite/callback", reset=reset)
    try:
        found = [o["order_id"] for o in simulator.orders("ZS0001")]
        if trade:
            kite = await asyncio.to_thread(login, simulator)
            found.append(await asyncio.to_thread(place, kite))
        return found
    finally:
        await simulator.stop()


async def test_the_paper_market_keeps_its_orders_across_a_restart_and_reset_paper_starts_it_afresh(
    tmp_path: Path,
) -> None:
    settings = paper_settings(tmp_path)
    (placed,) = await orders_after_start(settings, trade=True)
    assert await orders_after_start(settings) == [placed]  # a restart: the order is still there
    assert await orders_after_start(settings, reset=True) == []  # --reset-paper: a fresh market
    assert await orders_after_start(settings) == []  # and it stays fresh
    kept = settings.gateway_data_dir / f"{PAPER_STATE_FILE}.before-reset"
    assert placed in kept.read_text()  # the old state is set aside, not destroyed


async def test_regular_hours_gives_the_paper_market_the_exchange_sessions(tmp_path: Path) -> None:
    settings = paper_settings(tmp_path)
    for regular, always_open in ((False, True), (True, False)):
        simulator, _ = await start_simulator(settings, "http://127.0.0.1/kite/callback", regular_hours=regular)
        try:
            assert simulator.call(lambda s=simulator: s.sim.market.hours.always_open) is always_open
        finally:
            await simulator.stop()


def test_setting_aside_no_saved_state_is_a_no_op(tmp_path: Path) -> None:
    assert set_aside_state(tmp_path / "none.json") is None
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "argv",
    [["serve", "--regular-hours"], ["serve", "--reset-paper"], ["sim", "--reset"]],
)
def test_paper_only_flags_without_paper_or_a_reset_without_a_state_file_are_refused_before_anything_runs(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == EXIT_CONFIG
    assert "need" in capsys.readouterr().err


@pytest.mark.parametrize("refused", [["--listen", "bad"], ["--speed", "0"], ["--replay", "no-such-recording.kgrec"]])
def test_a_sim_reset_refused_for_another_flag_leaves_the_saved_state_in_place(
    refused: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "sim.json"
    state.write_text("{}")
    replay = [str(tmp_path / a) if a.endswith(".kgrec") else a for a in refused]
    assert main(["sim", "--reset", "--state-file", str(state), *replay]) == EXIT_CONFIG
    assert state.read_text() == "{}" and not (tmp_path / "sim.json.before-reset").exists(), capsys.readouterr().err


def test_sim_reset_sets_the_state_file_aside_before_the_simulator_starts(tmp_path: Path) -> None:
    state = tmp_path / "sim.json"
    state.write_text("{}")
    with socket.socket() as taken:  # the simulator's port is taken: it stops right after the reset
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        assert main(["sim", "--reset", "--state-file", str(state), "--listen", listen]) == EXIT_STARTUP
    assert not state.exists() and (tmp_path / "sim.json.before-reset").read_text() == "{}"


async def test_an_unreadable_paper_state_stops_the_start_saying_to_pass_reset_paper(tmp_path: Path) -> None:
    settings = paper_settings(tmp_path).model_copy(
        update={"gateway_listen": "127.0.0.1:0", "gateway_http_listen": "127.0.0.1:0"}
    )
    (settings.gateway_data_dir / PAPER_STATE_FILE).write_text("{not json")
    with pytest.raises(StartupError) as refused:
        await serve(settings, paper=True)
    said = str(refused.value)
    assert PAPER_STATE_FILE in said and "pass --reset-paper" in said
    assert "move" not in said  # moving the file alone would leave the gateway's records of its orders


async def test_the_paper_market_whitelists_the_demo_apps_ips_only_when_configured(tmp_path: Path) -> None:
    for given, expected in (("", {}), ("127.0.0.2, 127.0.0.3", {"sim_api_key": {"127.0.0.2", "127.0.0.3"}})):
        settings = paper_settings(tmp_path).model_copy(update={"gateway_paper_ip_whitelist": given})
        simulator, _ = await start_simulator(settings, "http://127.0.0.1/kite/callback")
        try:
            assert simulator.call(lambda s=simulator: s.sim.request_rules.ip_whitelist) == expected
        finally:
            await simulator.stop()
    with pytest.raises(ValueError, match="not an IP address"):
        Settings(gateway_paper_ip_whitelist="127.0.0.2,localhost")
