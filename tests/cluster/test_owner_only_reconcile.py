"""Only the account's owner reconciles its order book into the log: on another replica the hub
mirrors the owner's upstream state, and a RECONNECTING/CONNECTED there must not open an outage
(its reconciliation would be a write by a replica that does not own the account)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from kite_gateway.storage import SqliteDatabase as Database
from kite_gateway.storage.order_updates import OrderUpdateLog
from kite_gateway.streaming.order_streams import OrderUpdates
from kite_gateway.streaming.tick_streams import TickStreams
from kite_gateway.streaming.ticks import UpstreamState
from tests.streaming.test_tick_hub import CountingEncoding


async def test_a_mirrored_disconnect_opens_an_outage_only_on_the_owner(tmp_path: Path) -> None:
    database = Database(tmp_path / "gateway.db")
    await database.open()
    owned: set[str] = set()
    streams = TickStreams("ws://127.0.0.1:1", CountingEncoding())
    updates = OrderUpdates(OrderUpdateLog(database), streams, owned.__contains__)
    session: Any = SimpleNamespace(account_id="ZS0001")
    try:
        updates._on_state(session, UpstreamState.CONNECTED, UpstreamState.RECONNECTING)
        assert "ZS0001" not in updates._outage_started  # not the owner: nothing to reconcile later
        owned.add("ZS0001")
        updates._on_state(session, UpstreamState.CONNECTED, UpstreamState.RECONNECTING)
        assert updates._outage_started["ZS0001"][1].name == "UPSTREAM_DISCONNECTED"
    finally:
        await updates.stop()
        await database.close()


def test_alone_every_account_is_owned() -> None:
    streams = TickStreams("ws://127.0.0.1:1", CountingEncoding())
    updates = OrderUpdates(OrderUpdateLog(Database(Path("unused.db"))), streams)
    assert updates.owns("anyone")
