"""Automatic exits: the `[exits]` part of the risk file (KITE_GATEWAY_RISK_FILE), beside the limits.

    [exits]
    margin_refresh_seconds = 30           # Kite's margins are read on fills, at most this often

    [exits.default]                       # every account
    daily_loss_limit = "5000"             # exit when the day's P&L is -5000 or less
    profit_lock_activate = "3000"         # the trailing profit lock arms once the P&L reaches 3000 ...
    profit_lock_trail = "1000"            # ... then exits when it falls below the peak minus 1000
    # profit_lock_trail_fraction = "0.25" # ... or below the peak minus a quarter of the peak
    max_margin_utilisation = "0.90"       # exit when Kite's used margin / total margin reaches 0.90
    square_off = true                     # after engaging the kill switch, square the positions off

    [exits.accounts.ZS0001]               # overrides the default, key by key
    daily_loss_limit = "2000"

    [exits.strategies.momentum]           # a strategy's P&L over every account it trades
    daily_loss_limit = "10000"
    square_off = false

The P&L is the day P&L as Kite's positions have it (realised + unrealised, `pnl` of the net
positions: kite_gateway/core/portfolio/positions.py), marked to live ticks. The profit lock: once
the P&L has reached `profit_lock_activate`, the peak since is tracked; the rule crosses when the
P&L falls below `peak - profit_lock_trail` (with `profit_lock_trail_fraction`: below
`peak * (1 - fraction)`); both set: whichever is the higher floor. A rule that is not set does not
apply; strategies have no margin ceiling (margins are an account's).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from kite_gateway.core.risk.limits import RiskConfigError

DEFAULT_MARGIN_REFRESH = 30.0


class ExitConfigError(RiskConfigError):
    """The `[exits]` part of the risk file is invalid; the message names the section, key and problem
    (a RiskConfigError: the gateway refuses to start with it)."""


@dataclass(frozen=True)
class ExitRules:
    daily_loss_limit: Decimal | None = None
    profit_lock_activate: Decimal | None = None
    profit_lock_trail: Decimal | None = None
    profit_lock_trail_fraction: Decimal | None = None
    max_margin_utilisation: Decimal | None = None
    square_off: bool = True

    @property
    def any(self) -> bool:
        return (
            self.daily_loss_limit is not None
            or self.profit_lock_activate is not None
            or self.max_margin_utilisation is not None
        )

    def lock_floor(self, peak: Decimal) -> Decimal | None:
        """The P&L below which an armed profit lock crosses, given the peak since it armed."""
        floors = []
        if self.profit_lock_trail is not None:
            floors.append(peak - self.profit_lock_trail)
        if self.profit_lock_trail_fraction is not None:
            floors.append(peak * (1 - self.profit_lock_trail_fraction))
        return max(floors) if floors else None


def _amount(name: str, raw: object, where: str) -> Decimal:
    try:
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise InvalidOperation
        value = Decimal(raw)
    except InvalidOperation:
        raise ExitConfigError(f'{where}: {name} must be an amount like "2500.50"') from None
    if not value.is_finite() or value < 0:
        raise ExitConfigError(f"{where}: {name} must be a non-negative amount")
    return value


def _fraction(name: str, raw: object, where: str) -> Decimal:
    value = _amount(name, raw, where)
    if not 0 < value <= 1:
        raise ExitConfigError(f'{where}: {name} must be a fraction above 0 and at most 1, like "0.25"')
    return value


def _section(raw: object, where: str, base: ExitRules, strategy: bool) -> ExitRules:
    if not isinstance(raw, Mapping):
        raise ExitConfigError(f"{where}: must be a table")
    known = {f.name for f in fields(ExitRules)} - ({"max_margin_utilisation"} if strategy else set())
    unknown = set(raw) - known
    if unknown:
        raise ExitConfigError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "square_off":
            if not isinstance(value, bool):
                raise ExitConfigError(f"{where}: square_off must be true or false")
            values[name] = value
        elif name in ("profit_lock_trail_fraction", "max_margin_utilisation"):
            values[name] = _fraction(name, value, where)
        else:
            values[name] = _amount(name, value, where)
    rules = replace(base, **values)
    trail = rules.profit_lock_trail is not None or rules.profit_lock_trail_fraction is not None
    if (rules.profit_lock_activate is not None) != trail:
        raise ExitConfigError(
            f"{where}: a profit lock needs profit_lock_activate and profit_lock_trail (or "
            "profit_lock_trail_fraction) together"
        )
    return rules


@dataclass(frozen=True)
class ExitBook:
    """The exit rules of every account (default and per account) and of each configured strategy."""

    default: ExitRules = ExitRules()
    accounts: Mapping[str, ExitRules] | None = None
    strategies: Mapping[str, ExitRules] | None = None
    margin_refresh_seconds: float = DEFAULT_MARGIN_REFRESH

    @property
    def configured(self) -> bool:
        return self.default.any or any(r.any for r in (self.accounts or {}).values()) or bool(self.strategies)

    def for_account(self, account_id: str) -> ExitRules:
        return (self.accounts or {}).get(account_id, self.default)

    def for_strategy(self, strategy_id: str) -> ExitRules | None:
        return (self.strategies or {}).get(strategy_id)

    @classmethod
    def from_document(cls, document: Mapping[str, Any], source: str) -> ExitBook:
        """The book from a parsed risk file (its `exits` table; none: no exits)."""
        raw = document.get("exits", {})
        if not isinstance(raw, Mapping):
            raise ExitConfigError(f"{source}: exits must be a table like [exits.default]")
        unknown = set(raw) - {"default", "accounts", "strategies", "margin_refresh_seconds"}
        if unknown:
            raise ExitConfigError(
                f"{source}: unknown keys in [exits] {sorted(unknown)}; use margin_refresh_seconds, "
                "[exits.default], [exits.accounts.<id>] and [exits.strategies.<id>]"
            )
        refresh = raw.get("margin_refresh_seconds", DEFAULT_MARGIN_REFRESH)
        if isinstance(refresh, bool) or not isinstance(refresh, int | float) or refresh <= 0:
            raise ExitConfigError(f"{source} [exits]: margin_refresh_seconds must be a positive number of seconds")
        default = _section(raw.get("default", {}), f"{source} [exits.default]", ExitRules(), strategy=False)
        tables = {}
        for name in ("accounts", "strategies"):
            table = raw.get(name, {})
            if not isinstance(table, Mapping):
                raise ExitConfigError(f"{source}: exits.{name} must be tables like [exits.{name}.<id>]")
            tables[name] = table
        accounts = {
            account_id: _section(section, f"{source} [exits.accounts.{account_id}]", default, strategy=False)
            for account_id, section in tables["accounts"].items()
        }
        strategies = {
            strategy_id: _section(section, f"{source} [exits.strategies.{strategy_id}]", ExitRules(), strategy=True)
            for strategy_id, section in tables["strategies"].items()
        }
        return cls(default, accounts, strategies, float(refresh))

    @classmethod
    def from_toml(cls, text: str, source: str) -> ExitBook:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ExitConfigError(f"{source}: not valid TOML: {exc}") from None
        return cls.from_document(document, source)

    @classmethod
    def load(cls, path: Path | None) -> ExitBook:
        if path is None:
            return cls()
        try:
            text = path.read_text()
        except OSError as exc:
            raise ExitConfigError(f"{path}: cannot read it ({exc.strerror})") from None
        return cls.from_toml(text, str(path))
