"""ReportService scopes a caller may get wrong: an account named twice (or also through a group) is
reported once; a page token of one scope is refused for another; a group naming an account the
gateway does not know is NOT_FOUND naming that account, not a report that silently leaves it out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from kite_gateway_api.v1 import report_pb2

from kite_simulator import ThreadedSimulator
from tests.e2e.conftest import Stack, start_stack, stop_stack, strategies_file
from tests.e2e.test_reports import days, reports_of, seeded, today

GROUPS = '[account_groups]\nfirst = ["ZS0001"]\nstray = ["ZS0001", "XX0000"]\n'


@pytest.fixture
async def grouped(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> AsyncIterator[Stack]:
    running = await start_stack(tmp_path, sim, sealing_key, gateway_strategies_file=strategies_file(tmp_path, GROUPS))
    day = today(running)
    await running.runtime.fill_recorder.fills.record(  # type: ignore[union-attr]
        [seeded(day, f"10:0{n}:00", "BUY", 1, "100", f"O{n}", f"T{n}") for n in range(3)], "test", datetime.now(UTC)
    )
    yield running
    await stop_stack(running)


async def test_an_account_named_twice_and_through_a_group_is_reported_once(grouped: Stack) -> None:
    reports, day = reports_of(grouped), today(grouped)
    twice = report_pb2.ReportScope(account_ids=["ZS0001", "ZS0001"], account_group="first")
    book = await reports.GetTradebook(report_pb2.GetTradebookRequest(scope=twice, dates=days(day, day)))
    assert [f.trade_id for f in book.fills] == ["T0", "T1", "T2"]
    pnl = await reports.GetPnlStatement(report_pb2.GetPnlStatementRequest(scope=twice, dates=days(day, day)))
    assert [a.account_id for a in pnl.accounts] == ["ZS0001"]
    assert pnl.consolidated.total.open_quantity == 3
    daily = await reports.GetDailyReport(report_pb2.GetDailyReportRequest(scope=twice, date=days(day, day).start))
    assert [a.account_id for a in daily.accounts] == ["ZS0001"] and len(daily.consolidated.fills) == 3


async def test_a_page_token_of_one_scope_is_refused_for_another(grouped: Stack) -> None:
    reports, day = reports_of(grouped), today(grouped)
    first = report_pb2.GetTradebookRequest(scope=report_pb2.ReportScope(account_ids=["ZS0001"]),
                                           dates=days(day, day), page_size=1)  # fmt: skip
    token = (await reports.GetTradebook(first)).next_page_token
    assert token
    other = report_pb2.GetTradebookRequest(scope=report_pb2.ReportScope(account_ids=["ZS0002"]),
                                           dates=days(day, day), page_size=1, page_token=token)  # fmt: skip
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await reports.GetTradebook(other)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "filters changed" in (refused.value.details() or "")


async def test_a_group_with_a_member_the_gateway_does_not_know_is_not_found_naming_it(grouped: Stack) -> None:
    reports, day = reports_of(grouped), today(grouped)
    request = report_pb2.GetPnlStatementRequest(scope=report_pb2.ReportScope(account_group="stray"),
                                                dates=days(day, day))  # fmt: skip
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await reports.GetPnlStatement(request)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND and "XX0000" in (refused.value.details() or "")
