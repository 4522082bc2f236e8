"""Risk limits: what a TOML file (KITE_GATEWAY_RISK_FILE) sets for every account and per account.

    [default]
    max_order_value = "500000"            # rupees, exact decimal (a string or an integer)
    max_order_quantity = 5000
    allowed_exchanges = ["NSE", "BSE", "NFO"]
    allowed_products = ["CNC", "MIS", "NRML"]
    allowed_instrument_types = ["EQ", "FUT", "CE", "PE"]
    max_position_value_per_instrument = "1000000"
    max_position_value = "5000000"        # the account's open positions, at their last price
    max_orders_per_minute = 60

    [accounts.ZS0001]                     # overrides the default, key by key
    max_order_value = "100000"

A limit that is not set does not apply. The automatic exits' `[exits...]` tables live in the same
file (kite_gateway/core/risk/exits_config.py).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any


class RiskConfigError(ValueError):
    """The risk file is invalid; the message names the section, the key and the problem."""


@dataclass(frozen=True)
class RiskLimits:
    max_order_value: Decimal | None = None
    max_order_quantity: int | None = None
    allowed_exchanges: frozenset[str] | None = None
    allowed_products: frozenset[str] | None = None
    allowed_instrument_types: frozenset[str] | None = None
    max_position_value_per_instrument: Decimal | None = None
    max_position_value: Decimal | None = None
    max_orders_per_minute: int | None = None

    @property
    def needs_price(self) -> bool:
        return self.max_order_value is not None or self.needs_positions

    @property
    def needs_positions(self) -> bool:
        return self.max_position_value_per_instrument is not None or self.max_position_value is not None


def _value(name: str, raw: object, where: str) -> Any:
    kind = {f.name: f.type for f in fields(RiskLimits)}[name]
    if "Decimal" in str(kind):
        try:
            if isinstance(raw, bool) or not isinstance(raw, str | int):
                raise InvalidOperation
            value = Decimal(raw)
        except InvalidOperation:
            raise RiskConfigError(f'{where}: {name} must be an amount like "250000.50"') from None
        if not value.is_finite() or value < 0:
            raise RiskConfigError(f"{where}: {name} must be a non-negative amount")
        return value
    if "int" in str(kind):
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise RiskConfigError(f"{where}: {name} must be a non-negative whole number")
        return raw
    if not isinstance(raw, list) or not all(isinstance(v, str) and v for v in raw):
        raise RiskConfigError(f"{where}: {name} must be a list of names")
    return frozenset(v.upper() for v in raw)


def _section(raw: object, where: str, base: RiskLimits) -> RiskLimits:
    if not isinstance(raw, Mapping):
        raise RiskConfigError(f"{where}: must be a table")
    known = {f.name for f in fields(RiskLimits)}
    unknown = set(raw) - known
    if unknown:
        raise RiskConfigError(f"{where}: unknown limits {sorted(unknown)}; known: {sorted(known)}")
    return replace(base, **{name: _value(name, value, where) for name, value in raw.items()})


@dataclass(frozen=True)
class RiskBook:
    """The default limits and each account's."""

    default: RiskLimits = RiskLimits()
    accounts: Mapping[str, RiskLimits] | None = None

    def for_account(self, account_id: str) -> RiskLimits:
        return (self.accounts or {}).get(account_id, self.default)

    @classmethod
    def from_toml(cls, text: str, source: str) -> RiskBook:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RiskConfigError(f"{source}: not valid TOML: {exc}") from None
        unknown = set(document) - {"default", "accounts", "exits"}  # exits: kite_gateway/core/risk/exits_config.py
        if unknown:
            raise RiskConfigError(
                f"{source}: unknown sections {sorted(unknown)}; use [default], [accounts.<id>] and [exits...]"
            )
        default = _section(document.get("default", {}), f"{source} [default]", RiskLimits())
        accounts = document.get("accounts", {})
        if not isinstance(accounts, Mapping):
            raise RiskConfigError(f"{source}: accounts must be tables like [accounts.ZS0001]")
        per_account = {
            account_id: _section(section, f"{source} [accounts.{account_id}]", default)
            for account_id, section in accounts.items()
        }
        return cls(default, per_account)

    @classmethod
    def load(cls, path: Path | None) -> RiskBook:
        if path is None:
            return cls()
        try:
            text = path.read_text()
        except OSError as exc:
            raise RiskConfigError(f"{path}: cannot read it ({exc.strerror})") from None
        return cls.from_toml(text, str(path))
