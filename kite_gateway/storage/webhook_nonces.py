"""The nonces of signal webhooks: each (strategy_id, nonce) a delivery claimed, so that a second
delivery of the same body is refused as a replay (kite_gateway/core/signals/webhook.py). A claim is
one INSERT ... ON CONFLICT DO NOTHING: exactly one of two racing deliveries wins, on either backend
and across replicas sharing PostgreSQL. Nonces are kept until purged (the route purges those older
than the replay window allows; a replay older than that is refused by its timestamp). Times are
given by the caller (its clock) and kept as UTC text of a fixed width, so they compare as text."""

from __future__ import annotations

from datetime import UTC, datetime

from kite_gateway.storage.database import Database


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class WebhookNonces:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def claim(self, strategy_id: str, nonce: str, now: datetime) -> bool:
        """True the first time (strategy_id, nonce) is claimed; False when it was claimed before."""
        changed = await self.database.execute(
            "INSERT INTO webhook_nonces (strategy_id, nonce, seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (strategy_id, nonce, _text(now)),
        )
        return bool(changed)

    async def release(self, strategy_id: str, nonce: str) -> None:
        """Forget a claim (its delivery was not taken, so the sender's retry may be)."""
        await self.database.execute(
            "DELETE FROM webhook_nonces WHERE strategy_id = ? AND nonce = ?", (strategy_id, nonce)
        )

    async def purge(self, before: datetime) -> int:
        """Forget the nonces claimed before `before`; how many."""
        return await self.database.execute("DELETE FROM webhook_nonces WHERE seen_at < ?", (_text(before),))
