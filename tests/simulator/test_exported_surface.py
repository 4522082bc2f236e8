"""What kite_simulator exports is curated: what paper mode and the tests use; the rest is its modules'."""

from __future__ import annotations

import kite_simulator
import kite_simulator.engine
import kite_simulator.http


def test_the_package_exports_the_simulator_its_config_demo_users_faults_and_the_threaded_runner() -> None:
    assert kite_simulator.__all__ == [
        "DemoUser", "Fault", "OrderLimits", "Simulator", "SimulatorConfig", "SimulatorStateError", "ThreadedSimulator",
        "set_aside_state",
    ]  # fmt: skip
    assert all(getattr(kite_simulator, name) for name in kite_simulator.__all__)


def test_the_engine_and_http_packages_export_their_building_blocks() -> None:
    assert kite_simulator.engine.__all__ == [
        "Account",
        "OrderListener",
        "TradingEngine",
        "place_sliced",
        "wants_autoslice",
    ]
    assert kite_simulator.http.__all__ == [
        "AlertRoutes", "ControlRoutes", "GttRoutes", "KiteRequestRules", "MarginRoutes", "MarketRoutes", "OrderRoutes",
        "SessionRoutes", "build_app",
    ]  # fmt: skip
    for package in (kite_simulator.engine, kite_simulator.http):
        assert all(getattr(package, name) for name in package.__all__)
