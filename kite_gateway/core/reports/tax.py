"""A tax P&L of one financial year: the FIFO lots closed in it, sorted into the four buckets Indian
tax law puts trading income in, each lot bearing its share of its orders' charges.

- Equity matched within the day is speculative business income (s.43(5)); every F&O lot (equity,
  currency, commodity) non-speculative business income; other equity is capital gains, long-term
  when held more than 12 months (tax_rules.toml's holding convention) and short-term otherwise.
- A lot belongs to the financial year of the trade that closed it: the sell for every long lot
  (so every capital-gains lot), the buy-back for a short F&O lot.
- An order's charges are split over its fills, and so over the lots they make, in proportion to
  quantity. Capital gains deduct them all but STT (fifth proviso to s.48); business income deducts
  STT too. DP charges, which are per scrip and day rather than per order, are passed apart (`dp`,
  as `charges.dp_charges` computes them) and split over that day's delivery sells of the scrip.
- Sells of equity without a recorded buy (holdings from before the fill log) are reported as
  unmatched, cost unknown; orders without charges are listed, their lots carried at no charges.
- Capital-gains buckets report each rate period's net gain x its rate (and the LTCG exemption);
  nothing more of the person's liability (see `TaxRules.out_of_scope`).

The rules and rates are data (tax_rules.toml, charge_rates.toml) with their sources; `rules()`
returns them for the report to print."""

from __future__ import annotations

import calendar
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from kite_gateway.core.reports.charge_rates import RateTable, default_rates
from kite_gateway.core.reports.charges import DpKey
from kite_gateway.core.reports.lots import ClosedLot, OpenLot, match
from kite_gateway.core.reports.model import NO_CHARGES, ZERO, Charges, Fill, OrderCharges, Segment

RULES_PACKAGE = "kite_gateway.core.reports"
RULES_FILE = "tax_rules.toml"
HUNDRED = Decimal(100)


class Bucket(StrEnum):
    SHORT_TERM_CAPITAL_GAINS = "short_term_capital_gains"
    LONG_TERM_CAPITAL_GAINS = "long_term_capital_gains"
    SPECULATIVE_BUSINESS = "speculative_business"
    NON_SPECULATIVE_BUSINESS = "non_speculative_business"

    @property
    def capital_gains(self) -> bool:
        return self in (Bucket.SHORT_TERM_CAPITAL_GAINS, Bucket.LONG_TERM_CAPITAL_GAINS)


# --- the rules, as data ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BucketRule:
    bucket: Bucket
    title: str
    head: str
    section_1961: str
    section_2025: str
    section_2025_confidence: str
    stt_deductible: bool
    turnover: str  # "abs_pnl" (sum of |P&L| per lot) or "none"
    source: str
    taken: str

    def section(self, financial_year: int, act_2025_from: int) -> str:
        """The section label: both Acts' numbers from the year the 2025 Act applies."""
        if financial_year >= act_2025_from:
            return f"{self.section_1961} (Income-tax Act 1961) / {self.section_2025} (Income-tax Act 2025)"
        return f"{self.section_1961} (Income-tax Act 1961)"


@dataclass(frozen=True, slots=True)
class GainRate:
    """The rate of a capital-gains bucket on transfers within a span of dates."""

    bucket: Bucket
    percent: Decimal
    transfer_from: date
    transfer_to: date | None  # inclusive
    rule: str
    source: str
    taken: str
    confidence: str

    def covers(self, on: date) -> bool:
        return self.transfer_from <= on and (self.transfer_to is None or on <= self.transfer_to)


@dataclass(frozen=True, slots=True)
class Exemption:
    bucket: Bucket
    amount: Decimal
    from_financial_year: int
    to_financial_year: int | None
    allocation: str
    source: str
    taken: str
    confidence: str

    def covers(self, financial_year: int) -> bool:
        return self.from_financial_year <= financial_year and (
            self.to_financial_year is None or financial_year <= self.to_financial_year
        )


@dataclass(frozen=True, slots=True)
class TaxRules:
    """Everything a tax P&L applies, with where each rule came from and when it was read."""

    long_term_more_than_months: int
    holding_convention: str
    holding_source: str
    act_2025_from_financial_year: int
    acts_source: str
    buckets: Mapping[Bucket, BucketRule]
    rates: tuple[GainRate, ...]
    exemptions: tuple[Exemption, ...]
    out_of_scope: tuple[str, ...]
    charge_rates: RateTable
    taken: str
    grandfathering_on_or_before: date | None = None  # lots bought by then are flagged (s.55(2)(ac) not applied)
    grandfathering_source: str = ""

    def rate_on(self, bucket: Bucket, transfer: date) -> GainRate:
        found = [r for r in self.rates if r.bucket is bucket and r.covers(transfer)]
        if len(found) != 1:
            raise LookupError(f"{len(found)} {bucket} rates for a transfer on {transfer.isoformat()}")
        return found[0]

    def exemption(self, bucket: Bucket, financial_year: int) -> Exemption | None:
        found = [e for e in self.exemptions if e.bucket is bucket and e.covers(financial_year)]
        return found[0] if found else None


def _bucket_rule(row: dict[str, Any]) -> BucketRule:
    return BucketRule(
        Bucket(row["name"]),
        row["title"],
        row["head"],
        row["section_1961"],
        row["section_2025"],
        row["section_2025_confidence"],
        bool(row["stt_deductible"]),
        row["turnover"],
        row["source"],
        row["taken"],
    )


def parse_rules(text: str, charge_rates: RateTable) -> TaxRules:
    """Tax rules from TOML text in tax_rules.toml's layout."""
    data = tomllib.loads(text)
    buckets = {rule.bucket: rule for rule in map(_bucket_rule, data["bucket"])}
    if set(buckets) != set(Bucket):
        raise ValueError(f"tax rules must describe every bucket, not only {sorted(buckets)}")
    rates = tuple(
        GainRate(
            Bucket(r["bucket"]),
            Decimal(str(r["percent"])),
            r["transfer_from"],
            r.get("transfer_to"),
            r["rule"],
            r["source"],
            r["taken"],
            r["confidence"],
        )
        for r in data.get("rate", [])
    )
    exemptions = tuple(
        Exemption(
            Bucket(e["bucket"]),
            Decimal(str(e["amount"])),
            int(e["from_financial_year"]),
            e.get("to_financial_year"),
            e.get("allocation", ""),
            e["source"],
            e["taken"],
            e["confidence"],
        )
        for e in data.get("exemption", [])
    )
    holding, acts, grandfathering = data["holding"], data["acts"], data.get("grandfathering", {})
    return TaxRules(
        long_term_more_than_months=int(holding["long_term_more_than_months"]),
        holding_convention=holding["convention"],
        holding_source=holding["source"],
        act_2025_from_financial_year=int(acts["act_2025_from_financial_year"]),
        acts_source=acts["source"],
        buckets=buckets,
        rates=rates,
        exemptions=exemptions,
        out_of_scope=tuple(data["scope"]["out"]),
        charge_rates=charge_rates,
        taken=holding["taken"],
        grandfathering_on_or_before=grandfathering.get("acquired_on_or_before"),
        grandfathering_source=grandfathering.get("source", ""),
    )


@cache
def _shipped_rules() -> TaxRules:
    text = resources.files(RULES_PACKAGE).joinpath(RULES_FILE).read_text(encoding="utf-8")
    return parse_rules(text, default_rates())


def rules() -> TaxRules:
    """The tax rules and charge rates shipped with the gateway (tax_rules.toml, charge_rates.toml),
    with their sources and the dates they were taken, for a report to print."""
    return _shipped_rules()


# --- dates ----------------------------------------------------------------------------------------


def financial_year_of(day: date) -> int:
    """The financial year a date is in, by the year it starts (1 Apr 2025 - 31 Mar 2026 is 2025)."""
    return day.year if day.month >= 4 else day.year - 1


def financial_year_label(financial_year: int) -> str:
    label = f"FY {financial_year}-{(financial_year + 1) % 100:02d}"
    return label + f" (tax year {financial_year}-{(financial_year + 1) % 100:02d})" if financial_year >= 2026 else label


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months later, the month's last day when it has no such day."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def long_term(bought: date, sold: date, more_than_months: int) -> bool:
    """Held more than `more_than_months`: sold after the buy date plus that many months."""
    return sold > add_months(bought, more_than_months)


# --- the report -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaxLot:
    """`quantity` units bought and sold, with the charges of both orders' shares of them."""

    account_id: str
    exchange: str
    symbol: str
    segment: Segment
    quantity: int
    buy_date: date
    buy_price: Decimal
    sell_date: date
    sell_price: Decimal
    holding_days: int
    buy_value: Decimal
    sell_value: Decimal
    gross: Decimal  # sell value less buy value
    charges: Charges  # itemised, this lot's share (DP included)
    deductible_charges: Decimal  # capital gains: all but STT (s.48); business: all
    short: bool  # sold first, bought back later (F&O, or equity within the day)

    @property
    def net(self) -> Decimal:
        return self.gross - self.deductible_charges


@dataclass(frozen=True, slots=True)
class UnmatchedSell:
    """Equity sold with no recorded buy: held from before the fill log, cost unknown."""

    account_id: str
    exchange: str
    symbol: str
    quantity: int
    sell_date: date
    sell_price: Decimal
    sell_value: Decimal
    charges: Charges


@dataclass(frozen=True, slots=True)
class RatePeriod:
    """A capital-gains bucket's lots sold while one rate applied: net gain x rate."""

    rule: str
    percent: Decimal
    transfer_from: date
    transfer_to: date | None
    gain: Decimal  # net of the deductible charges; negative for a net loss
    exemption: Decimal  # the part of the year's exemption set against this period
    taxable: Decimal
    tax: Decimal  # taxable x rate, unrounded
    source: str


@dataclass(frozen=True, slots=True)
class BucketPnl:
    bucket: Bucket
    title: str
    section: str
    lots: tuple[TaxLot, ...]
    gross: Decimal
    charges: Charges  # itemised, as the lots bear them
    deductible_charges: Decimal
    net: Decimal
    sale_value: Decimal
    turnover: Decimal | None  # business buckets: sum of |gross P&L| per lot (§7); None for capital gains
    rate_periods: tuple[RatePeriod, ...]  # capital gains only
    exemption: Decimal  # LTCG: the year's exemption amount (0 elsewhere)
    rate_note: str


@dataclass(frozen=True, slots=True)
class TaxPnl:
    financial_year: int
    label: str
    start: date
    end: date
    buckets: Mapping[Bucket, BucketPnl]
    unmatched: tuple[UnmatchedSell, ...]
    orders_without_charges: tuple[str, ...]
    warnings: tuple[str, ...]
    rules: TaxRules = field(repr=False)

    @property
    def out_of_scope(self) -> tuple[str, ...]:
        return self.rules.out_of_scope


class _Shares:
    """Each order's charges split over its fills' quantity, DP over a scrip-day's delivery sells."""

    def __init__(
        self, fills: list[Fill], charges: Mapping[str, OrderCharges], dp: Mapping[DpKey, Decimal] | None
    ) -> None:
        self.charges = charges
        self.quantity: dict[str, int] = defaultdict(int)
        for f in fills:
            self.quantity[f.order_id] += f.quantity
        self.missing: set[str] = set()
        self.dp = dp or {}
        self.delivered: dict[DpKey, int] = defaultdict(int)

    def count_delivery_sell(self, sell: Fill, quantity: int) -> None:
        self.delivered[(sell.account_id, sell.trade_date, sell.tradingsymbol)] += quantity

    def of(self, f: Fill, quantity: int) -> Charges:
        order = self.charges.get(f.order_id)
        if order is None:
            self.missing.add(f.order_id)
            return NO_CHARGES
        return order.charges.scaled(Decimal(quantity) / Decimal(self.quantity[f.order_id]))

    def dp_of(self, sell: Fill, quantity: int) -> Charges:
        key = (sell.account_id, sell.trade_date, sell.tradingsymbol)
        if key not in self.dp or not self.delivered[key]:
            return NO_CHARGES
        return Charges(dp=self.dp[key] * Decimal(quantity) / Decimal(self.delivered[key]))


def _bucket_of(lot: ClosedLot, more_than_months: int) -> Bucket:
    if lot.opened.segment.derivative:
        return Bucket.NON_SPECULATIVE_BUSINESS
    if lot.intraday:
        return Bucket.SPECULATIVE_BUSINESS
    if long_term(lot.buy.trade_date, lot.sell.trade_date, more_than_months):
        return Bucket.LONG_TERM_CAPITAL_GAINS
    return Bucket.SHORT_TERM_CAPITAL_GAINS


def _tax_lot(lot: ClosedLot, bucket: Bucket, charges: Charges, stt_deductible: bool) -> TaxLot:
    buy, sell = lot.buy, lot.sell
    return TaxLot(
        account_id=buy.account_id,
        exchange=sell.exchange,
        symbol=buy.tradingsymbol,
        segment=buy.segment,
        quantity=lot.quantity,
        buy_date=buy.trade_date,
        buy_price=buy.price,
        sell_date=sell.trade_date,
        sell_price=sell.price,
        holding_days=abs((sell.trade_date - buy.trade_date).days),
        buy_value=lot.buy_value,
        sell_value=lot.sell_value,
        gross=lot.pnl,
        charges=charges,
        deductible_charges=charges.total if stt_deductible else charges.without_transaction_tax,
        short=not lot.long,
    )


def _sum(charges: Iterable[Charges]) -> Charges:
    total = NO_CHARGES
    for c in charges:
        total = total + c
    return total


def _rate_periods(
    lots: list[TaxLot], bucket: Bucket, financial_year: int, the_rules: TaxRules
) -> tuple[tuple[RatePeriod, ...], Decimal]:
    by_rate: dict[GainRate, Decimal] = {}
    for lot in lots:
        rate = the_rules.rate_on(bucket, lot.sell_date)
        by_rate[rate] = by_rate.get(rate, ZERO) + lot.net
    exemption = the_rules.exemption(bucket, financial_year)
    left = exemption.amount if exemption else ZERO
    set_off: dict[GainRate, Decimal] = {}
    for rate in sorted(by_rate, key=lambda r: r.percent, reverse=True):  # the higher rate first
        used = min(left, max(by_rate[rate], ZERO))
        set_off[rate], left = used, left - used
    periods = []
    for rate in sorted(by_rate, key=lambda r: r.transfer_from):
        taxable = max(by_rate[rate] - set_off[rate], ZERO)
        periods.append(
            RatePeriod(
                rate.rule,
                rate.percent,
                rate.transfer_from,
                rate.transfer_to,
                by_rate[rate],
                set_off[rate],
                taxable,
                taxable * rate.percent / HUNDRED,
                rate.source,
            )
        )
    return tuple(periods), exemption.amount if exemption else ZERO


def tax_pnl(
    fills: Iterable[Fill],
    charges: Mapping[str, OrderCharges],
    financial_year: int,
    rules: TaxRules | None = None,
    dp: Mapping[DpKey, Decimal] | None = None,
) -> TaxPnl:
    """The tax P&L of `financial_year` (2025 is FY 2025-26) from every fill of the account up to
    its end (earlier years' buys are the cost of this year's sells), the charges of each order by
    order_id, and the DP charges by scrip-day (`charges.dp_charges(fills)`; None: only whatever DP
    the order charges carry)."""
    the_rules = rules or _shipped_rules()
    start, end = date(financial_year, 4, 1), date(financial_year + 1, 3, 31)
    every = [f for f in fills if f.trade_date <= end]
    book = match(every)
    shares = _Shares(every, charges, dp)
    months = the_rules.long_term_more_than_months
    in_year = [lot for lot in book.closed if start <= lot.closed_on <= end]
    unmatched_in_year = [u for u in book.unmatched if start <= u.fill.trade_date <= end]
    for lot in in_year:
        if lot.long and not lot.intraday and not lot.opened.segment.derivative:
            shares.count_delivery_sell(lot.sell, lot.quantity)
    for early in unmatched_in_year:
        shares.count_delivery_sell(early.fill, early.quantity)

    grouped: dict[Bucket, list[TaxLot]] = {b: [] for b in Bucket}
    warnings: list[str] = []
    for lot in in_year:
        bucket = _bucket_of(lot, months)
        lot_charges = shares.of(lot.opened, lot.quantity) + shares.of(lot.closed, lot.quantity)
        if bucket.capital_gains:
            lot_charges = lot_charges + shares.dp_of(lot.sell, lot.quantity)
            grandfathered = the_rules.grandfathering_on_or_before
            if grandfathered is not None and lot.buy.trade_date <= grandfathered:
                warnings.append(
                    f"{lot.quantity} {lot.buy.tradingsymbol} bought {lot.buy.trade_date.isoformat()} (on or before "
                    f"{grandfathered.isoformat()}): grandfathering under s.55(2)(ac) is not applied, the cost is "
                    "the actual cost"
                )
        stt_deductible = the_rules.buckets[bucket].stt_deductible
        grouped[bucket].append(_tax_lot(lot, bucket, lot_charges, stt_deductible))
    unmatched = tuple(_unmatched(u, shares) for u in unmatched_in_year)
    for sold in unmatched:
        warnings.append(
            f"{sold.quantity} {sold.symbol} sold {sold.sell_date.isoformat()} with no recorded buy "
            "(held from before the fill log): cost unknown, not in any bucket"
        )

    buckets = {b: _bucket_pnl(b, grouped[b], financial_year, the_rules) for b in Bucket}
    missing = tuple(sorted(shares.missing))
    for order_id in missing:
        warnings.append(f"order {order_id} has no charges recorded: its lots are carried at no charges")
    for order_id, order in sorted(charges.items()):
        if order.quantity and shares.quantity.get(order_id, order.quantity) != order.quantity:
            warnings.append(
                f"order {order_id}'s charges are for {order.quantity} units but its fills are "
                f"{shares.quantity[order_id]}: they are split over the fills as they are"
            )
    return TaxPnl(
        financial_year=financial_year,
        label=financial_year_label(financial_year),
        start=start,
        end=end,
        buckets=buckets,
        unmatched=unmatched,
        orders_without_charges=missing,
        warnings=tuple(warnings),
        rules=the_rules,
    )


def _unmatched(lot: OpenLot, shares: _Shares) -> UnmatchedSell:
    sell = lot.fill
    return UnmatchedSell(
        account_id=sell.account_id,
        exchange=sell.exchange,
        symbol=sell.tradingsymbol,
        quantity=lot.quantity,
        sell_date=sell.trade_date,
        sell_price=sell.price,
        sell_value=sell.price * lot.quantity * sell.multiplier,
        charges=shares.of(sell, lot.quantity) + shares.dp_of(sell, lot.quantity),
    )


def _bucket_pnl(bucket: Bucket, lots: list[TaxLot], financial_year: int, the_rules: TaxRules) -> BucketPnl:
    rule = the_rules.buckets[bucket]
    gross = sum((lot.gross for lot in lots), ZERO)
    deductible = sum((lot.deductible_charges for lot in lots), ZERO)
    if bucket.capital_gains:
        periods, exemption = _rate_periods(lots, bucket, financial_year, the_rules)
        note = "gain x rate per rate period; the person's liability (set-off, surcharge, cess) is not computed"
    else:
        periods, exemption = (), ZERO
        note = "taxed at the person's slab rates with the rest of total income: not computed here"
    return BucketPnl(
        bucket=bucket,
        title=rule.title,
        section=rule.section(financial_year, the_rules.act_2025_from_financial_year),
        lots=tuple(lots),
        gross=gross,
        charges=_sum(lot.charges for lot in lots),
        deductible_charges=deductible,
        net=gross - deductible,
        sale_value=sum((lot.sell_value for lot in lots), ZERO),
        turnover=sum((abs(lot.gross) for lot in lots), ZERO) if rule.turnover == "abs_pnl" else None,
        rate_periods=periods,
        exemption=exemption,
        rate_note=note,
    )
