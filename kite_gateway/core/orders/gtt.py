"""GTT triggers: placed at most once per client_order_id (through the idempotent placement, which
finds a trigger whose placement's answer was lost among the account's active triggers), modified
with the kill switch checked again at the moment of sending, deleted, listed and read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kite_gateway.core.orders.placement import Finder, IdempotentPlacement
from kite_gateway.kite import GttOrder, GttRow, KiteCaller, KiteGtt
from kite_gateway.storage import Record

KIND = "gtt"  # the idempotency record's kind


def same_trigger(row: GttRow, order: GttOrder) -> bool:
    """Whether an existing trigger is the one `order` would place: active, on the same instrument,
    at the same trigger values (how a trigger whose placement's answer was lost is recognised)."""
    return (
        row.status == "active"
        and row.tradingsymbol == order.tradingsymbol
        and row.trigger_values == order.trigger_values
    )


def gtt_finder(order: GttOrder) -> Finder[KiteCaller]:
    """The placement's reconcile finder for a GTT: the account's triggers that `order` matches,
    as rows with Kite's trigger `id`."""

    async def find(kite: KiteCaller, record: Record) -> list[dict[str, Any]]:
        return [{"id": row.gtt_id} for row in await KiteGtt(kite).get_gtts() if same_trigger(row, order)]

    return find


class GttTriggers:
    def __init__(self, placement: IdempotentPlacement, blocked: Callable[[str], None]) -> None:
        self.placement = placement
        self._blocked = blocked  # raises while a kill switch blocks the account

    def admit(self, account_id: str) -> None:
        """Refuse at once while a kill switch blocks the account (it is checked again at sending)."""
        self._blocked(account_id)

    async def place(
        self, kite: KiteCaller, client_order_id: str, fingerprint: str, order: GttOrder
    ) -> tuple[int, bool]:
        """(Kite's trigger id, replayed): replayed when an earlier call with this client_order_id
        and these fields had placed it."""

        async def submit(kite: KiteCaller, record: Record) -> str:
            return str(await KiteGtt(kite).place_gtt(order))

        async def check() -> None:
            self._blocked(kite.account_id)

        gtt_id, replayed = await self.placement.place(
            kite, client_order_id, KIND, fingerprint, submit, gtt_finder(order), check
        )
        return int(gtt_id), replayed

    async def modify(self, kite: KiteCaller, gtt_id: int, order: GttOrder) -> None:
        """Replace a trigger's condition and orders; refused while a kill switch blocks the account,
        also one engaged while the call waited for the rate limiter."""
        self._blocked(kite.account_id)
        await KiteGtt(kite).modify_gtt(gtt_id, order, before_send=lambda: self._blocked(kite.account_id))

    async def delete(self, kite: KiteCaller, gtt_id: int) -> None:
        """Delete a trigger (never blocked: it takes risk away)."""
        await KiteGtt(kite).delete_gtt(gtt_id)

    async def list(self, kite: KiteCaller) -> list[GttRow]:
        return await KiteGtt(kite).get_gtts()

    async def get(self, kite: KiteCaller, gtt_id: int) -> GttRow:
        return await KiteGtt(kite).get_gtt(gtt_id)
