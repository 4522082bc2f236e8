"""The risk-reducing requests built together over one placement path and one request store:
square-off and cancel-all (and what the automatic exits call), so that the composition root and
other use cases get them in one line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from kite_gateway.core.orders.accounts import OrderAccounts
from kite_gateway.core.orders.cancel_all import CancelAll
from kite_gateway.core.orders.exit_orders import ExitOrders
from kite_gateway.core.orders.exit_scope import Audit, Members, RequestOnce, ScopeResolver, StrategyOrders
from kite_gateway.core.orders.placement import IdempotentPlacement
from kite_gateway.core.orders.square_off import SquareOffs
from kite_gateway.storage import AuditLog, Database, OrderRequests


def _now() -> datetime:
    return datetime.now(UTC)


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
        once, audited = RequestOnce(OrderRequests(database)), Audit(audit, _now)
        exits = ExitOrders(placement, market_protection)
        return cls(
            exits,
            SquareOffs(accounts.trading, resolver, exits, once, audited),
            CancelAll(accounts.trading, resolver, once, audited),
            once,
            audited,
        )
