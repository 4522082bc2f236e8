"""What each RPC needs of its caller on the accounts its request names.

READ: read every named account; TRADE: trade every named account; ADMIN: administer (accounts,
logins, the gateway-wide kill switch); SIGNED_IN: any known caller (the servicer shows only what the
caller may read). A request naming no account where one is required is left to the servicer's
validation (INVALID_ARGUMENT). Every method of the API must appear here (a test checks).
"""

from __future__ import annotations

import enum
from typing import Any

from kite_gateway.auth.principals import Principal, denied


class Access(enum.Enum):
    SIGNED_IN = "signed in"
    READ = "read"
    TRADE = "trade"
    TRADE_OR_ADMIN = "trade or administer"  # the kill switch: who trades the account, and admins
    ADMIN = "admin"


_READ_METHODS = {
    "AccountService": ["GetAccount", "GetProfile", "GetMargins"],
    "OrderService": [
        "ListOrders", "GetOrderHistory", "ListTrades", "GetOrderMargins", "GetOrderCharges", "ListGtts", "GetGtt",
        "ListKiteAlerts", "GetKiteAlert", "GetKiteAlertHistory", "StreamOrderUpdates", "ListAuditEvents",
        "GetKillSwitch",
    ],
    "PortfolioService": ["GetPositions", "GetHoldings", "GetConsolidatedPortfolio", "GetExitStatus"],
    "MarketDataService": [
        "GetQuote", "GetLtp", "GetOhlc", "GetHistoricalData", "SearchInstruments", "GetInstruments", "StreamTicks",
        "UpdateSubscription", "ListSubscriptions",
    ],
}  # fmt: skip
_TRADE_METHODS = {
    "OrderService": [
        "PlaceOrder", "ModifyOrder", "CancelOrder", "PlaceGtt", "ModifyGtt", "DeleteGtt", "PlaceBulkOrders",
        "CreateKiteAlert", "ModifyKiteAlert", "DeleteKiteAlerts", "PlaceBasket", "CancelAllOrders", "SquareOff",
    ],
    "PortfolioService": ["ConvertPosition"],
}  # fmt: skip
# Scopes resolved by the servicer (groups, a strategy, an instrument on every account): here only the
# accounts named are checked; the servicer checks trade access to every account the scope resolves to.
SCOPED = frozenset({"kite_gateway.v1.OrderService.CancelAllOrders", "kite_gateway.v1.OrderService.SquareOff"})
_ADMIN_METHODS = {"AccountService": ["GetLoginUrl", "CompleteLogin", "AddAccount", "RemoveAccount"]}

NEEDS: dict[str, Access] = {
    "kite_gateway.v1.AccountService.ListAccounts": Access.SIGNED_IN,
    "kite_gateway.v1.MarketDataService.GetMarketStatus": Access.SIGNED_IN,  # the calendar names no account
    "kite_gateway.v1.MarketDataService.GetTradingCalendar": Access.SIGNED_IN,
    "kite_gateway.v1.OrderService.SetKillSwitch": Access.TRADE_OR_ADMIN,
}
# A strategy's accounts are resolved by the servicer, which checks trade access to every one of them
# (submitting, approving, rejecting) or read access (reading signals and strategies).
NEEDS.update({
    f"kite_gateway.v1.SignalService.{m}": Access.SIGNED_IN
    for m in ("SubmitSignal", "GetSignal", "ListSignals", "ApproveSignal", "RejectSignal", "ListStrategies",
              "StreamSignals")
})  # fmt: skip
# The gateway's alerts are operational data of the whole gateway: any signed-in caller reads them;
# changing the rules (what pages whom) needs an admin.
NEEDS.update({
    f"kite_gateway.v1.AlertService.{m}": Access.SIGNED_IN
    for m in ("ListAlerts", "StreamAlerts", "ListAlertRules", "ListAlertDeadLetters")
})  # fmt: skip
NEEDS.update({f"kite_gateway.v1.AlertService.{m}": Access.ADMIN for m in ("PutAlertRule", "DeleteAlertRule")})
# A report's scope (accounts, a group, or every readable account) is resolved by the servicer, which
# checks read access to every account it resolves to.
NEEDS.update({
    f"kite_gateway.v1.ReportService.{m}": Access.SIGNED_IN
    for m in ("GetTradebook", "GetPnlStatement", "GetTaxPnl", "GetDailyReport")
})  # fmt: skip
for _table, _access in ((_READ_METHODS, Access.READ), (_TRADE_METHODS, Access.TRADE), (_ADMIN_METHODS, Access.ADMIN)):
    for _service, _methods in _table.items():
        NEEDS.update({f"kite_gateway.v1.{_service}.{m}": _access for m in _methods})


def accounts_named(request: Any) -> list[str]:
    """The account ids a request names (account_id, account_ids, or its legs' account_id)."""
    fields = request.DESCRIPTOR.fields_by_name
    if "account_id" in fields:
        return [request.account_id] if request.account_id else []
    if "account_ids" in fields:
        return list(request.account_ids)
    if "legs" in fields:
        return sorted({leg.account_id for leg in request.legs if leg.account_id})
    return []


def authorize(principal: Principal, method: str, request: Any) -> None:
    """Raise PERMISSION_DENIED unless `principal` may make this call."""
    access = NEEDS[method]
    short = method.removeprefix("kite_gateway.v1.")
    if access is Access.SIGNED_IN or (access is Access.TRADE_OR_ADMIN and principal.admin):
        return
    if access is Access.ADMIN:
        if not principal.admin:
            raise denied(principal, f"{short} needs an admin principal; {principal.name!r} is not one")
        return
    accounts = accounts_named(request)
    every = not accounts and "account_ids" in request.DESCRIPTOR.fields_by_name and method not in SCOPED
    if every and not principal.reads_everything:
        raise denied(principal, f"{short} without account_ids means every account; name the accounts you may read")
    check = principal.may_read if access is Access.READ else principal.may_trade
    for account_id in accounts:
        if not check(account_id):
            raise denied(
                principal, f"{principal.name!r} may not {access.value} account {account_id} ({short})", account_id
            )


def authorize_kill_switch(principal: Principal | None, account_id: str, engaged: bool) -> None:
    """Who trades an account may engage its kill switch; releasing one, or engaging the
    gateway-wide one (account_id ""), needs an admin. `principal` None: authentication is off."""
    if (not engaged or not account_id) and principal is not None and not principal.admin:
        what = "releasing a kill switch" if not engaged else "the gateway-wide kill switch"
        raise denied(principal, f"{what} needs an admin principal; {principal.name!r} is not one")


def authorize_trade(principal: Principal | None, accounts: list[str], method: str) -> None:
    """PERMISSION_DENIED unless `principal` may trade every one of `accounts` (a scope's, resolved);
    `principal` None: authentication is off."""
    if principal is None:
        return
    for account_id in accounts:
        if not principal.may_trade(account_id):
            raise denied(principal, f"{principal.name!r} may not trade account {account_id} ({method})", account_id)


def authorize_read(principal: Principal | None, accounts: list[str], method: str) -> None:
    """PERMISSION_DENIED unless `principal` may read every one of `accounts`; None: authentication is off."""
    if principal is None:
        return
    for account_id in accounts:
        if not principal.may_read(account_id):
            raise denied(principal, f"{principal.name!r} may not read account {account_id} ({method})", account_id)
