"""Kite's ticker connections are counted per api_key (three), not per account: every account
logged in through one Kite Connect app shares them. This is the gateway's count of the ones it
holds, so that one account's second connection is refused here (OVER_LIMIT) instead of by Kite
(HTTP 429 at the upgrade, with its instruments silent while it retries)."""

from __future__ import annotations

from collections import Counter

from kite_wire import CONNECTIONS_PER_API_KEY


class ConnectionBudget:
    """Ticker connections held per api_key, and by which account."""

    def __init__(self, per_api_key: int = CONNECTIONS_PER_API_KEY) -> None:
        self.per_api_key = per_api_key
        self._held: dict[str, Counter[str]] = {}

    def available(self, api_key: str) -> int:
        return self.per_api_key - sum(self._held.get(api_key, Counter()).values())

    def acquire(self, api_key: str, account_id: str) -> bool:
        """Take one connection for `account_id`; False when the app's are all held."""
        if self.available(api_key) <= 0:
            return False
        self._held.setdefault(api_key, Counter())[account_id] += 1
        return True

    def release(self, api_key: str, account_id: str) -> None:
        held = self._held.get(api_key)
        if held is None or held[account_id] <= 0:
            return
        held[account_id] -= 1
        if held[account_id] == 0:
            del held[account_id]

    def holders(self, api_key: str) -> dict[str, int]:
        """Who holds the app's connections: account -> how many."""
        return dict(self._held.get(api_key, Counter()))

    def describe(self, api_key: str) -> str:
        held = ", ".join(f"{account} {count}" for account, count in sorted(self.holders(api_key).items()))
        return f"Kite allows {self.per_api_key} ticker connections per api_key (app), shared by its accounts" + (
            f"; held here by: {held}" if held else ""
        )
