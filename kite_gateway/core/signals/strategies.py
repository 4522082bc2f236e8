"""The configured strategies: a TOML file of their own (KITE_GATEWAY_STRATEGIES_FILE), apart from the
risk file because it says what a strategy trades and how much, not what an account may do.

    [strategies.momentum]
    accounts = ["ZS0001", "ZS0002"]       # the accounts it trades ...
    groups = ["family-a"]                 # ... and every member of these account groups
    product = "MIS"                       # its orders' product unless a signal names one

    [strategies.momentum.sizing]          # every account's, unless overridden below
    mode = "multiplier"                   # the signal's quantity times `multiplier`
    multiplier = "2"
    max_quantity = 1800                   # optional cap on one order, after lot rounding

    [strategies.momentum.sizing.accounts.ZS0002]
    mode = "capital_share"                # a new `mode`: this account's sizing starts afresh ...
    fraction = "0.10"                     # a tenth of Kite's available margin, divided by the price

    [strategies.momentum.sizing.accounts.ZS0001]
    max_quantity = 600                    # ... without one: the default's, key by key

    [strategies.momentum.budget]          # every key optional; one not set does not apply
    max_capital = "2500000"               # capital deployed by the strategy today, all accounts
    max_orders_per_day = 200
    max_loss_per_day = "25000"            # realised + unrealised, all accounts

    [strategies.momentum.approval]
    required = true                       # a person approves each signal ...
    timeout_seconds = 120                 # ... within this, or it expires

    [account_groups]                      # the groups strategies, CancelAllOrders and SquareOff name
    family-a = ["ZS0002", "ZS0003"]

Sizing modes and their keys: "fixed" (`quantity`: that many, whatever the signal's quantity),
"multiplier" (`multiplier`, a decimal: the signal's quantity times it), "capital_share" (`fraction`
above 0 and at most 1 of the account's available margin, divided by the price), "risk"
(`risk_amount` rupees per trade divided by the stop distance: the signal's `stop_distance`, else
`stop_distance` here). Every mode takes `max_quantity`. Quantities are rounded down to the
instrument's lot size (an equity's is 1). Amounts are exact decimals: strings like "2500.50" or
integers. A group a strategy names must be defined under [account_groups].
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any

from kite_gateway.core.signals.model import PRODUCTS, STRATEGY_ID
from kite_gateway.errors import GatewayError, Reason, Status

DEFAULT_APPROVAL_TIMEOUT = 300
MAX_APPROVAL_TIMEOUT = 86_400
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class StrategyConfigError(ValueError):
    """The strategies file is invalid; the message names the file, the table, the key and the fix (the
    gateway refuses to start with it)."""


class SizingMode(Enum):
    FIXED = "fixed"
    MULTIPLIER = "multiplier"
    CAPITAL_SHARE = "capital_share"
    RISK = "risk"


_MODE_KEYS = {
    SizingMode.FIXED: frozenset({"quantity"}),
    SizingMode.MULTIPLIER: frozenset({"multiplier"}),
    SizingMode.CAPITAL_SHARE: frozenset({"fraction"}),
    SizingMode.RISK: frozenset({"risk_amount", "stop_distance"}),
}
_REQUIRED = {SizingMode.FIXED: "quantity", SizingMode.MULTIPLIER: "multiplier",
             SizingMode.CAPITAL_SHARE: "fraction", SizingMode.RISK: "risk_amount"}  # fmt: skip


@dataclass(frozen=True)
class Sizing:
    """How one account's quantity follows from a signal (kite_gateway/core/signals/sizing.py)."""

    mode: SizingMode = SizingMode.MULTIPLIER
    quantity: int | None = None
    multiplier: Decimal | None = Decimal(1)
    fraction: Decimal | None = None
    risk_amount: Decimal | None = None
    stop_distance: Decimal | None = None
    max_quantity: int | None = None


@dataclass(frozen=True)
class Budget:
    max_capital: Decimal | None = None
    max_orders_per_day: int | None = None
    max_loss_per_day: Decimal | None = None


@dataclass(frozen=True)
class Approval:
    required: bool = False
    timeout_seconds: int = DEFAULT_APPROVAL_TIMEOUT


@dataclass(frozen=True)
class Strategy:
    id: str
    accounts: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    product: str = "MIS"
    sizing: Sizing = Sizing()
    account_sizing: Mapping[str, Sizing] = field(default_factory=dict)
    budget: Budget = Budget()
    approval: Approval = Approval()

    def sizing_for(self, account_id: str) -> Sizing:
        return self.account_sizing.get(account_id, self.sizing)

    def accounts_of(self, members: Callable[[str], Sequence[str]] | None) -> tuple[str, ...]:
        """The accounts it trades: those named, then each group's members (group name -> account ids,
        KeyError when unknown), each once, in that order."""
        accounts = list(self.accounts)
        for group in self.groups:
            try:
                if members is None:
                    raise KeyError(group)
                found = members(group)
            except KeyError:
                raise GatewayError(Status.FAILED_PRECONDITION, Reason.ACCOUNT_NOT_FOUND,
                                   f"strategy {self.id!r} trades account group {group!r}, which is not known: "
                                   "configure the group or remove it from the strategies file",
                                   {"strategy_id": self.id, "group": group}) from None  # fmt: skip
            accounts.extend(a for a in found if a not in accounts)
        return tuple(accounts)


@dataclass(frozen=True)
class StrategyBook:
    strategies: Mapping[str, Strategy] = field(default_factory=dict)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, strategy_id: str) -> Strategy | None:
        return self.strategies.get(strategy_id)

    def members(self, group: str) -> tuple[str, ...]:
        """The accounts of an account group; KeyError when it is not defined."""
        return self.groups[group]

    @classmethod
    def from_toml(cls, text: str, source: str) -> StrategyBook:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise StrategyConfigError(f"{source}: not valid TOML: {exc}") from None
        unknown = set(document) - {"strategies", "account_groups"}
        if unknown:
            raise StrategyConfigError(
                f"{source}: unknown sections {sorted(unknown)}; use [strategies.<id>] and [account_groups]"
            )
        groups = {
            name: _names(f"account group {name!r}", members, f"{source} [account_groups]")
            for name, members in _table(document.get("account_groups", {}), f"{source} [account_groups]").items()
        }
        for name in groups:
            if not _NAME.fullmatch(name):
                raise StrategyConfigError(f"{source} [account_groups]: a group name is 1-64 letters, digits and _ . -")
        table = document.get("strategies", {})
        if not isinstance(table, Mapping):
            raise StrategyConfigError(f"{source}: strategies must be tables like [strategies.momentum]")
        strategies = {}
        for strategy_id, raw in table.items():
            where = f"{source} [strategies.{strategy_id}]"
            if not STRATEGY_ID.fullmatch(strategy_id):
                raise StrategyConfigError(f"{where}: a strategy id is 1-64 letters, digits and _ . - ")
            strategies[strategy_id] = _strategy(strategy_id, raw, where)
            missing = [group for group in strategies[strategy_id].groups if group not in groups]
            if missing:
                raise StrategyConfigError(f"{where}: groups {missing} are not defined under [account_groups]")
        return cls(strategies, groups)

    @classmethod
    def load(cls, path: Path | None) -> StrategyBook:
        """No file: no strategies (signals are refused as naming an unknown strategy)."""
        if path is None:
            return cls()
        try:
            text = path.read_text()
        except OSError as exc:
            raise StrategyConfigError(f"{path}: cannot read it ({exc.strerror})") from None
        return cls.from_toml(text, str(path))


def _table(raw: object, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise StrategyConfigError(f"{where}: must be a table")
    return raw


def _known(raw: Mapping[str, Any], known: frozenset[str] | set[str], where: str) -> None:
    unknown = set(raw) - set(known)
    if unknown:
        raise StrategyConfigError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(known)}")


def _amount(name: str, raw: object, where: str, positive: bool = True) -> Decimal:
    try:
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise InvalidOperation
        value = Decimal(raw)
    except InvalidOperation:
        raise StrategyConfigError(
            f'{where}: {name} must be an amount like "2500.50" (a string or an integer)'
        ) from None
    if not value.is_finite() or value < 0 or (positive and value == 0):
        raise StrategyConfigError(f"{where}: {name} must be {'above 0' if positive else 'at least 0'}")
    return value


def _whole(name: str, raw: object, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise StrategyConfigError(f"{where}: {name} must be a whole number above 0")
    return raw


def _names(name: str, raw: object, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(v, str) and _NAME.fullmatch(v) for v in raw):
        raise StrategyConfigError(f'{where}: {name} must be a list of names like ["ZS0001"]')
    if len(set(raw)) != len(raw):
        raise StrategyConfigError(f"{where}: {name} lists a name twice")
    return tuple(raw)


def _sizing(raw: object, where: str, base: Sizing) -> Sizing:
    table = _table(raw, where)
    everything = frozenset({"mode", "max_quantity"}).union(*_MODE_KEYS.values())
    _known(table, everything, where)
    values: dict[str, Any] = {}
    if "mode" in table:
        try:
            mode = SizingMode(table["mode"])
        except ValueError:
            raise StrategyConfigError(
                f"{where}: mode must be one of {[m.value for m in SizingMode]}, not {table['mode']!r}"
            ) from None
        values = {"mode": mode, "quantity": None, "multiplier": None, "fraction": None, "risk_amount": None,
                  "stop_distance": None, "max_quantity": None}  # fmt: skip
    else:
        mode = base.mode
    stray = set(table) - {"mode", "max_quantity"} - _MODE_KEYS[mode]
    if stray:
        raise StrategyConfigError(
            f"{where}: {sorted(stray)} do not apply to mode {mode.value!r}; it takes {sorted(_MODE_KEYS[mode])}"
        )
    for name, value in table.items():
        if name in ("quantity", "max_quantity"):
            values[name] = _whole(name, value, where)
        elif name == "fraction":
            fraction = _amount(name, value, where)
            if fraction > 1:
                raise StrategyConfigError(f'{where}: fraction must be above 0 and at most 1, like "0.10"')
            values[name] = fraction
        elif name != "mode":
            values[name] = _amount(name, value, where)
    base_values = {k: getattr(base, k) for k in Sizing.__dataclass_fields__}
    sizing = Sizing(**{**base_values, **values})
    required = _REQUIRED[sizing.mode]
    if getattr(sizing, required) is None:
        raise StrategyConfigError(f"{where}: mode {sizing.mode.value!r} needs {required}")
    return sizing


def _budget(raw: object, where: str) -> Budget:
    table = _table(raw, where)
    _known(table, {"max_capital", "max_orders_per_day", "max_loss_per_day"}, where)
    return Budget(
        max_capital=_amount("max_capital", table["max_capital"], where) if "max_capital" in table else None,
        max_orders_per_day=_whole("max_orders_per_day", table["max_orders_per_day"], where)
        if "max_orders_per_day" in table
        else None,
        max_loss_per_day=_amount("max_loss_per_day", table["max_loss_per_day"], where)
        if "max_loss_per_day" in table
        else None,
    )


def _approval(raw: object, where: str) -> Approval:
    table = _table(raw, where)
    _known(table, {"required", "timeout_seconds"}, where)
    required = table.get("required", False)
    if not isinstance(required, bool):
        raise StrategyConfigError(f"{where}: required must be true or false")
    timeout = table.get("timeout_seconds", DEFAULT_APPROVAL_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 < timeout <= MAX_APPROVAL_TIMEOUT:
        raise StrategyConfigError(f"{where}: timeout_seconds must be a whole number of seconds from 1 to 86400")
    return Approval(required, timeout)


def _strategy(strategy_id: str, raw: object, where: str) -> Strategy:
    table = _table(raw, where)
    _known(table, {"accounts", "groups", "product", "sizing", "budget", "approval"}, where)
    accounts = _names("accounts", table.get("accounts", []), where)
    groups = _names("groups", table.get("groups", []), where)
    if not accounts and not groups:
        raise StrategyConfigError(f"{where}: name the accounts it trades (accounts = [...]) or groups = [...]")
    product = table.get("product", "MIS")
    if not isinstance(product, str) or product.upper() not in PRODUCTS:
        raise StrategyConfigError(f"{where}: product must be one of {sorted(PRODUCTS)}")
    sizing_table = dict(_table(table.get("sizing", {}), f"{where[:-1]}.sizing]"))
    overrides = _table(sizing_table.pop("accounts", {}), f"{where[:-1]}.sizing.accounts]")
    sizing = _sizing(sizing_table, f"{where[:-1]}.sizing]", Sizing())
    account_sizing = {}
    for account_id, section in overrides.items():
        at = f"{where[:-1]}.sizing.accounts.{account_id}]"
        if not groups and account_id not in accounts:
            raise StrategyConfigError(f"{at}: {account_id} is not one of the strategy's accounts {list(accounts)}")
        account_sizing[account_id] = _sizing(section, at, sizing)
    return Strategy(
        id=strategy_id,
        accounts=accounts,
        groups=groups,
        product=product.upper(),
        sizing=sizing,
        account_sizing=account_sizing,
        budget=_budget(table.get("budget", {}), f"{where[:-1]}.budget]"),
        approval=_approval(table.get("approval", {}), f"{where[:-1]}.approval]"),
    )
