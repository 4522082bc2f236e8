"""What a square-off or a cancel-all covers, and how either is kept under its caller's request id.

A scope names accounts, groups of accounts, a strategy and an instrument (and a product), in any
combination: the accounts are those named and the groups' members; a strategy narrows them to the
accounts it traded (or, with no account named, is them) and the orders to those placed for it; an
instrument (and product) narrows orders and positions to it, and alone means every account.

A request id is the caller's idempotency key for the whole request (`RequestOnce`): claimed before
anything is sent, its result stored once done; a retry returns the stored result (replayed), and
the same id with a different scope is refused as PlaceOrder refuses a reused client_order_id. A retry
of a request that never finished runs it again, and each order it makes has a client_order_id
derived from the request id, so nothing is placed twice."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from kite_gateway.core.orders.validation import CLIENT_ORDER_ID
from kite_gateway.errors import GatewayError, Reason, Status, invalid
from kite_gateway.storage import DONE, AuditLog, OrderRequests

T = TypeVar("T")

Members = Callable[[str], Sequence[str]]  # group name -> its account ids (unknown: NOT_FOUND)
# strategy id -> the (account_id, order_id) of every order placed for it
StrategyOrders = Callable[[str], Awaitable[list[tuple[str, str]]]]

Authorize = Callable[[Sequence[str]], None]  # raises unless the caller may act on these accounts

# kite_gateway.v1.AuditAction of the entries these use cases append (a test holds them equal)
AUDIT_ACTION_PLACE_ORDER = 1
AUDIT_ACTION_CANCEL_ORDER = 3
AUDIT_ACTION_SQUARE_OFF = 10
AUDIT_ACTION_CANCEL_ALL_ORDERS = 11
AUDIT_ACTION_PLACE_BASKET = 12


@dataclass(frozen=True)
class ExitScope:
    account_ids: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    strategy_id: str = ""
    exchange: str = ""  # with tradingsymbol: one instrument ("" : every instrument)
    tradingsymbol: str = ""
    product: str = ""  # "" : every product

    def as_json(self) -> dict[str, Any]:
        return {
            "account_ids": sorted(set(self.account_ids)),
            "groups": sorted(set(self.groups)),
            "strategy_id": self.strategy_id,
            "instrument": f"{self.exchange}:{self.tradingsymbol}" if self.tradingsymbol else "",
            "product": self.product,
        }

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.as_json(), sort_keys=True).encode()).hexdigest()

    def covers(self, exchange: object, tradingsymbol: object, product: object) -> bool:
        """Whether an order or position in this instrument and product is in scope."""
        if self.tradingsymbol and (exchange, tradingsymbol) != (self.exchange, self.tradingsymbol):
            return False
        return not self.product or product == self.product


@dataclass(frozen=True)
class Resolved:
    """A scope's accounts, and (for a strategy) the orders placed for it on each."""

    scope: ExitScope
    accounts: tuple[str, ...]
    strategy_orders: dict[str, frozenset[str]] | None = None  # None: no strategy named

    def order_in_scope(self, account_id: str, row: Any) -> bool:
        if not self.scope.covers(row.get("exchange"), row.get("tradingsymbol"), row.get("product")):
            return False
        return self.strategy_orders is None or str(row.get("order_id")) in self.strategy_orders.get(account_id, ())


class ScopeResolver:
    def __init__(
        self, account_ids: Callable[[], list[str]], members: Members | None, strategy_orders: StrategyOrders | None
    ) -> None:
        self._account_ids = account_ids  # every account the gateway has
        self._members = members
        self._strategy_orders = strategy_orders

    async def resolve(self, scope: ExitScope) -> Resolved:
        if bool(scope.exchange) != bool(scope.tradingsymbol):
            raise invalid("scope.instrument", "name both the exchange and the tradingsymbol")
        accounts = list(dict.fromkeys(scope.account_ids))
        for group in scope.groups:
            accounts.extend(a for a in self._group(group) if a not in accounts)
        named = bool(scope.account_ids or scope.groups)
        if not named and not scope.strategy_id:
            if not scope.tradingsymbol:
                raise invalid("scope", "name an account, a group of accounts, a strategy or an instrument")
            accounts = self._account_ids()
        if not scope.strategy_id:
            return Resolved(scope, tuple(accounts))
        if self._strategy_orders is None:
            raise invalid("scope.strategy_id", "this gateway has no strategies configured")
        by_account: dict[str, set[str]] = {}
        for account_id, order_id in await self._strategy_orders(scope.strategy_id):
            by_account.setdefault(account_id, set()).add(order_id)
        if named:
            accounts = [a for a in accounts if a in by_account]
        else:
            accounts = list(by_account)
        return Resolved(scope, tuple(accounts), {a: frozenset(ids) for a, ids in by_account.items()})

    def _group(self, group: str) -> Sequence[str]:
        if self._members is None:
            raise GatewayError(Status.NOT_FOUND, Reason.ACCOUNT_NOT_FOUND,
                               f"account group {group!r} is not known: this gateway has no account groups configured",
                               {"group": group})  # fmt: skip
        try:
            return self._members(group)
        except KeyError:
            raise GatewayError(Status.NOT_FOUND, Reason.ACCOUNT_NOT_FOUND, f"account group {group!r} is not known",
                               {"group": group}) from None  # fmt: skip


def check_request_id(value: str, field: str = "request_id") -> None:
    if not CLIENT_ORDER_ID.fullmatch(value):
        raise invalid(field, "required: 1-64 characters of letters, digits and . _ : - (the idempotency key)")


def error_json(error: GatewayError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"code": int(error.code), "reason": int(error.reason), "message": error.message, "metadata": error.metadata}


def error_of(data: dict[str, Any] | None) -> GatewayError | None:
    if data is None:
        return None
    return GatewayError(Status(data["code"]), Reason(data["reason"]), data["message"], dict(data["metadata"]))


@dataclass(frozen=True)
class Codec(Generic[T]):
    encode: Callable[[T], str]
    decode: Callable[[str], T]


class RequestOnce:
    """Runs a request once per (kind, request id): a retry gets the stored result."""

    def __init__(self, requests: OrderRequests) -> None:
        self.requests = requests
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def run(
        self,
        kind: str,
        request_id: str,
        fingerprint: str,
        principal: str,
        call: Callable[[], Awaitable[T]],
        codec: Codec[T],
        account_id: str = "",
    ) -> tuple[T, bool]:
        """(result, replayed)."""
        check_request_id(request_id)
        key = (kind, request_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                stored = await self.requests.claim(kind, request_id, fingerprint, account_id, principal)
                if stored.fingerprint != fingerprint:
                    raise GatewayError(
                        Status.ALREADY_EXISTS,
                        Reason.IDEMPOTENCY_KEY_REUSED,
                        f"{kind.replace('_', ' ')} request id {request_id!r} was already used for a different "
                        "request; choose a new id for a new request",
                        {"request_id": request_id, "kind": kind},
                    )
                if stored.state == DONE and stored.result is not None:
                    return codec.decode(stored.result), True
                result = await call()
                await self.requests.finish(kind, request_id, codec.encode(result))
                return result, False
        finally:
            if not lock.locked():
                self._locks.pop(key, None)


class Audit:
    """The audit entries of these use cases (kite_gateway/storage/audit.py), one per action taken."""

    def __init__(self, log: AuditLog, now: Callable[[], datetime]) -> None:
        self.log = log
        self.now = now

    async def append(
        self,
        principal: str,
        account_id: str,
        action: int,
        request: dict[str, Any],
        error: GatewayError | None = None,
        outcome: str = "ok",
        client_order_id: str = "",
        order_id: str = "",
        started: float | None = None,
    ) -> None:
        latency = 0.0 if started is None else (time.perf_counter() - started) * 1000
        await self.log.append(
            self.now(), principal, account_id, action, client_order_id, order_id,
            json.dumps(request, sort_keys=True, default=str), int(error.code) if error else 0,
            error.message if error else outcome, latency,
        )  # fmt: skip
