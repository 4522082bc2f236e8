"""Rotating the sealing key as an operator does: the gateway runs with key A, restarts with "B,A",
`kite-gateway rekey` (a child process, reading the same environment) re-seals, and it restarts with B
alone and still opens its accounts. On whichever backend the run selects."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from kite_gateway_api.v1 import account_pb2, order_pb2

from kite_gateway.app import App
from kite_gateway.storage.sealing import Sealer, SealingError
from kite_simulator import ThreadedSimulator
from tests.e2e.conftest import Stack, make_settings, market_buy, start_stack, stop_stack
from tests.e2e.test_autoslice import completed_updates
from tests.test_cli import run_cli

ACTIVE = account_pb2.SESSION_STATE_ACTIVE


async def _listed(tmp_path: Path, sim: ThreadedSimulator, keys: bytes) -> list[tuple[str, int]]:
    stack = await start_stack(tmp_path, sim, keys, login=False)
    try:
        listed = await stack.accounts.ListAccounts(account_pb2.ListAccountsRequest())
        return [(a.account_id, a.session_state) for a in listed.accounts]
    finally:
        await stop_stack(stack)


async def _trading_data(stack: Stack, order_id: str) -> tuple[list[str], str]:
    """The audited request of "rotate-1" and the order's completed update, read back through the API."""
    audit = await stack.orders.ListAuditEvents(
        order_pb2.ListAuditEventsRequest(account_id="ZS0001", client_order_id="rotate-1")
    )
    updates = await completed_updates(stack, {order_id})
    return [e.request_json for e in audit.events], updates[order_id].symbol


async def test_a_gateway_rotated_from_key_a_to_b_through_rekey_still_opens_its_accounts(
    tmp_path: Path, sim: ThreadedSimulator
) -> None:
    a, b = Sealer.generate_key(), Sealer.generate_key()
    first = await start_stack(tmp_path, sim, a)  # logs the demo accounts in under A, and trades
    try:
        order_id = (await first.orders.PlaceOrder(order_pb2.PlaceOrderRequest(
            account_id="ZS0001", client_order_id="rotate-1", params=market_buy("NSE:INFY")))).order_id  # fmt: skip
        before = await _trading_data(first, order_id)
        stored = repr([tuple(r) for r in await first.runtime.database.fetch_all(
            "SELECT payload FROM order_updates UNION ALL SELECT request_json FROM audit")])  # fmt: skip
    finally:
        await stop_stack(first)
    assert "INFY" in before[0][0] and "INFY" in before[1]
    assert "INFY" not in stored and "rotate-1" not in stored  # sealed at rest
    with pytest.raises(SealingError, match=r"does not open the credentials stored in.*kite-gateway rekey"):
        await App.open(make_settings(tmp_path, sim, b))  # B alone, before the rekey
    accounts = [("ZS0001", ACTIVE), ("ZS0002", ACTIVE)]
    assert await _listed(tmp_path, sim, b + b"," + a) == accounts

    env = {"KITE_GATEWAY_SECRET_KEY": f"{b.decode()},{a.decode()}", "KITE_GATEWAY_DATA_DIR": str(tmp_path / "data")}
    done = run_cli("rekey", env=env)
    assert done.returncode == 0, done.stderr
    assert "(1 api secrets, 2 access tokens, " in done.stdout and "1 hashing key, 1 key check)" in done.stdout
    assert " 0 order updates" not in done.stdout and " 0 audit request bodies" not in done.stdout
    assert "can be removed" in done.stdout
    assert a.decode() not in done.stdout + done.stderr and b.decode() not in done.stdout + done.stderr
    again = run_cli("rekey", env=env)
    assert again.returncode == 0 and "re-sealed 0 stored values" in again.stdout

    last = await start_stack(tmp_path, sim, b, login=False)  # the old key removed
    try:
        listed = await last.accounts.ListAccounts(account_pb2.ListAccountsRequest())
        assert [(a.account_id, a.session_state) for a in listed.accounts] == accounts
        assert await _trading_data(last, order_id) == before  # the audit trail and the order updates, re-sealed
    finally:
        await stop_stack(last)


async def test_rekey_with_no_key_that_opens_the_database_fails_naming_what_to_do(
    tmp_path: Path, sim: ThreadedSimulator
) -> None:
    await stop_stack(await start_stack(tmp_path, sim, Sealer.generate_key()))
    env = {"KITE_GATEWAY_SECRET_KEY": Sealer.generate_key().decode(), "KITE_GATEWAY_DATA_DIR": str(tmp_path / "data")}
    failed = run_cli("rekey", env=env)
    assert failed.returncode == 1
    assert "does not open the credentials" in failed.stderr and "Traceback" not in failed.stderr
    nowhere = run_cli("rekey", env={**env, "KITE_GATEWAY_DATA_DIR": str(tmp_path / "empty")})
    if "KITE_GATEWAY_DATABASE_URL" not in os.environ:  # SQLite: no database there, none made
        assert nowhere.returncode == 1 and "no gateway database" in nowhere.stderr
        assert not (tmp_path / "empty").exists()
