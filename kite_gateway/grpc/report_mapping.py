"""ReportService's messages from the report use cases' results (kite_gateway/core/reports), and the
requests' scopes, ranges and page tokens."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable

from kite_gateway_api.v1 import report_pb2

from kite_gateway.core.reports import (
    AccountPnl,
    Bucket,
    BucketPnl,
    Charges,
    DailyAccount,
    DailyReport,
    Fill,
    FillGap,
    PnlLine,
    PnlStatement,
    Scope,
    Segment,
    TaxLot,
    TaxReport,
    rules_used,
)
from kite_gateway.errors import invalid
from kite_gateway.grpc.alert_mapping import alert_pb
from kite_gateway.grpc.audit_rpcs import audit_event_pb
from kite_gateway.grpc.mapping import date_pb, decimal_pb, order_status_pb, product_pb, transaction_pb
from kite_gateway.grpc.page_tokens import fingerprint

SEGMENT_PB = {segment: report_pb2.ReportSegment.Value(f"REPORT_SEGMENT_{segment.name}") for segment in Segment}
SEGMENT_OF_PB: dict[int, Segment] = {int(value): segment for segment, value in SEGMENT_PB.items()}


def scope_of(message: report_pb2.ReportScope) -> Scope:
    return Scope(tuple(message.account_ids), message.account_group)


def segment_of(value: int) -> Segment | None:
    if value == report_pb2.REPORT_SEGMENT_UNSPECIFIED:
        return None
    if value not in SEGMENT_OF_PB:
        raise invalid("segment", f"{value} is not a ReportSegment")
    return SEGMENT_OF_PB[value]


# Page tokens: the last fill's sort key, bound to the request's filters ------------------------


def page_token(request: report_pb2.GetTradebookRequest, key: tuple[str, str, str, str]) -> str:
    body = json.dumps({"k": list(key), "f": fingerprint(request, "page_token", "page_size")}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def after_of(request: report_pb2.GetTradebookRequest) -> tuple[str, str, str, str] | None:
    token = request.page_token
    if not token:
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        key, digest = body["k"], str(body["f"])
        if not (isinstance(key, list) and len(key) == 4 and all(isinstance(k, str) for k in key)):
            raise ValueError(key)
    except (ValueError, KeyError, TypeError):
        raise invalid(
            "page_token", "not a page token of GetTradebook: pass next_page_token as it was returned"
        ) from None
    if digest != fingerprint(request, "page_token", "page_size"):
        raise invalid("page_token", "the filters changed since this page token was issued: start again without it")
    return (key[0], key[1], key[2], key[3])


# Messages ---------------------------------------------------------------------------------------


def charges_pb(charges: Charges, message: report_pb2.ReportCharges) -> None:
    for name in ("brokerage", "transaction_tax", "exchange_turnover_charge", "sebi_turnover_charge", "stamp_duty",
                 "gst", "dp", "total"):  # fmt: skip
        getattr(message, name).CopyFrom(decimal_pb(getattr(charges, name)))
    message.transaction_tax_type = charges.transaction_tax_type


def fill_pb(fill: Fill, message: report_pb2.Fill) -> None:
    message.account_id = fill.account_id
    message.trade_id = fill.trade_id
    message.order_id = fill.order_id
    message.symbol = fill.instrument
    message.instrument_token = fill.instrument_token & 0xFFFFFFFF
    message.transaction_type = transaction_pb(fill.side.value)
    message.product = product_pb(fill.product)
    message.quantity = fill.quantity
    message.price.CopyFrom(decimal_pb(fill.price))
    message.fill_time.FromDatetime(fill.filled_at)
    message.trade_date.CopyFrom(date_pb(fill.trade_date))
    message.segment = SEGMENT_PB[fill.segment]
    message.value.CopyFrom(decimal_pb(fill.value))


def gaps_pb(gaps: Iterable[FillGap], messages: object) -> None:
    for gap in gaps:
        message = messages.add()  # type: ignore[attr-defined]
        message.account_id = gap.account_id
        message.start.CopyFrom(date_pb(gap.start))
        message.end.CopyFrom(date_pb(gap.end))
        message.reason = gap.reason


def line_pb(line: PnlLine, message: report_pb2.PnlLine) -> None:
    message.key = line.key
    if line.segment is not None:
        message.segment = SEGMENT_PB[line.segment]
    for name in ("realised", "unrealised", "gross", "net", "buy_value", "sell_value"):
        getattr(message, name).CopyFrom(decimal_pb(getattr(line, name)))
    charges_pb(line.charges, message.charges)
    message.open_quantity = line.open_quantity
    if line.mark_price is not None:
        message.mark_price.CopyFrom(decimal_pb(line.mark_price))


def account_pnl_pb(account: AccountPnl, message: report_pb2.AccountPnl) -> None:
    message.account_id = account.account_id
    line_pb(account.total, message.total)
    for line in account.by_instrument:
        line_pb(line, message.by_instrument.add())
    for line in account.by_segment:
        line_pb(line, message.by_segment.add())
    for day in account.by_day:
        item = message.by_day.add()
        item.date.CopyFrom(date_pb(day.day))
        item.realised.CopyFrom(decimal_pb(day.realised))
        item.charges.CopyFrom(decimal_pb(day.charges))
        item.net.CopyFrom(decimal_pb(day.net))
        item.cumulative_net.CopyFrom(decimal_pb(day.cumulative_net))


def pnl_statement_pb(statement: PnlStatement, gaps: Iterable[FillGap]) -> report_pb2.GetPnlStatementResponse:
    response = report_pb2.GetPnlStatementResponse(
        estimated_charge_orders=statement.estimated_charge_orders,
        unmatched_sell_quantity=statement.unmatched_sell_quantity,
    )
    for account in statement.accounts:
        account_pnl_pb(account, response.accounts.add())
    account_pnl_pb(statement.consolidated, response.consolidated)
    gaps_pb(gaps, response.gaps)
    return response


def daily_account_pb(report: DailyAccount, message: report_pb2.DailyAccountReport) -> None:
    message.account_id = report.account_id
    counts: dict[int, int] = {}  # statuses the enum does not name (UNSPECIFIED) in one row, not one each
    for status, count in report.orders.items():
        counts[order_status_pb(status)] = counts.get(order_status_pb(status), 0) + count
    for value, count in counts.items():
        message.orders.add(status=value, count=count)
    for fill in report.fills:
        fill_pb(fill, message.fills.add())
    line_pb(report.pnl, message.pnl)
    for entry in report.risk_refusals:
        audit_event_pb(entry, message.risk_refusals.add())
    for entry in report.kill_switch_events:
        audit_event_pb(entry, message.kill_switch_events.add())
    for alert in report.alerts:
        message.alerts.append(alert_pb(alert))


def daily_report_pb(report: DailyReport) -> report_pb2.GetDailyReportResponse:
    response = report_pb2.GetDailyReportResponse()
    response.date.CopyFrom(date_pb(report.day))
    for account in report.accounts:
        daily_account_pb(account, response.accounts.add())
    daily_account_pb(report.consolidated, response.consolidated)
    gaps_pb(report.gaps, response.gaps)
    return response


BUCKET_PB = {
    Bucket.SHORT_TERM_CAPITAL_GAINS: report_pb2.TAX_BUCKET_SHORT_TERM_CAPITAL_GAINS,
    Bucket.LONG_TERM_CAPITAL_GAINS: report_pb2.TAX_BUCKET_LONG_TERM_CAPITAL_GAINS,
    Bucket.SPECULATIVE_BUSINESS: report_pb2.TAX_BUCKET_SPECULATIVE_BUSINESS,
    Bucket.NON_SPECULATIVE_BUSINESS: report_pb2.TAX_BUCKET_NON_SPECULATIVE_BUSINESS,
}


def tax_lot_pb(lot: TaxLot, message: report_pb2.TaxLot, business: bool) -> None:
    message.account_id = lot.account_id
    message.symbol = f"{lot.exchange}:{lot.symbol}"
    message.quantity = lot.quantity
    message.buy_date.CopyFrom(date_pb(lot.buy_date))
    message.buy_price.CopyFrom(decimal_pb(lot.buy_price))
    message.sell_date.CopyFrom(date_pb(lot.sell_date))
    message.sell_price.CopyFrom(decimal_pb(lot.sell_price))
    message.holding_days = lot.holding_days
    message.gross.CopyFrom(decimal_pb(lot.gross))
    charges_pb(lot.charges, message.charges)
    message.net.CopyFrom(decimal_pb(lot.gross - lot.deductible_charges))
    message.turnover.CopyFrom(decimal_pb(abs(lot.gross) if business else 0))


def bucket_pb(bucket: BucketPnl, message: report_pb2.TaxBucketReport) -> None:
    message.bucket = BUCKET_PB[bucket.bucket]
    message.section = bucket.section
    message.gross.CopyFrom(decimal_pb(bucket.gross))
    charges_pb(bucket.charges, message.charges)
    message.deductible_charges.CopyFrom(decimal_pb(bucket.deductible_charges))
    message.net.CopyFrom(decimal_pb(bucket.net))
    message.turnover.CopyFrom(decimal_pb(bucket.turnover if bucket.turnover is not None else 0))
    for lot in bucket.lots:
        tax_lot_pb(lot, message.lots.add(), not bucket.bucket.capital_gains)
    for period in bucket.rate_periods:
        message.rates.add(
            description=f"{period.rule}: transfers {period.transfer_from}"
            + (f" to {period.transfer_to}" if period.transfer_to else " onwards"),
            rate=decimal_pb(period.percent / 100),
            gain=decimal_pb(period.gain),
            exemption=decimal_pb(period.exemption),
            tax_at_rate=decimal_pb(period.tax),
        )


def tax_pnl_pb(report: TaxReport) -> report_pb2.GetTaxPnlResponse:
    response = report_pb2.GetTaxPnlResponse(financial_year=report.financial_year)
    for account_id, pnl in report.accounts:
        account = response.accounts.add(account_id=account_id)
        for bucket in pnl.buckets.values():
            if bucket.lots:
                bucket_pb(bucket, account.buckets.add())
        for sell in pnl.unmatched:
            account.unmatched_sells.add(account_id=sell.account_id, symbol=f"{sell.exchange}:{sell.symbol}",
                                        sell_date=date_pb(sell.sell_date), quantity=sell.quantity,
                                        sell_price=decimal_pb(sell.sell_price))  # fmt: skip
    for rule in rules_used(report.rules, report.financial_year):
        response.rules.add(name=rule.name, value=rule.value, source=rule.source, taken_on=rule.taken_on)
    gaps_pb(report.gaps, response.gaps)
    response.not_covered.extend(report.rules.out_of_scope)
    return response
