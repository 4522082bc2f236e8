"""The fence on owner-only writes: the idempotency store asks it for the condition that holds only
while this replica owns an account's lease (kite_gateway/storage/idempotency.py's Fence)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kite_gateway.cluster.lease_keeper import LeaseKeeper
from kite_gateway.storage import FencedOut, LeaseStore


class AccountFence:
    """Accounts are leased by `lease_key(account_id)` (their api_key); an unknown account is not ours."""

    def __init__(self, keeper: LeaseKeeper, store: LeaseStore, lease_key: Callable[[str], str | None]) -> None:
        self.keeper = keeper
        self.store = store
        self.lease_key = lease_key

    def owns(self, account_id: str) -> bool:
        key = self.lease_key(account_id)
        return key is not None and self.keeper.token(key) is not None

    def check(self, account_id: str) -> None:
        """FencedOut unless this replica may act as the account's owner now (before a send)."""
        self.condition(account_id)

    def condition(self, account_id: str) -> tuple[str, tuple[Any, ...]]:
        key = self.lease_key(account_id)
        if key is None:
            raise FencedOut(account_id, "this replica does not know the account yet")
        return self.store.fence(self.keeper.fence(key, account_id))
