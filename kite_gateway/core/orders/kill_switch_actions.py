"""Kill switches as actions: engaging or releasing one (and, when asked, cancelling the open orders
of the accounts it covers), and reading an account's switch with the gateway-wide one."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from kite_gateway.core.orders.requests import Cancellation
from kite_gateway.core.orders.status import is_final
from kite_gateway.core.risk import GATEWAY, KillSwitches, SwitchState
from kite_gateway.errors import GatewayError, invalid
from kite_gateway.kite import KiteOrders

log = structlog.get_logger(__name__)


async def cancel_open_orders(kite: KiteOrders) -> list[Cancellation]:
    """Ask Kite to cancel every order of the account not yet final; report each outcome."""
    results = []
    for order in await kite.orders():
        if is_final(order.get("status")) or order.get("parent_order_id"):
            continue
        order_id = str(order["order_id"])
        try:
            await kite.cancel_order(order["variety"], order_id)
            results.append(Cancellation(kite.account_id, order_id, cancelled=True))
        except GatewayError as exc:
            results.append(Cancellation(kite.account_id, order_id, cancelled=False, error=exc.message))
    return results


class KillSwitchActions:
    def __init__(
        self,
        switches: KillSwitches,
        account_ids: Callable[[], list[str]],
        orders_of: Callable[[str], KiteOrders],
    ) -> None:
        self.switches = switches
        self._account_ids = account_ids  # every account the gateway has (the gateway-wide switch covers them)
        self._orders_of = orders_of  # an active account's order endpoints

    @staticmethod
    def check_reason(engaged: bool, reason: str) -> None:
        if engaged and not reason.strip():
            raise invalid("reason", "say why the kill switch is engaged (it is shown to every refused caller)")

    async def set(
        self, account_id: str, engaged: bool, reason: str, principal: str, cancel_open: bool
    ) -> tuple[SwitchState, list[Cancellation]]:
        """Store the switch of `account_id` ("" : the gateway's); engaging it with `cancel_open`
        cancels the open orders of every account it covers."""
        state = await self.switches.set(account_id, engaged, reason, principal)
        log.warning(
            "risk.kill_switch",
            account_id=account_id or "gateway",
            engaged=engaged,
            reason=reason,
            principal=state.principal,
        )
        cancellations: list[Cancellation] = []
        if engaged and cancel_open:
            for covered in [account_id] if account_id else self._account_ids():
                cancellations.extend(await cancel_open_orders(self._orders_of(covered)))
        return state, cancellations

    def states(self, account_id: str) -> tuple[SwitchState, SwitchState]:
        """The account's switch and the gateway-wide one."""
        return self.switches.state(account_id), self.switches.state(GATEWAY)
