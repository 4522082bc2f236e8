"""The daily report's order counts as the API gives them: statuses the OrderStatus enum does not
name (Kite's UPDATE, or one it adds) are one UNSPECIFIED row with their total, not one row each."""

from __future__ import annotations

from kite_gateway_api.v1 import order_pb2, report_pb2

from kite_gateway.core.reports import PnlLine
from kite_gateway.core.reports.service import DailyAccount
from kite_gateway.grpc.report_mapping import daily_account_pb


def test_statuses_the_enum_does_not_name_are_one_unspecified_row() -> None:
    report = DailyAccount("ZS0001", {"COMPLETE": 2, "LAPSED": 1, "UPDATE": 3}, (), PnlLine("ZS0001"), (), (), ())
    message = report_pb2.DailyAccountReport()
    daily_account_pb(report, message)
    rows = sorted((row.status, row.count) for row in message.orders)
    assert rows == [(order_pb2.ORDER_STATUS_UNSPECIFIED, 4), (order_pb2.ORDER_STATUS_COMPLETE, 2)]
