"""The risk-reducing requests built together over one placement path and one request store:
square-off and cancel-all (and what the automatic exits call), so that the composition root and
other use cases get them in one line."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kite_gateway.core.orders.accounts import OrderAccounts
from kite_gateway.core.orders.cancel_all import CancelAll
from kite_gateway.core.orders.exit_orders import ExitOrders
from kite_gateway.core.orders.exit_scope import Audit, ExitScope, Members, RequestOnce, ScopeResolver, StrategyOrders
from kite_gateway.core.orders.placement import IdempotentPlacement
from kite_gateway.core.orders.square_off import SquareOffs
from kite_gateway.storage import AuditLog, Database, OrderRequests

EXITS_PRINCIPAL = "gateway:exits"  # as kite_gateway/core/risk/exits.py  # who the audit trail says squared off


@dataclass(frozen=True)
class ExitRequests:
    exits: ExitOrders
    square_offs: SquareOffs
    cancel_all: CancelAll
    once: RequestOnce
    audit: Audit

    @classmethod
    def of(
        cls,
        accounts: OrderAccounts,
        placement: IdempotentPlacement,
        database: Database,
        audit: AuditLog,
        market_protection: Decimal,
        members: Members | None = None,
        strategy_orders: StrategyOrders | None = None,
    ) -> ExitRequests:
        """`members`: a group's accounts (unknown: NOT_FOUND); `strategy_orders`: the (account_id,
        order_id) placed for a strategy; None: scopes naming groups or strategies are refused."""
        resolver = ScopeResolver(accounts.account_ids, members, strategy_orders)
        once, audited = RequestOnce(OrderRequests(database)), Audit(audit, audit.now)
        exits = ExitOrders(placement, market_protection)
        return cls(
            exits,
            SquareOffs(accounts.trading, resolver, exits, once, audited),
            CancelAll(accounts.trading, resolver, once, audited),
            once,
            audited,
        )

    async def automatic_exit(self, scope: str, scope_id: str, reason: str, request_id: str) -> str:
        """The automatic exits' square-off (kite_gateway/core/risk/exits.py): an account or a
        strategy closed to flat past the kill switch, idempotent by the exit's request id; a
        one-line outcome for its exit event."""
        target = ExitScope(account_ids=(scope_id,)) if scope == "account" else ExitScope(strategy_id=scope_id)
        result = await self.square_offs.square_off(target, reason, request_id, EXITS_PRINCIPAL)
        placed = [e.order_id for e in result.exits if e.error is None]
        failed = [f"{e.exchange}:{e.tradingsymbol}: {e.error.message}" for e in result.exits if e.error is not None]
        failed += [f"{account_id}: {why}" for account_id, why in result.failed_accounts]
        outcome = f"squared off: {len(placed)} orders" + (f" ({', '.join(placed)})" if placed else "")
        return outcome + (f"; failed: {'; '.join(failed)}" if failed else "")
