"""The accounts as the order use cases need them: an account's order endpoints, for reading, or
for trading (its instruments loaded and its order updates recorded from then on), and the way to
an existing order from Kite's order id or the client_order_id it was placed with. A client_order_id
that was autosliced names every child: reads (history, trades) take them all; a modification or a
cancellation must name one child by its order_id."""

from __future__ import annotations

from typing import Protocol

from kite_gateway.core.accounts import AccountManager, AccountSession
from kite_gateway.core.market import InstrumentMaster
from kite_gateway.core.orders import autoslice
from kite_gateway.core.orders.placement import find_order_by_tag
from kite_gateway.core.orders.requests import OrderTarget
from kite_gateway.errors import invalid
from kite_gateway.kite import KiteOrders, order_not_found
from kite_gateway.storage import PENDING, IdempotencyStore


class UpdateRecorder(Protocol):
    """What records an account's order updates (kite_gateway/streaming/order_streams.py)."""

    def watching(self, session: AccountSession) -> bool: ...

    async def watch(self, session: AccountSession, symbols: dict[int, str]) -> None: ...


class OrderAccounts:
    def __init__(
        self, accounts: AccountManager, master: InstrumentMaster, updates: UpdateRecorder, ids: IdempotencyStore
    ) -> None:
        self.accounts = accounts
        self.master = master
        self.updates = updates
        self.ids = ids

    def check_known(self, account_id: str) -> None:
        """NOT_FOUND for an account the gateway does not have."""
        self.accounts.get(account_id)

    def account_ids(self) -> list[str]:
        return [session.account_id for session in self.accounts.all()]

    def reading(self, account_id: str) -> KiteOrders:
        """The order endpoints of an active account."""
        return KiteOrders(self.accounts.get(account_id).active())

    async def trading(self, account_id: str) -> KiteOrders:
        """The order endpoints of an active account whose instruments are loaded; its order
        updates are being recorded from here on."""
        session = self.accounts.get(account_id)
        kite = KiteOrders(session.active())
        await self.master.ensure(session)
        if not self.updates.watching(session):
            await self.updates.watch(session, self.master.symbols())
        return kite

    async def order_id(self, kite: KiteOrders, target: OrderTarget, field: str = "order") -> str:
        """Kite's id of the order a request names; NOT_FOUND for a client_order_id never placed,
        INVALID_ARGUMENT for one autosliced into several orders (name one by its order_id)."""
        ids = await self.order_ids(kite, target, field)
        if len(ids) > 1:
            raise invalid(
                f"{field}.client_order_id",
                f"{target.client_order_id!r} was autosliced into {len(ids)} orders ({', '.join(ids)}): "
                "name the one to change by its order_id",
            )
        return ids[0]

    async def order_ids(self, kite: KiteOrders, target: OrderTarget, field: str = "order") -> list[str]:
        """Kite's ids of the orders a request names: one, or every placed child of an autoslice."""
        if target.order_id:
            return [target.order_id]
        if not target.client_order_id:
            raise invalid(field, "required: order_id or client_order_id")
        record = await self.ids.get(kite.account_id, target.client_order_id)
        if record is None:
            raise order_not_found(kite.account_id, f"client_order_id {target.client_order_id!r}")
        if record.order_id and record.slices:
            return autoslice.placed_ids(autoslice.decode(record.slices))
        if record.order_id:
            return [record.order_id]
        if record.state == PENDING:
            found = await find_order_by_tag(kite, record)
            if found:
                return [str(found[0]["order_id"])]
        raise order_not_found(kite.account_id, f"client_order_id {target.client_order_id!r} (never placed at Kite)")
