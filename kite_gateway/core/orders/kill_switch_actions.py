"""What engaging a kill switch does at Kite (cancel the open orders), and the switch as a message."""

from __future__ import annotations

from kite_gateway_api.v1 import order_pb2

from kite_gateway.core.risk.kill_switch import SwitchState
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.errors import from_kite, is_kite_failure
from kite_gateway.kite.limits import EndpointClass

FINAL = {"COMPLETE", "CANCELLED", "REJECTED"}


async def cancel_open_orders(kite: KiteCaller) -> list[order_pb2.KillSwitchCancellation]:
    """Ask Kite to cancel every order of the account not yet final; report each outcome."""
    results = []
    for order in await kite.read(EndpointClass.OTHER, "orders"):
        if order.get("status") in FINAL or order.get("parent_order_id"):
            continue
        result = order_pb2.KillSwitchCancellation(account_id=kite.account_id, order_id=str(order["order_id"]))
        try:
            await kite.write(EndpointClass.ORDERS, "cancel_order", order["variety"], order["order_id"])
            result.cancelled = True
        except Exception as exc:
            if not is_kite_failure(exc):
                raise
            result.error = from_kite(exc, kite.account_id).message
        results.append(result)
    return results


def kill_switch_pb(state: SwitchState) -> order_pb2.KillSwitch:
    message = order_pb2.KillSwitch(
        account_id=state.account_id, engaged=state.engaged, reason=state.reason, principal=state.principal
    )
    if state.updated_at is not None:
        message.update_time.FromDatetime(state.updated_at)
    return message
