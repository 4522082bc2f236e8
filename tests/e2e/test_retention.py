"""The gateway prunes on a schedule: its keeper runs the retention windows its settings give, every
KITE_GATEWAY_RETENTION_INTERVAL seconds, and counts the rows each round prunes in a metric."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kite_gateway import app as app_module
from kite_gateway.observability import REGISTRY
from kite_gateway.storage.retention import AUDIT, FILLS, ORDER_UPDATES, Retention
from kite_simulator import ThreadedSimulator
from tests.e2e.conftest import start_stack, stop_stack


async def test_the_gateways_keeper_prunes_by_the_configured_windows_and_counts_the_rows_pruned(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = await start_stack(
        tmp_path,
        sim,
        sealing_key,
        login=False,
        gateway_retention_order_updates_days=30,
        gateway_retention_audit_days=0,
        gateway_retention_interval=600,
    )
    kept: list[tuple[Retention, float, Any]] = []

    async def keep_pruning(retention: Retention, every: float, on_pruned: Any) -> None:
        kept.append((retention, every, on_pruned))

    monkeypatch.setattr(app_module, "keep_pruning", keep_pruning)
    try:
        await stack.runtime.keep_retention()
    finally:
        await stop_stack(stack)
    ((retention, every, on_pruned),) = kept
    assert retention.windows == {ORDER_UPDATES: 30, AUDIT: 0, FILLS: 2922} and every == 600
    assert retention.database is stack.runtime.database
    before = REGISTRY.get_sample_value("kite_gateway_retention_pruned_rows_total", {"table": ORDER_UPDATES}) or 0
    on_pruned({ORDER_UPDATES: 7})
    after = REGISTRY.get_sample_value("kite_gateway_retention_pruned_rows_total", {"table": ORDER_UPDATES})
    assert after == before + 7
