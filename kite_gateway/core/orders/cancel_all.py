"""Cancel every open order in a scope (kite_gateway/core/orders/exit_scope.py): of an account, a group
of accounts, a strategy, an instrument. Idempotent by the caller's request id, audited (one entry per
order and one per account), and never stopped by a kill switch (a cancellation reduces risk)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from kite_gateway.core.orders.exit_scope import (
    AUDIT_ACTION_CANCEL_ALL_ORDERS,
    AUDIT_ACTION_CANCEL_ORDER,
    Audit,
    Authorize,
    Codec,
    ExitScope,
    RequestOnce,
    Resolved,
    ScopeResolver,
)
from kite_gateway.core.orders.requests import Cancellation
from kite_gateway.core.orders.status import is_final
from kite_gateway.errors import GatewayError
from kite_gateway.kite import KiteOrders, OrderRow

log = structlog.get_logger(__name__)

Trading = Callable[[str], Awaitable[KiteOrders]]  # an account's order endpoints (NOT_FOUND: unknown account)


@dataclass(frozen=True)
class CancelAllResult:
    request_id: str
    cancellations: tuple[Cancellation, ...]
    failed_accounts: tuple[tuple[str, str], ...] = ()  # (account_id, why) of accounts whose orders could not be read
    replayed: bool = False


def open_in_scope(resolved: Resolved, account_id: str, rows: Sequence[OrderRow]) -> list[OrderRow]:
    """The orders of an account that are open and in scope (an order's own later legs are left to it)."""
    return [
        row
        for row in rows
        if not is_final(row.get("status")) and not row.get("parent_order_id")
        and resolved.order_in_scope(account_id, row)
    ]  # fmt: skip


async def cancel_orders(
    kite: KiteOrders, rows: Sequence[OrderRow], audit: Audit, principal: str, request: dict[str, Any]
) -> list[Cancellation]:
    """Ask Kite to cancel each order; each outcome, audited."""
    results = []
    for row in rows:
        order_id = str(row["order_id"])
        started = time.perf_counter()
        error: GatewayError | None = None
        try:
            await kite.cancel_order(row["variety"], order_id)
            results.append(Cancellation(kite.account_id, order_id, cancelled=True))
        except GatewayError as exc:
            error = exc
            results.append(Cancellation(kite.account_id, order_id, cancelled=False, error=exc.message))
        await audit.append(principal, kite.account_id, AUDIT_ACTION_CANCEL_ORDER, {**request, "order_id": order_id},
                           error, order_id=order_id, started=started)  # fmt: skip
    return results


def _encode(result: CancelAllResult) -> str:
    return json.dumps(
        {
            "cancellations": [[c.account_id, c.order_id, c.cancelled, c.error] for c in result.cancellations],
            "failed_accounts": [list(f) for f in result.failed_accounts],
        }
    )


def _decoder(request_id: str) -> Callable[[str], CancelAllResult]:
    def decode(text: str) -> CancelAllResult:
        data = json.loads(text)
        return CancelAllResult(
            request_id,
            tuple(Cancellation(a, o, bool(c), e) for a, o, c, e in data["cancellations"]),
            tuple((a, why) for a, why in data["failed_accounts"]),
            replayed=True,
        )

    return decode


class CancelAll:
    def __init__(self, trading: Trading, resolver: ScopeResolver, once: RequestOnce, audit: Audit) -> None:
        self.trading = trading
        self.resolver = resolver
        self.once = once
        self.audit = audit

    async def cancel_all(
        self, scope: ExitScope, reason: str, request_id: str, principal: str, authorize: Authorize | None = None
    ) -> CancelAllResult:
        """Cancel the open orders in `scope`; a retry with `request_id` returns the first result.
        `authorize` (raises to refuse) is given the accounts the scope resolved to, before anything."""
        resolved = await self.resolver.resolve(scope)
        if authorize is not None:
            authorize(resolved.accounts)
        for account_id in resolved.accounts:
            await self.trading(account_id)  # NOT_FOUND for an unknown account, before anything is done
        request = {"request_id": request_id, "reason": reason, "scope": scope.as_json()}

        async def run() -> CancelAllResult:
            accounts = resolved.accounts
            outcomes = await asyncio.gather(*(self._account(resolved, a, request, principal) for a in accounts))
            cancellations = tuple(c for found, _ in outcomes for c in found)
            failed = tuple(f for _, f in outcomes if f is not None)
            return CancelAllResult(request_id, cancellations, failed)

        result, _ = await self.once.run("cancel_all", request_id, scope.fingerprint(), principal, run,
                                        Codec(_encode, _decoder(request_id)))  # fmt: skip
        return result

    async def _account(
        self, resolved: Resolved, account_id: str, request: dict[str, Any], principal: str
    ) -> tuple[list[Cancellation], tuple[str, str] | None]:
        started = time.perf_counter()
        try:
            kite = await self.trading(account_id)
            rows = open_in_scope(resolved, account_id, await kite.orders())
        except GatewayError as exc:
            await self.audit.append(
                principal, account_id, AUDIT_ACTION_CANCEL_ALL_ORDERS, request, exc, started=started
            )
            return [], (account_id, exc.message)
        cancellations = await cancel_orders(kite, rows, self.audit, principal, request)
        done = sum(c.cancelled for c in cancellations)
        log.warning("orders.cancel_all", account_id=account_id, cancelled=done, request_id=request["request_id"],
                    reason=request["reason"], principal=principal)  # fmt: skip
        outcome = f"{done} of {len(cancellations)} open orders cancelled"
        await self.audit.append(
            principal, account_id, AUDIT_ACTION_CANCEL_ALL_ORDERS, request, outcome=outcome, started=started
        )
        return cancellations, None
