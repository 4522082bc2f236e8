"""Webhook nonces on both backends: a (strategy, nonce) is claimed once, even by racing deliveries;
another strategy's same nonce is its own; a released claim can be made again; a purge forgets only
the nonces claimed before its time, and counts them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

from kite_gateway.storage import Database, WebhookNonces

T0 = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)


async def test_a_nonce_is_claimed_the_first_time_only_and_per_strategy(database: Database) -> None:
    nonces = WebhookNonces(database)
    assert await nonces.claim("momentum", "order-1", T0)
    assert not await nonces.claim("momentum", "order-1", T0 + timedelta(seconds=1))
    assert await nonces.claim("reversal", "order-1", T0)  # another strategy's nonce is its own
    assert await nonces.claim("momentum", "order-2", T0)


async def test_of_racing_deliveries_of_one_nonce_exactly_one_claims_it(database: Database) -> None:
    nonces = WebhookNonces(database)
    claimed = await asyncio.gather(*(nonces.claim("momentum", "order-1", T0) for _ in range(20)))
    assert claimed.count(True) == 1


async def test_a_released_nonce_can_be_claimed_again(database: Database) -> None:
    nonces = WebhookNonces(database)
    assert await nonces.claim("momentum", "order-1", T0)
    await nonces.release("momentum", "order-1")
    assert await nonces.claim("momentum", "order-1", T0)
    await nonces.release("momentum", "never-claimed")  # nothing to forget: no error


async def test_a_purge_forgets_only_nonces_claimed_before_its_time(database: Database) -> None:
    nonces = WebhookNonces(database)
    ist = timezone(timedelta(hours=5, minutes=30))
    await nonces.claim("momentum", "old", T0)
    await nonces.claim("momentum", "half-second-later", T0 + timedelta(microseconds=500_000))
    await nonces.claim("momentum", "in-ist", (T0 + timedelta(seconds=2)).astimezone(ist))  # kept as UTC
    assert await nonces.purge(T0 + timedelta(microseconds=1)) == 1
    assert await nonces.claim("momentum", "old", T0 + timedelta(seconds=3))  # forgotten: claimable again
    assert not await nonces.claim("momentum", "half-second-later", T0)
    assert await nonces.purge(T0 + timedelta(seconds=2)) == 1
    assert not await nonces.claim("momentum", "in-ist", T0)
    assert await nonces.purge(T0 + timedelta(hours=1)) == 2
    assert await nonces.purge(T0 + timedelta(hours=1)) == 0
