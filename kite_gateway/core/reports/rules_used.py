"""The rules and rates a tax P&L applied to a financial year, as rows a person can read and check
against their source: what it is, its value, where it was taken from and when (GetTaxPnl's `rules`,
and the tax report's "Rules and rates" table)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from kite_gateway.core.reports.tax import TaxRules, financial_year_label


@dataclass(frozen=True, slots=True)
class RuleUsed:
    name: str
    value: str
    source: str
    taken_on: str


def _span(start: date, end: date | None) -> str:
    return f"{start.isoformat()} to {end.isoformat()}" if end else f"from {start.isoformat()}"


def rules_used(rules: TaxRules, financial_year: int) -> tuple[RuleUsed, ...]:
    """Every rule of `rules` that applies to the financial year beginning 1 April `financial_year`."""
    start, end = date(financial_year, 4, 1), date(financial_year + 1, 3, 31)
    rows = [
        RuleUsed(
            "financial year",
            f"{financial_year_label(financial_year)}: {start} to {end}",
            rules.holding_source,
            rules.taken,
        ),
        RuleUsed(
            "long-term holding period (listed equity)",
            f"more than {rules.long_term_more_than_months} months; {rules.holding_convention}",
            rules.holding_source,
            rules.taken,
        ),
    ]
    for rule in rules.buckets.values():
        rows.append(RuleUsed(
            f"{rule.title}: head and section",
            f"{rule.head}; {rule.section(financial_year, rules.act_2025_from_financial_year)}; STT "
            f"{'deductible' if rule.stt_deductible else 'not deductible'}; turnover "
            f"{'sum of |P&L| per lot' if rule.turnover == 'abs_pnl' else 'not computed'}",
            rule.source, rule.taken,
        ))  # fmt: skip
    for rate in rules.rates:
        if rate.transfer_from <= end and (rate.transfer_to is None or rate.transfer_to >= start):
            rows.append(RuleUsed(f"{rate.bucket.value} rate ({rate.rule})",
                                 f"{rate.percent}% on transfers {_span(rate.transfer_from, rate.transfer_to)}"
                                 f" ({rate.confidence})", rate.source, rate.taken))  # fmt: skip
    for exemption in rules.exemptions:
        if exemption.covers(financial_year):
            rows.append(RuleUsed(f"{exemption.bucket.value} yearly exemption",
                                 f"₹{exemption.amount} ({exemption.allocation}; {exemption.confidence})",
                                 exemption.source, exemption.taken))  # fmt: skip
    if rules.grandfathering_on_or_before is not None:
        rows.append(RuleUsed("grandfathering (s.55(2)(ac))",
                             f"not applied: lots bought on or before {rules.grandfathering_on_or_before} are flagged",
                             rules.grandfathering_source, rules.taken))  # fmt: skip
    for charge in rules.charge_rates.rates:
        if charge.effective_from <= end and (charge.effective_to is None or charge.effective_to >= start):
            where = "/".join(charge.exchanges) or "every exchange"
            cap = f", at most ₹{charge.cap}" if charge.cap is not None else ""
            unit = "%" if charge.kind == "percent" else " rupees"
            rows.append(RuleUsed(
                f"charge {charge.line} ({', '.join(charge.markets)}; {where}; {charge.side})",
                f"{charge.value}{unit}{cap}, trades {_span(charge.effective_from, charge.effective_to)} "
                f"({charge.confidence})",
                charge.source, charge.taken,
            ))  # fmt: skip
    return tuple(rows)
