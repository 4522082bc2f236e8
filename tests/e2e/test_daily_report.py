"""The daily report's risk section against the paper gateway on the simulator's day (days behind the
real clock): a kill switch engaged and released, an order refused by it, an order refused by a risk
limit, each listed under its account with its message and once in the consolidated section."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from kite_gateway_api.v1 import order_pb2, report_pb2

from kite_simulator import ThreadedSimulator
from tests.e2e.conftest import Stack, market_buy, start_stack, stop_stack
from tests.e2e.test_reports import eventually_async, pb_date, reports_of, scope, today

ACCOUNT = "ZS0001"


@pytest.fixture
async def guarded(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> AsyncIterator[Stack]:
    (tmp_path / "risk.toml").write_text("[default]\nmax_order_quantity = 5\n")
    running = await start_stack(tmp_path, sim, sealing_key, gateway_risk_file=tmp_path / "risk.toml")
    yield running
    await stop_stack(running)


async def refused(stack: Stack, client_order_id: str, quantity: int) -> str:
    request = order_pb2.PlaceOrderRequest(account_id=ACCOUNT, client_order_id=client_order_id,
                                          params=market_buy("NSE:INFY", quantity))  # fmt: skip
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.orders.PlaceOrder(request)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    return caught.value.details() or ""


async def test_the_daily_report_of_the_simulators_day_lists_the_risk_refusals_and_kill_switch_changes_once(
    guarded: Stack,
) -> None:
    stack = guarded
    assert (
        stack.sim.clock.now().date() != datetime.now(UTC).date()
    )  # the clocks disagree: the audit must use the gateway's
    await stack.orders.SetKillSwitch(order_pb2.SetKillSwitchRequest(account_id=ACCOUNT, engaged=True, reason="drill"))
    by_switch = await refused(stack, "dr-1", 1)
    await stack.orders.SetKillSwitch(order_pb2.SetKillSwitchRequest(account_id=ACCOUNT, engaged=False, reason="done"))
    by_limit = await refused(stack, "dr-2", 6)
    assert "kill switch" in by_switch and by_limit.startswith("risk limit max_order_quantity")

    daily = await reports_of(stack).GetDailyReport(
        report_pb2.GetDailyReportRequest(scope=scope(ACCOUNT), date=pb_date(today(stack)))
    )
    (account,) = daily.accounts
    assert [(e.client_order_id, e.outcome) for e in account.risk_refusals] == [("dr-1", by_switch), ("dr-2", by_limit)]
    switches = [(e.action, '"engaged": true' in e.request_json) for e in account.kill_switch_events]
    assert switches == [(order_pb2.AUDIT_ACTION_SET_KILL_SWITCH, True), (order_pb2.AUDIT_ACTION_SET_KILL_SWITCH, False)]
    assert all(e.time.ToDatetime().date() == stack.sim.clock.now().date() for e in account.kill_switch_events)
    consolidated = daily.consolidated
    assert [e.event_id for e in consolidated.risk_refusals] == [e.event_id for e in account.risk_refusals]
    assert [e.event_id for e in consolidated.kill_switch_events] == [e.event_id for e in account.kill_switch_events]


async def test_an_alert_fired_on_the_simulators_day_is_listed_under_its_account_and_once_consolidated(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    (tmp_path / "risk.toml").write_text("[default]\nmax_order_quantity = 5\n")
    (tmp_path / "alerts.toml").write_text(
        f'[[alerts.rules]]\nid = "refusals"\nkind = "RISK_REFUSAL_RATE"\nscope = "{ACCOUNT}"\n'
        "max_refusals = 0\nwindow_seconds = 600\n"
    )
    stack = await start_stack(tmp_path, sim, sealing_key, gateway_risk_file=tmp_path / "risk.toml",
                              gateway_alerts_file=tmp_path / "alerts.toml")  # fmt: skip
    try:
        await stack.runtime.alerting.start()
        await refused(stack, "al-1", 6)
        await eventually_async(lambda: fired(stack), "the refusal alert is stored")
        daily = await reports_of(stack).GetDailyReport(
            report_pb2.GetDailyReportRequest(scope=scope(ACCOUNT, "ZS0002"), date=pb_date(today(stack)))
        )
        alerts = {a.account_id: [x.rule_id for x in a.alerts] for a in daily.accounts}
        assert alerts == {ACCOUNT: ["refusals"], "ZS0002": []}
        assert [x.rule_id for x in daily.consolidated.alerts] == ["refusals"]
    finally:
        await stack.runtime.alerting.stop()
        await stop_stack(stack)


async def fired(stack: Stack) -> bool:
    await stack.runtime.alerting.center.process_pending()
    store = stack.runtime.alerting.store
    assert store is not None
    return bool(await store.between(datetime(2000, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)))
