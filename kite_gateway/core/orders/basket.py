"""A basket: several legs on one account, placed as one request with a declared policy for failure.

First Kite's basket margin of the legs is read (hedged legs net, as Kite's basket margin does) with
the account's available margin in the legs' segment; an account that cannot afford the basket is
refused with FAILED_PRECONDITION before anything is placed. Then the legs go one at a time, hedge
first: BUY legs before SELL legs (an option seller's margin falls once its hedge is bought), each
side in the request's order. Each leg is placed as PlaceOrder places an order (validated, admitted
by the risk checks, stopped by a kill switch, idempotent by its client_order_id).

A leg fails when it is refused, by the gateway or by Kite, including Kite's RMS rejecting it just
after accepting it (no funds, no holdings: read back before the next leg goes). Then the policy
decides. BEST_EFFORT places the others. UNWIND sends no further leg and undoes the ones placed:
each still open is cancelled, and what filled is closed by an exit order
(kite_gateway/core/orders/exit_orders.py: it passes kill switches and never opens or flips a
position) whose client_order_id is derived from the basket and the leg, so a retry never closes twice.

Idempotent by `basket_id` (kite_gateway/core/orders/exit_scope.py RequestOnce): the result is stored
once done and a retry returns it; a retry of a basket that never finished runs it again, and each
leg's and each unwind's own idempotency key keeps anything from being placed twice. A basket runs to
its end even when its caller gives up (its task is shielded), and a second call while it runs waits
for the first. A leg whose outcome is unknown (Kite did not answer) stops the basket with that error
and nothing stored: the retry the error asks for resolves the leg and carries on.

Legs are plain orders: autoslice and iceberg legs (several orders at Kite behind one leg) are refused."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

import structlog

from kite_gateway.core.orders.cancel_all import Trading
from kite_gateway.core.orders.exit_orders import ExitLeg, ExitOrders, closing_side, exit_client_order_id
from kite_gateway.core.orders.exit_scope import (
    AUDIT_ACTION_CANCEL_ORDER,
    AUDIT_ACTION_PLACE_BASKET,
    AUDIT_ACTION_PLACE_ORDER,
    Audit,
    Codec,
    RequestOnce,
    check_request_id,
    error_json,
    error_of,
)
from kite_gateway.core.orders.previews import margin_order
from kite_gateway.core.orders.requests import NewOrder
from kite_gateway.core.orders.status import is_final
from kite_gateway.core.orders.trading import OrderActions
from kite_gateway.errors import GatewayError, Reason, Status, invalid
from kite_gateway.kite import KiteOrders, KitePortfolio, OrderRow
from kite_wire import kite_decimal

log = structlog.get_logger(__name__)

MAX_BASKET_LEGS = 20
CANCEL_CONFIRM_READS = 10  # reads of a cancelled leg's history before its unwind is called failed
CANCEL_CONFIRM_PAUSE = 0.2  # seconds between them (Kite confirms a cancellation asynchronously)
# Kite's statuses of an order still in its checks (a REJECTED may follow)
CHECKING = frozenset({"PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING"})


class Policy(Enum):
    BEST_EFFORT = "best_effort"
    UNWIND = "unwind"


class LegStatus(Enum):
    PLACED = "placed"
    FAILED = "failed"  # refused: nothing of it exists at Kite
    NOT_SENT = "not_sent"  # an earlier leg failed under UNWIND
    UNWOUND = "unwound"  # cancelled where open, what filled closed by an exit order
    UNWIND_FAILED = "unwind_failed"  # the account may hold it still (see the failure)


@dataclass(frozen=True)
class BasketRequest:
    account_id: str
    basket_id: str
    legs: tuple[NewOrder, ...]  # in the request's order ("legs[i]." their fields)
    policy: Policy | None  # None: not chosen (refused unless only previewing)
    preview_only: bool = False
    consider_positions: bool = False

    def fingerprint(self) -> str:
        body = [self.account_id, self.policy.value if self.policy else "", self.consider_positions,
                [[leg.client_order_id, leg.fingerprint] for leg in self.legs]]  # fmt: skip
        return hashlib.sha256(json.dumps(body).encode()).hexdigest()


@dataclass(frozen=True)
class BasketMargin:
    required: Decimal  # after netting hedged legs (Kite's `final`)
    initial: Decimal  # before netting
    available: Decimal | None  # the account's net margin in the legs' segment (None: not read)

    @property
    def sufficient(self) -> bool:
        return self.available is not None and self.available >= self.required


@dataclass(frozen=True)
class BasketLegResult:
    client_order_id: str
    status: LegStatus
    sequence: int  # its place in the sending order (0 first)
    order_id: str = ""
    failure: GatewayError | None = None
    filled_quantity: int = 0  # what had filled when it was unwound
    unwind_order_id: str = ""  # the exit order that closed what filled


@dataclass(frozen=True)
class BasketResult:
    basket_id: str
    margin: BasketMargin
    legs: tuple[BasketLegResult, ...]  # in the request's order (empty for a preview)
    replayed: bool = False
    unwound: bool = False


def sending_order(legs: Sequence[NewOrder]) -> list[int]:
    """The legs' indices in the order they are sent: BUY legs first, each side in request order."""
    return sorted(range(len(legs)), key=lambda i: legs[i].params.transaction_type != "BUY")


def segment_of(legs: Sequence[NewOrder]) -> Literal["equity", "commodity"]:
    """The margin segment the legs trade in (INVALID_ARGUMENT when they span both)."""
    segments = {"commodity" if leg.params.listing.exchange == "MCX" else "equity" for leg in legs}
    if len(segments) > 1:
        raise invalid("legs", "a basket's legs trade in one margin segment: equity (NSE, BSE, NFO, BFO, CDS) or "
                              "commodity (MCX), not both")  # fmt: skip
    return "commodity" if "commodity" in segments else "equity"


def check_basket(request: BasketRequest) -> None:
    """INVALID_ARGUMENT for what no basket may be: a bad id or policy, too few or too many legs,
    a client_order_id twice, a leg that would be several orders at Kite."""
    if not request.preview_only:
        check_request_id(request.basket_id, "basket_id")
        if request.policy is None:
            raise invalid("failure_policy", "required: BEST_EFFORT (place the other legs) or UNWIND (undo the basket)")
    if not 1 <= len(request.legs) <= MAX_BASKET_LEGS:
        raise invalid("legs", f"1 to {MAX_BASKET_LEGS} legs")
    seen: set[str] = set()
    for i, leg in enumerate(request.legs):
        if leg.client_order_id in seen:
            raise invalid(f"legs[{i}].client_order_id", f"{leg.client_order_id!r} appears twice in the basket")
        seen.add(leg.client_order_id)
        if leg.params.autoslice:
            raise invalid(f"legs[{i}].params.autoslice", "a basket leg is one order: split it into legs instead")
        if leg.params.variety == "iceberg":
            raise invalid(f"legs[{i}].params.variety", "a basket leg is one order: iceberg is not allowed in a basket")


def _encode(result: BasketResult) -> str:
    return json.dumps({
        "margin": [str(result.margin.required), str(result.margin.initial),
                   None if result.margin.available is None else str(result.margin.available)],
        "legs": [[leg.client_order_id, leg.status.value, leg.sequence, leg.order_id, error_json(leg.failure),
                  leg.filled_quantity, leg.unwind_order_id] for leg in result.legs],
        "unwound": result.unwound,
    })  # fmt: skip


def result_codec(basket_id: str) -> Codec[BasketResult]:
    def decode(text: str) -> BasketResult:
        data = json.loads(text)
        required, initial, available = data["margin"]
        legs = tuple(
            BasketLegResult(cid, LegStatus(status), int(seq), order_id, error_of(error), int(filled), unwind)
            for cid, status, seq, order_id, error, filled, unwind in data["legs"]
        )
        margin = BasketMargin(Decimal(required), Decimal(initial), None if available is None else Decimal(available))
        return BasketResult(basket_id, margin, legs, replayed=True, unwound=bool(data["unwound"]))

    return Codec(_encode, decode)


class Baskets:
    def __init__(
        self,
        trading: Trading,
        actions: OrderActions,
        exits: ExitOrders,
        once: RequestOnce,
        audit: Audit,
        market_protection: Decimal,
    ) -> None:
        self.trading = trading
        self.actions = actions
        self.exits = exits
        self.once = once
        self.audit = audit
        self.market_protection = market_protection
        self._running: dict[tuple[str, str], asyncio.Task[BasketResult]] = {}  # by (basket_id, fingerprint)

    async def place_basket(self, request: BasketRequest, principal: str, algo_id: str = "") -> BasketResult:
        check_basket(request)
        kite = await self.trading(request.account_id)
        margin = await self.margin(kite, request)
        if request.preview_only:
            return BasketResult(request.basket_id, margin, ())
        key = (request.basket_id, request.fingerprint())
        task = self._running.get(key)
        if task is None:  # runs to its end even if this caller gives up; a second caller waits for it
            task = asyncio.get_running_loop().create_task(self._once(kite, request, margin, principal, algo_id))
            self._running[key] = task
            task.add_done_callback(lambda _: self._running.pop(key, None))
        return await asyncio.shield(task)

    async def margin(self, kite: KiteOrders, request: BasketRequest) -> BasketMargin:
        """Kite's basket margin of the legs and the account's available margin in their segment."""
        rows = [margin_order(leg.params, self.market_protection, f"legs[{i}].params")
                for i, leg in enumerate(request.legs)]  # fmt: skip
        segment = segment_of(request.legs)
        basket = await kite.basket_order_margins(rows, request.consider_positions)
        available = (await KitePortfolio(kite.caller).segment_margins(segment)).net
        return BasketMargin(
            kite_decimal(basket.get("final", {}).get("total")), kite_decimal(basket.get("initial", {}).get("total")),
            available,
        )  # fmt: skip

    async def _once(
        self, kite: KiteOrders, request: BasketRequest, margin: BasketMargin, principal: str, algo_id: str
    ) -> BasketResult:
        started = time.perf_counter()
        audit = {"basket_id": request.basket_id, "policy": request.policy.value if request.policy else "",
                 "legs": [leg.client_order_id for leg in request.legs]}  # fmt: skip
        try:
            result, replayed = await self.once.run(
                "basket", request.basket_id, request.fingerprint(), principal,
                lambda: self._run(kite, request, margin, principal, algo_id), result_codec(request.basket_id),
                account_id=request.account_id,
            )  # fmt: skip
        except GatewayError as exc:
            await self.audit.append(principal, request.account_id, AUDIT_ACTION_PLACE_BASKET, audit, exc,
                                    started=started)  # fmt: skip
            raise
        if not replayed:
            placed = sum(leg.status is LegStatus.PLACED for leg in result.legs)
            outcome = f"{placed} of {len(result.legs)} legs placed" + ("; unwound" if result.unwound else "")
            await self.audit.append(principal, request.account_id, AUDIT_ACTION_PLACE_BASKET, audit, outcome=outcome,
                                    started=started)  # fmt: skip
            log.info("orders.basket", account_id=request.account_id, basket_id=request.basket_id, outcome=outcome)
        return result

    async def _run(
        self, kite: KiteOrders, request: BasketRequest, margin: BasketMargin, principal: str, algo_id: str
    ) -> BasketResult:
        if not margin.sufficient and not await self._started(request):
            raise GatewayError(
                Status.FAILED_PRECONDITION,
                Reason.KITE_INSUFFICIENT_MARGIN,
                f"basket {request.basket_id} needs a margin of {margin.required} and account {request.account_id} "
                f"has {margin.available} available: nothing was placed",
                {"account_id": request.account_id, "basket_id": request.basket_id, "required": str(margin.required),
                 "available": str(margin.available)},
            )  # fmt: skip
        results: dict[int, BasketLegResult] = {}
        failed = False
        for sequence, i in enumerate(sending_order(request.legs)):
            leg = request.legs[i]
            if failed and request.policy is Policy.UNWIND:
                results[i] = BasketLegResult(leg.client_order_id, LegStatus.NOT_SENT, sequence)
                continue
            results[i] = await self._place(kite, request, leg, sequence, principal)
            failed = failed or results[i].status is LegStatus.FAILED
        unwound = failed and request.policy is Policy.UNWIND
        if unwound:
            for i, result in results.items():
                if result.status is LegStatus.PLACED:
                    results[i] = await self._unwind(kite, request, request.legs[i], result, principal, algo_id)
        return BasketResult(request.basket_id, margin, tuple(results[i] for i in range(len(request.legs))),
                            unwound=unwound)  # fmt: skip

    async def _started(self, request: BasketRequest) -> bool:
        """Whether an earlier run of the basket already sent a leg (its margin check then passed, and
        the margin now read counts the legs placed: the basket carries on)."""
        store = self.actions.placement.store
        return any([await store.get(request.account_id, leg.client_order_id) for leg in request.legs])

    async def _place(
        self, kite: KiteOrders, request: BasketRequest, leg: NewOrder, sequence: int, principal: str
    ) -> BasketLegResult:
        started = time.perf_counter()
        body = {"basket_id": request.basket_id, "leg": leg.client_order_id, "sequence": sequence}
        try:
            placed = await self.actions.place(kite, leg, None)  # no deadline: the basket outlives its caller
        except GatewayError as exc:
            await self.audit.append(principal, kite.account_id, AUDIT_ACTION_PLACE_ORDER, body, exc,
                                    client_order_id=leg.client_order_id, started=started)  # fmt: skip
            if exc.reason is Reason.ORDER_OUTCOME_UNKNOWN:
                prefix = f"basket {request.basket_id} stopped at leg {leg.client_order_id} (retry the basket): "
                raise replace(exc, message=prefix + exc.message) from exc
            return BasketLegResult(leg.client_order_id, LegStatus.FAILED, sequence, failure=exc)
        if not placed.replayed:
            await self.audit.append(principal, kite.account_id, AUDIT_ACTION_PLACE_ORDER, body,
                                    outcome=f"order {placed.order_id}", client_order_id=leg.client_order_id,
                                    order_id=placed.order_id, started=started)  # fmt: skip
        rejected = await self._rejected(kite, placed.order_id)
        if rejected is not None:
            return BasketLegResult(leg.client_order_id, LegStatus.FAILED, sequence, placed.order_id, rejected)
        return BasketLegResult(leg.client_order_id, LegStatus.PLACED, sequence, placed.order_id)

    async def _rejected(self, kite: KiteOrders, order_id: str) -> GatewayError | None:
        """Kite's RMS refusal of a placed leg (it accepts the order, then rejects it: no margin, no
        holdings, a price outside the circuit), read once the order has left Kite's checks."""
        for attempt in range(CANCEL_CONFIRM_READS):
            last = (await kite.order_history(order_id))[-1]
            if last.get("status") == "REJECTED":
                return GatewayError(
                    Status.FAILED_PRECONDITION, Reason.KITE_ORDER_REJECTED,
                    f"Kite rejected order {order_id}: {last.get('status_message') or 'no reason given'}",
                    {"account_id": kite.account_id, "order_id": order_id},
                )  # fmt: skip
            if last.get("status") not in CHECKING or attempt == CANCEL_CONFIRM_READS - 1:
                return None
            await asyncio.sleep(CANCEL_CONFIRM_PAUSE)
        return None

    async def _unwind(
        self, kite: KiteOrders, request: BasketRequest, leg: NewOrder, result: BasketLegResult, principal: str,
        algo_id: str,
    ) -> BasketLegResult:  # fmt: skip
        body: dict[str, Any] = {"basket_id": request.basket_id, "unwind": leg.client_order_id,
                                "order_id": result.order_id}  # fmt: skip
        try:
            last = await self._cancelled(kite, result.order_id, body, principal)
            filled = int(last.get("filled_quantity") or 0)
            if not filled:
                return replace(result, status=LegStatus.UNWOUND)
            listing = leg.params.listing
            exit_leg = ExitLeg(
                kite.account_id, listing.exchange, listing.tradingsymbol, leg.params.product,
                closing_side(filled if leg.params.transaction_type == "BUY" else -filled), filled,
                exit_client_order_id(f"{request.basket_id}|{leg.client_order_id}", kite.account_id,
                                     listing.exchange, listing.tradingsymbol, leg.params.product),
            )  # fmt: skip
            started = time.perf_counter()
            try:
                placed = await self.exits.place(kite, exit_leg, algo_id)
            except GatewayError as exc:
                await self.audit.append(principal, kite.account_id, AUDIT_ACTION_PLACE_ORDER, body, exc,
                                        client_order_id=exit_leg.client_order_id, started=started)  # fmt: skip
                raise
            await self.audit.append(principal, kite.account_id, AUDIT_ACTION_PLACE_ORDER, body,
                                    outcome=f"exit order {placed.order_id}", client_order_id=exit_leg.client_order_id,
                                    order_id=placed.order_id, started=started)  # fmt: skip
            return replace(result, status=LegStatus.UNWOUND, filled_quantity=filled, unwind_order_id=placed.order_id)
        except GatewayError as exc:
            log.error("orders.basket_unwind_failed", account_id=kite.account_id, basket_id=request.basket_id,
                      leg=leg.client_order_id, error=exc.message)  # fmt: skip
            return replace(result, status=LegStatus.UNWIND_FAILED, failure=exc)

    async def _cancelled(self, kite: KiteOrders, order_id: str, body: dict[str, Any], principal: str) -> OrderRow:
        """The leg's order once final: cancelled first when it is still open."""
        last = (await kite.order_history(order_id))[-1]
        if is_final(last.get("status")):
            return last
        started = time.perf_counter()
        try:
            await kite.cancel_order(str(last["variety"]), order_id)
        except GatewayError as exc:
            await self.audit.append(principal, kite.account_id, AUDIT_ACTION_CANCEL_ORDER, body, exc,
                                    order_id=order_id, started=started)  # fmt: skip
            raise
        await self.audit.append(principal, kite.account_id, AUDIT_ACTION_CANCEL_ORDER, body, outcome="cancelled",
                                order_id=order_id, started=started)  # fmt: skip
        for _ in range(CANCEL_CONFIRM_READS):
            last = (await kite.order_history(order_id))[-1]
            if is_final(last.get("status")):
                return last
            await asyncio.sleep(CANCEL_CONFIRM_PAUSE)
        raise GatewayError(
            Status.UNAVAILABLE, Reason.ORDER_OUTCOME_UNKNOWN,
            f"order {order_id} was asked to cancel but Kite still shows it {last.get('status')}: what it filled "
            "was not closed; check the account", {"account_id": kite.account_id, "order_id": order_id},
        )  # fmt: skip
