"""ReportService's answers as documents to download (kite_gateway/report_render): the same numbers
the RPC answered, laid out as tables, with charts where people look rather than read (an equity
curve, P&L by day, exposure by segment, P&L by account). Built from the response messages, so a
download is exactly what the API says."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from google.type.date_pb2 import Date
from google.type.decimal_pb2 import Decimal as Decimal_pb
from kite_gateway_api.v1 import alert_pb2, common_pb2, order_pb2, report_pb2

from kite_gateway.report_render import BarChart, Cell, Document, LineChart, Note, Section, Table

CHARGE_LINES = (("Brokerage", "brokerage"), ("STT/CTT", "transaction_tax"), ("Exchange", "exchange_turnover_charge"),
                ("SEBI", "sebi_turnover_charge"), ("Stamp duty", "stamp_duty"), ("GST", "gst"), ("DP", "dp"),
                ("Total", "total"))  # fmt: skip


def amount(value: Decimal_pb) -> Decimal:
    return Decimal(value.value or "0")


def day_of(value: Date) -> date | None:
    return date(value.year, value.month, value.day) if value.year else None


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    try:
        return str(enum.Name(value)).removeprefix(prefix)
    except ValueError:
        return str(value)


def segment_name(value: int) -> str:
    return _enum_name(report_pb2.ReportSegment, value, "REPORT_SEGMENT_").lower().replace("_", " ")


def _range_text(dates: report_pb2.DateRange) -> str:
    return f"{day_of(dates.start)} to {day_of(dates.end)}"


def _scope_text(scope: report_pb2.ReportScope, accounts: Iterable[str]) -> str:
    named = sorted(set(accounts))
    group = f"group {scope.account_group}: " if scope.account_group else ""
    return group + (", ".join(named) if named else "no accounts")


def gaps_block(gaps: Sequence[report_pb2.FillGap]) -> tuple[Table | Note, ...]:
    if not gaps:
        return (Note("The fill log has no gaps over this report: every trading day was reconciled with Kite."),)
    rows = tuple((g.account_id, day_of(g.start), day_of(g.end), g.reason) for g in gaps)
    return (Note("The fill log may be missing fills on these days: the figures below can be incomplete."),
            Table("gaps", "Gaps in the fill log", ("Account", "From", "To", "Why"), rows))  # fmt: skip


def fills_table(table_id: str, title: str, fills: Iterable[report_pb2.Fill]) -> Table:
    rows = tuple(
        (
            day_of(f.trade_date),
            f.fill_time.ToDatetime().strftime("%H:%M:%S") + " UTC",
            f.account_id,
            f.symbol,
            _enum_name(common_pb2.TransactionType, f.transaction_type, "TRANSACTION_TYPE_"),
            _enum_name(common_pb2.Product, f.product, "PRODUCT_"),
            int(f.quantity),
            amount(f.price),
            amount(f.value),
            f.trade_id,
            f.order_id,
        )
        for f in fills
    )
    columns = ("Date", "Time", "Account", "Instrument", "Side", "Product", "Quantity", "Price (₹)", "Value (₹)",
               "Trade id", "Order id")  # fmt: skip
    return Table(table_id, title, columns, rows)


# Tradebook --------------------------------------------------------------------------------------


def tradebook_document(
    request: report_pb2.GetTradebookRequest, fills: Sequence[report_pb2.Fill], gaps: Sequence[report_pb2.FillGap],
    truncated: bool,
) -> Document:  # fmt: skip
    bought = sum((amount(f.value) for f in fills if f.transaction_type == common_pb2.TRANSACTION_TYPE_BUY), Decimal(0))
    sold = sum((amount(f.value) for f in fills if f.transaction_type == common_pb2.TRANSACTION_TYPE_SELL), Decimal(0))
    blocks: list[Table | Note] = [fills_table("fills", "Fills", fills)]
    if truncated:
        blocks.append(Note(f"Only the first {len(fills)} fills are shown: narrow the range or the filters."))
    return Document(
        "tradebook",
        "Tradebook",
        f"{_scope_text(request.scope, (f.account_id for f in fills))}, {_range_text(request.dates)} (IST)",
        (("Fills", len(fills)), ("Bought (₹)", bought), ("Sold (₹)", sold)),
        (Section("Fills", tuple(blocks)), Section("Completeness", gaps_block(gaps))),
    )


# P&L statement ---------------------------------------------------------------------------------


def _line_row(line: report_pb2.PnlLine, key: str) -> tuple[Cell, ...]:
    return (key, amount(line.realised), amount(line.unrealised), amount(line.charges.total), amount(line.net),
            amount(line.buy_value), amount(line.sell_value), int(line.open_quantity),
            amount(line.mark_price) if line.HasField("mark_price") else None)  # fmt: skip


PNL_COLUMNS = ("", "Realised (₹)", "Unrealised (₹)", "Charges (₹)", "Net (₹)", "Bought (₹)", "Sold (₹)",
               "Open quantity", "Mark (₹)")  # fmt: skip


def exposure_by_segment(lines: Iterable[report_pb2.PnlLine]) -> tuple[tuple[str, Decimal], ...]:
    """Open exposure (|quantity| x mark, or nothing where no mark was read) by segment."""
    exposure: dict[str, Decimal] = {}
    for line in lines:
        if line.open_quantity and line.HasField("mark_price"):
            name = segment_name(line.segment)
            exposure[name] = exposure.get(name, Decimal(0)) + abs(line.open_quantity) * amount(line.mark_price)
    return tuple(sorted(exposure.items()))


def charges_table(table_id: str, title: str, rows: Iterable[tuple[str, report_pb2.ReportCharges]]) -> Table:
    body: tuple[tuple[Cell, ...], ...] = tuple(
        (key, *(amount(getattr(c, field)) for _, field in CHARGE_LINES)) for key, c in rows
    )
    return Table(table_id, title, ("", *(f"{name} (₹)" for name, _ in CHARGE_LINES)), body)


def pnl_document(request: report_pb2.GetPnlStatementRequest, response: report_pb2.GetPnlStatementResponse) -> Document:
    total = response.consolidated.total
    days = response.consolidated.by_day
    charts: list[LineChart | BarChart | Note] = [
        LineChart("equity_curve", "Equity curve (cumulative net realised P&L)",
                  tuple((str(day_of(d.date)), amount(d.cumulative_net)) for d in days)),
        BarChart("pnl_by_day", "Net P&L by day", tuple((str(day_of(d.date)), amount(d.net)) for d in days)),
        BarChart("exposure_by_segment", "Open exposure by segment",
                 exposure_by_segment(response.consolidated.by_instrument)),
    ]  # fmt: skip
    if len(response.accounts) > 1:
        charts.append(BarChart("pnl_by_account", "Net P&L by account",
                               tuple((a.account_id, amount(a.total.net)) for a in response.accounts)))  # fmt: skip
    notes: list[Table | Note] = []
    if response.estimated_charge_orders:
        notes.append(Note(f"{response.estimated_charge_orders} order(s) carry charges estimated from the gateway's "
                          "dated rate table: Kite's contract note could not be read for them."))  # fmt: skip
    if response.unmatched_sell_quantity:
        notes.append(Note(f"{response.unmatched_sell_quantity} unit(s) were sold with no buy in the fill log (bought "
                          "before it began): they are left out of the P&L, their cost being unknown."))  # fmt: skip
    return Document(
        "pnl",
        "P&L statement",
        f"{_scope_text(request.scope, (a.account_id for a in response.accounts))}, {_range_text(request.dates)} (IST)",
        (("Realised (₹)", amount(total.realised)), ("Unrealised (₹)", amount(total.unrealised)),
         ("Charges (₹)", amount(total.charges.total)), ("Net (₹)", amount(total.net))),
        (
            Section("At a glance", tuple(charts)),
            Section("By account", (Table("accounts", "By account", PNL_COLUMNS,
                                         tuple(_line_row(a.total, a.account_id) for a in response.accounts)),)),
            Section("By instrument", (Table("instruments", "By instrument", PNL_COLUMNS,
                                            tuple(_line_row(x, x.key) for x in response.consolidated.by_instrument)),)),
            Section("By segment", (Table("segments", "By segment", PNL_COLUMNS,
                                         tuple(_line_row(x, segment_name(x.segment))
                                               for x in response.consolidated.by_segment)),
                                   charges_table("segment_charges", "Charges by segment",
                                                 ((segment_name(x.segment), x.charges)
                                                  for x in response.consolidated.by_segment)))),
            Section("By day", (Table("days", "By day", ("Date", "Realised (₹)", "Charges (₹)", "Net (₹)",
                                                         "Cumulative net (₹)"),
                                     tuple((day_of(d.date), amount(d.realised), amount(d.charges), amount(d.net),
                                            amount(d.cumulative_net)) for d in days)),)),
            Section("Completeness", (*notes, *gaps_block(response.gaps))),
        ),
    )  # fmt: skip


# Tax P&L ----------------------------------------------------------------------------------------


def bucket_name(value: int) -> str:
    return _enum_name(report_pb2.TaxBucket, value, "TAX_BUCKET_").lower().replace("_", " ")


def tax_document(request: report_pb2.GetTaxPnlRequest, response: report_pb2.GetTaxPnlResponse) -> Document:
    year = response.financial_year
    sections: list[Section] = []
    summary: list[tuple[Cell, ...]] = []
    for account in response.accounts:
        for bucket in account.buckets:
            summary.append((account.account_id, bucket_name(bucket.bucket), bucket.section, amount(bucket.gross),
                            amount(bucket.deductible_charges), amount(bucket.net),
                            amount(bucket.turnover)))  # fmt: skip
            lots = tuple((lot.symbol, int(lot.quantity), day_of(lot.buy_date), amount(lot.buy_price),
                          day_of(lot.sell_date), amount(lot.sell_price), int(lot.holding_days), amount(lot.gross),
                          amount(lot.charges.total), amount(lot.net), amount(lot.turnover))
                         for lot in bucket.lots)  # fmt: skip
            rates = tuple((r.description, amount(r.rate), amount(r.gain), amount(r.exemption), amount(r.tax_at_rate))
                          for r in bucket.rates)  # fmt: skip
            blocks: list[Table | Note] = [
                Table(f"lots_{account.account_id}_{bucket.bucket}", f"{bucket_name(bucket.bucket).capitalize()} lots",
                      ("Instrument", "Quantity", "Bought", "Buy price (₹)", "Sold", "Sell price (₹)", "Days held",
                       "Gross (₹)", "Charges (₹)", "Net (₹)", "Turnover (₹)"), lots),
                charges_table(f"charges_{account.account_id}_{bucket.bucket}", "Charges", (("", bucket.charges),)),
            ]  # fmt: skip
            if rates:
                blocks.append(Table(f"rates_{account.account_id}_{bucket.bucket}", "Rates",
                                    ("Rate", "Rate (fraction)", "Gain (₹)", "Exemption (₹)", "Gain x rate (₹)"),
                                    rates))  # fmt: skip
            sections.append(Section(f"{account.account_id}: {bucket_name(bucket.bucket)} ({bucket.section})",
                                    tuple(blocks)))  # fmt: skip
        if account.unmatched_sells:
            sections.append(Section(f"{account.account_id}: sells with no recorded buy", (Table(
                f"unmatched_{account.account_id}", "Sells with no recorded buy (cost unknown)",
                ("Instrument", "Sold", "Quantity", "Price (₹)"),
                tuple((u.symbol, day_of(u.sell_date), int(u.quantity), amount(u.sell_price))
                      for u in account.unmatched_sells)),)))  # fmt: skip
    nets = [(bucket_name(b.bucket), amount(b.net)) for a in response.accounts for b in a.buckets]
    by_bucket: dict[str, Decimal] = {}
    for name, net in nets:
        by_bucket[name] = by_bucket.get(name, Decimal(0)) + net
    return Document(
        "tax_pnl",
        f"Tax P&L, FY {year}-{(year + 1) % 100:02d}",
        f"{_scope_text(request.scope, (a.account_id for a in response.accounts))}; 1 April {year} to "
        f"31 March {year + 1}",
        tuple((f"{name.capitalize()} (₹)", net) for name, net in sorted(by_bucket.items())),
        (
            Section("Summary", (BarChart("net_by_bucket", "Net by income head", tuple(sorted(by_bucket.items()))),
                                Table("summary", "Buckets", ("Account", "Bucket", "Section", "Gross (₹)",
                                                             "Deductible charges (₹)", "Net (₹)", "Turnover (₹)"),
                                      tuple(summary)))),
            *sections,
            Section("Rules and rates used", (Table("rules", "Rules and rates", ("Rule", "Value", "Source", "Taken on"),
                                                   tuple((r.name, r.value, r.source, r.taken_on)
                                                         for r in response.rules)),)),
            Section("Not covered", tuple(Note(text) for text in response.not_covered)
                    or (Note("Nothing listed."),)),
            Section("Completeness", gaps_block(response.gaps)),
        ),
    )  # fmt: skip


# Daily report -----------------------------------------------------------------------------------


def _audit_rows(events: Iterable[order_pb2.AuditEvent]) -> tuple[tuple[Cell, ...], ...]:
    return tuple((e.time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S") + " UTC", e.account_id or "gateway", e.principal,
                  _enum_name(order_pb2.AuditAction, e.action, "AUDIT_ACTION_"), e.outcome) for e in events)  # fmt: skip


def daily_document(request: report_pb2.GetDailyReportRequest, response: report_pb2.GetDailyReportResponse) -> Document:
    day = day_of(response.date)
    whole = response.consolidated
    audit_columns = ("Time", "Account", "Principal", "Action", "Outcome")
    return Document(
        "daily",
        f"Daily report, {day}",
        _scope_text(request.scope, (a.account_id for a in response.accounts)),
        (("Orders", sum(c.count for c in whole.orders)), ("Fills", len(whole.fills)),
         ("Net P&L (₹)", amount(whole.pnl.net)), ("Charges (₹)", amount(whole.pnl.charges.total)),
         ("Risk refusals", len(whole.risk_refusals)), ("Alerts", len(whole.alerts))),
        (
            Section("At a glance", (
                BarChart("pnl_by_account", "Net P&L by account",
                         tuple((a.account_id, amount(a.pnl.net)) for a in response.accounts)),
                Table("accounts", "By account", PNL_COLUMNS,
                      tuple(_line_row(a.pnl, a.account_id) for a in response.accounts)),
            )),
            Section("Orders", (Table("orders", "Orders by status", ("Account", "Status", "Orders"), tuple(
                (a.account_id, _enum_name(order_pb2.OrderStatus, c.status, "ORDER_STATUS_"), int(c.count))
                for a in response.accounts for c in a.orders)),)),
            Section("Fills", (fills_table("fills", "Fills", whole.fills),)),
            Section("Charges", (charges_table("charges", "Charges by account",
                                              ((a.account_id, a.pnl.charges) for a in response.accounts)),)),
            Section("Risk", (Table("refusals", "Risk refusals", audit_columns, _audit_rows(whole.risk_refusals)),
                             Table("kill_switches", "Kill-switch events", audit_columns,
                                   _audit_rows(whole.kill_switch_events)))),
            Section("Alerts", (Table("alerts", "Alerts", ("Sequence", "Time", "Severity", "Title", "Message"), tuple(
                (int(a.sequence), a.time.ToDatetime().strftime("%H:%M:%S") + " UTC",
                 _enum_name(alert_pb2.AlertSeverity, a.severity, "ALERT_SEVERITY_"), a.title, a.message)
                for a in whole.alerts)),)),
            Section("Completeness", gaps_block(response.gaps)),
        ),
    )  # fmt: skip
