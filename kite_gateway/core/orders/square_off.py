"""Square-off: close every open net position in a scope (kite_gateway/core/orders/exit_scope.py).

For each account in scope: its open orders in scope are cancelled first (so none fills behind the
exit), then each net position in scope (Kite's net positions, quantity not 0, per product) gets one
opposite MARKET order for its net quantity, as an exit (kite_gateway/core/orders/exit_orders.py):
it goes out through an engaged kill switch, is checked at its moment of sending to reduce and never
open or flip a position, and its client_order_id is derived from the request id, the account and the
position, so a retry never places it again. For a strategy, what is closed is the strategy's own net
filled quantity (from the orders placed for it), capped to the account's net position of the same
sign. Idempotent by the caller's request id, audited: one entry per exit, per cancellation and per
account."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from kite_gateway.core.orders.cancel_all import Trading, cancel_orders, open_in_scope
from kite_gateway.core.orders.exit_orders import ExitLeg, ExitOrders, closing_side, exit_client_order_id
from kite_gateway.core.orders.exit_scope import (
    AUDIT_ACTION_PLACE_ORDER,
    AUDIT_ACTION_SQUARE_OFF,
    Audit,
    Authorize,
    Codec,
    ExitScope,
    RequestOnce,
    Resolved,
    ScopeResolver,
    error_json,
    error_of,
)
from kite_gateway.core.orders.requests import Cancellation
from kite_gateway.errors import GatewayError
from kite_gateway.kite import KiteOrders, OrderRow, PositionRow

log = structlog.get_logger(__name__)

Key = tuple[str, str, str]  # (exchange, tradingsymbol, product)


@dataclass(frozen=True)
class ExitResult:
    """One position's exit: placed (order_id) or the failure that stopped it."""

    account_id: str
    exchange: str
    tradingsymbol: str
    product: str
    transaction_type: str
    quantity: int
    client_order_id: str
    order_id: str = ""
    error: GatewayError | None = None


@dataclass(frozen=True)
class SquareOffResult:
    request_id: str
    exits: tuple[ExitResult, ...]
    cancellations: tuple[Cancellation, ...]
    failed_accounts: tuple[tuple[str, str], ...] = ()  # (account_id, why) of accounts that could not be read
    replayed: bool = False

    @property
    def complete(self) -> bool:
        """Every exit placed and every account read (cancellations may still have failed)."""
        return not self.failed_accounts and all(e.error is None for e in self.exits)


def strategy_net(rows: Sequence[OrderRow], order_ids: frozenset[str]) -> dict[Key, int]:
    """The net filled quantity of a strategy's orders by instrument and product (BUY positive)."""
    net: dict[Key, int] = {}
    for row in rows:
        if str(row.get("order_id")) not in order_ids:
            continue
        key = (str(row.get("exchange")), str(row.get("tradingsymbol")), str(row.get("product")))
        filled = int(row.get("filled_quantity") or 0)
        net[key] = net.get(key, 0) + (filled if row.get("transaction_type") == "BUY" else -filled)
    return net


def to_close(resolved: Resolved, account_id: str, positions: Sequence[PositionRow],
             rows: Sequence[OrderRow]) -> list[tuple[Key, int]]:  # fmt: skip
    """(position, signed quantity to close) in scope: the net position, or a strategy's share of it."""
    held: dict[Key, int] = {}
    for p in positions:
        if p.quantity and resolved.scope.covers(p.exchange, p.tradingsymbol, p.product):
            key = (p.exchange, p.tradingsymbol, p.product)
            held[key] = held.get(key, 0) + p.quantity
    if resolved.strategy_orders is None:
        return [(key, q) for key, q in held.items() if q]
    mine = strategy_net(rows, resolved.strategy_orders.get(account_id, frozenset()))
    closing = []
    for key, q in mine.items():
        net = held.get(key, 0)
        if q and net and (q > 0) == (net > 0):
            closing.append((key, min(abs(q), abs(net)) * (1 if net > 0 else -1)))
    return closing


def _encode(result: SquareOffResult) -> str:
    return json.dumps({
        "exits": [[e.account_id, e.exchange, e.tradingsymbol, e.product, e.transaction_type, e.quantity,
                   e.client_order_id, e.order_id, error_json(e.error)] for e in result.exits],
        "cancellations": [[c.account_id, c.order_id, c.cancelled, c.error] for c in result.cancellations],
        "failed_accounts": [list(f) for f in result.failed_accounts],
    })  # fmt: skip


def _exit_result(row: list[Any]) -> ExitResult:
    account_id, exchange, tradingsymbol, product, side, quantity, client_order_id, order_id, error = row
    return ExitResult(
        account_id, exchange, tradingsymbol, product, side, int(quantity), client_order_id, order_id, error_of(error)
    )


def _decoder(request_id: str) -> Callable[[str], SquareOffResult]:
    def decode(text: str) -> SquareOffResult:
        data = json.loads(text)
        return SquareOffResult(
            request_id,
            tuple(_exit_result(row) for row in data["exits"]),
            tuple(Cancellation(a, o, bool(c), e) for a, o, c, e in data["cancellations"]),
            tuple((a, why) for a, why in data["failed_accounts"]),
            replayed=True,
        )

    return decode


class SquareOffs:
    def __init__(
        self, trading: Trading, resolver: ScopeResolver, exits: ExitOrders, once: RequestOnce, audit: Audit
    ) -> None:
        self.trading = trading
        self.resolver = resolver
        self.exits = exits
        self.once = once
        self.audit = audit

    async def square_off(
        self,
        scope: ExitScope,
        reason: str,
        request_id: str,
        principal: str,
        algo_id: str = "",
        authorize: Authorize | None = None,
    ) -> SquareOffResult:
        """Close the open positions in `scope` (their open orders cancelled first); a retry with
        `request_id` returns the first result and never places again. Goes through kill switches.
        `authorize` (raises to refuse) is given the accounts the scope resolved to, before anything."""
        resolved = await self.resolver.resolve(scope)
        if authorize is not None:
            authorize(resolved.accounts)
        for account_id in resolved.accounts:
            await self.trading(account_id)  # NOT_FOUND for an unknown account, before anything is done
        request = {"request_id": request_id, "reason": reason, "scope": scope.as_json()}

        async def run() -> SquareOffResult:
            outcomes = await asyncio.gather(
                *(self._account(resolved, a, request, principal, algo_id) for a in resolved.accounts)
            )
            return SquareOffResult(
                request_id,
                tuple(e for exits, _, _ in outcomes for e in exits),
                tuple(c for _, cancelled, _ in outcomes for c in cancelled),
                tuple(f for _, _, f in outcomes if f is not None),
            )

        result, _ = await self.once.run("square_off", request_id, scope.fingerprint(), principal, run,
                                        Codec(_encode, _decoder(request_id)))  # fmt: skip
        return result

    async def _account(
        self, resolved: Resolved, account_id: str, request: dict[str, Any], principal: str, algo_id: str
    ) -> tuple[list[ExitResult], list[Cancellation], tuple[str, str] | None]:
        started = time.perf_counter()
        try:
            kite = await self.trading(account_id)
            rows = await kite.orders()
            cancellations = await cancel_orders(kite, open_in_scope(resolved, account_id, rows), self.audit,
                                                principal, request)  # fmt: skip
            closing = to_close(resolved, account_id, await self.exits.positions(kite), rows)
        except GatewayError as exc:
            await self.audit.append(principal, account_id, AUDIT_ACTION_SQUARE_OFF, request, exc, started=started)
            return [], [], (account_id, exc.message)
        exits = [await self._exit(kite, key, net, request, principal, algo_id) for key, net in closing]
        placed = sum(e.error is None for e in exits)
        log.warning("orders.square_off", account_id=account_id, exits=len(exits), placed=placed,
                    request_id=request["request_id"], reason=request["reason"], principal=principal)  # fmt: skip
        outcome = (
            f"{placed} of {len(exits)} positions closed by an exit order; "
            f"{sum(c.cancelled for c in cancellations)} open orders cancelled"
        )
        await self.audit.append(
            principal, account_id, AUDIT_ACTION_SQUARE_OFF, request, outcome=outcome, started=started
        )
        return exits, cancellations, None

    async def _exit(
        self, kite: KiteOrders, key: Key, net: int, request: dict[str, Any], principal: str, algo_id: str
    ) -> ExitResult:
        exchange, tradingsymbol, product = key
        client_order_id = exit_client_order_id(request["request_id"], kite.account_id, exchange, tradingsymbol, product)
        leg = ExitLeg(kite.account_id, exchange, tradingsymbol, product, closing_side(net), abs(net), client_order_id)
        started = time.perf_counter()
        error: GatewayError | None = None
        order_id = ""
        try:
            order_id = (await self.exits.place(kite, leg, algo_id)).order_id
        except GatewayError as exc:
            error = exc
        await self.audit.append(principal, kite.account_id, AUDIT_ACTION_PLACE_ORDER,
                                {**request, "exit": f"{leg.transaction_type} {leg.quantity} {exchange}:{tradingsymbol} "
                                 f"{product} MARKET"}, error, outcome=f"exit order {order_id}",
                                client_order_id=leg.client_order_id, order_id=order_id, started=started)  # fmt: skip
        return ExitResult(kite.account_id, exchange, tradingsymbol, product, leg.transaction_type, leg.quantity,
                          leg.client_order_id, order_id, error)  # fmt: skip
