"""Paper mode is consistent across restarts: with a state file the simulator comes back with every
order, trade, position, holding, fund, GTT and alert as it left them, and ids never repeat, with or
without saved state."""

from __future__ import annotations

import dataclasses
import json
import stat
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from kiteconnect import KiteConnect

from kite_simulator import SimulatorConfig
from kite_simulator.snapshot import SimulatorStateError
from kite_simulator.threaded import ThreadedSimulator
from tests.simulator.conftest import MORNING, login, place, regular_hours
from tests.simulator.http.test_alerts import call, simple


def books(kite: KiteConnect) -> dict[str, Any]:
    """Everything an account shows through Kite's API."""
    orders = kite.orders()
    return {
        "orders": orders,
        "history": {o["order_id"]: kite.order_history(o["order_id"]) for o in orders},
        "trades": kite.trades(),
        "positions": kite.positions(),
        "holdings": kite.holdings(),
        "margins": kite.margins(),
        "gtts": kite.get_gtts(),
        "alerts": {
            a["uuid"]: (a, call(kite, "GET", f"/alerts/{a['uuid']}/history")[1]["data"])
            for a in call(kite, "GET", "/alerts")[1]["data"]
        },
    }


def trade_a_little(threaded: ThreadedSimulator, kite: KiteConnect) -> None:
    sim = threaded.sim
    price = threaded.call(lambda: sim.engine.quote(sim.universe.by_symbol["NSE:INFY"]).last_price)
    place(kite)  # filled
    place(kite, transaction_type="SELL", quantity=2)  # from holdings
    place(kite, order_type="LIMIT", price=float(price - 40), product="MIS")  # resting
    place(kite, variety="iceberg", quantity=30, iceberg_legs=3, iceberg_quantity=10, product="MIS")
    trigger = float(price * Decimal("1.01") // Decimal("0.05") * Decimal("0.05"))
    leg = {"transaction_type": "SELL", "quantity": 1, "order_type": "LIMIT", "product": "CNC", "price": trigger}
    kite.place_gtt(kite.GTT_TYPE_SINGLE, "INFY", "NSE", [trigger], float(price), [leg])
    call(kite, "POST", "/alerts", data=simple("<=", price * 2))  # triggers at the next step
    call(kite, "POST", "/alerts", data=simple(">=", price * 2))  # never does
    threaded.advance(5)


def test_a_restarted_simulator_with_a_state_file_shows_every_order_trade_position_fund_gtt_and_alert(
    tmp_path: Path,
) -> None:
    config = regular_hours(state_file=tmp_path / "sim.json")
    with ThreadedSimulator(config) as first:
        kite = login(first)
        trade_a_little(first, kite)
        before = books(kite)
        assert sorted(len(history) for _, history in before["alerts"].values()) == [0, 1]  # one triggered
        stopped = first.sim.clock.now()
    with ThreadedSimulator(dataclasses.replace(config, start=stopped)) as second:  # its clock goes on from there
        kite = login(second)
        assert books(kite) == before
        new = place(kite)
    assert new not in {o["order_id"] for o in before["orders"]}
    assert stat.S_IMODE((tmp_path / "sim.json").stat().st_mode) == 0o600


def test_every_answered_placement_is_saved_before_its_answer(tmp_path: Path) -> None:
    path = tmp_path / "sim.json"
    with ThreadedSimulator(regular_hours(state_file=path)) as running:
        kite = login(running)
        order_id = place(kite)
        saved = json.loads(path.read_text())  # read while the simulator still runs
    assert order_id in {o["order_id"] for o in saved["accounts"]["ZS0001"]["orders"]}


def test_order_and_gtt_ids_never_repeat_after_a_restart_even_without_saved_state() -> None:
    ids = []
    for start in (MORNING, MORNING + timedelta(seconds=1)):
        with ThreadedSimulator(regular_hours(start=start)) as running:
            kite = login(running)
            price = running.call(lambda r=running: r.sim.engine.quote(r.sim.universe.by_symbol["NSE:INFY"]).last_price)
            trigger = float(price * Decimal("1.01") // Decimal("0.05") * Decimal("0.05"))
            leg = {"transaction_type": "SELL", "quantity": 1, "order_type": "LIMIT", "product": "CNC", "price": trigger}
            gtt = kite.place_gtt(kite.GTT_TYPE_SINGLE, "INFY", "NSE", [trigger], float(price), [leg])["trigger_id"]
            ids.append((place(kite), kite.trades()[0]["trade_id"], gtt))
    (order_a, trade_a, gtt_a), (order_b, trade_b, gtt_b) = ids
    assert order_b > order_a and trade_b > trade_a and gtt_b > gtt_a


def test_a_damaged_state_file_stops_the_simulator_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "sim.json"
    path.write_text('{"format": 1, "accounts": {"ZS0001": {"orders": [')
    with (
        pytest.raises(SimulatorStateError, match="not valid JSON"),
        ThreadedSimulator(SimulatorConfig(start=MORNING, state_file=path)),
    ):
        pass
