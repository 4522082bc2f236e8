"""Fan-out of keyed updates from one producer to many subscribers (plain asyncio; knows nothing of
gRPC or Kite).

Keys are reference-counted: the producer is told when a key gains its first holder, loses its last,
or needs a richer level (`modes` are ranked; a key is produced at the richest level any holder
wants). Each subscriber has a mailbox holding at most one pending payload per key: the producer
never waits, and a subscriber that reads slowly gets the newest payload of each key and a count of
those it missed (conflation). Notes (control messages) are queued whole, never dropped.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(eq=False)
class Mailbox(Generic[K]):
    """One subscriber's pending payloads (one per key), notes, and counters."""

    mailbox_id: str
    principal: str
    level: int = 0  # the subscriber's own level, for keys it adds without naming one
    wants: dict[K, int] = field(default_factory=dict)  # key -> level
    pending: dict[K, bytes] = field(default_factory=dict)
    notes: deque[bytes] = field(default_factory=deque)
    conflated: int = 0  # since the last take
    conflated_total: int = 0
    delivered: int = 0
    created: float = field(default_factory=time.time)
    closed: bool = False
    _event: asyncio.Event = field(default_factory=asyncio.Event)

    def put(self, key: K, payload: bytes) -> None:
        if key in self.pending:
            self.conflated += 1
            self.conflated_total += 1
        self.pending[key] = payload
        self._event.set()

    def note(self, payload: bytes) -> None:
        self.notes.append(payload)
        self._event.set()

    def close(self) -> None:
        self.closed = True
        self._event.set()

    async def take(self, quiet_after: float) -> tuple[list[bytes], list[bytes], int] | None:
        """(notes, payloads, conflated since the last take), or None after `quiet_after` seconds of nothing."""
        if not self.pending and not self.notes and not self.closed:
            try:
                async with asyncio.timeout(quiet_after):
                    await self._event.wait()
            except TimeoutError:
                return None
        self._event.clear()
        notes = list(self.notes)
        self.notes.clear()
        payloads = list(self.pending.values())
        self.pending = {}
        conflated, self.conflated = self.conflated, 0
        self.delivered += len(payloads)
        return notes, payloads, conflated


class Fanout(Generic[K]):
    """Mailboxes and the keys they hold."""

    def __init__(self) -> None:
        self.mailboxes: dict[str, Mailbox[K]] = {}
        self.holders: dict[K, dict[str, int]] = {}
        self._ids = itertools.count(1)
        self.closed_delivered = 0  # counters of mailboxes already closed (metrics stay monotonic)
        self.closed_conflated = 0

    @property
    def delivered_total(self) -> int:
        return self.closed_delivered + sum(m.delivered for m in self.mailboxes.values())

    @property
    def conflated_total(self) -> int:
        return self.closed_conflated + sum(m.conflated_total for m in self.mailboxes.values())

    def open(self, principal: str, prefix: str = "sub", level: int = 0) -> Mailbox[K]:
        mailbox: Mailbox[K] = Mailbox(f"{prefix}-{next(self._ids)}", principal, level)
        self.mailboxes[mailbox.mailbox_id] = mailbox
        return mailbox

    def level(self, key: K) -> int:
        """The richest level any holder wants (-1 when none holds it)."""
        holders = self.holders.get(key)
        return max(holders.values()) if holders else -1

    def hold(self, mailbox: Mailbox[K], key: K, level: int) -> tuple[int, int]:
        """Mailbox wants key at level; returns (level produced before, level to produce now)."""
        before = self.level(key)
        self.holders.setdefault(key, {})[mailbox.mailbox_id] = level
        mailbox.wants[key] = level
        return before, self.level(key)

    def release(self, mailbox: Mailbox[K], key: K) -> tuple[int, int]:
        """Mailbox no longer wants key; returns (level before, level now; -1 when nobody holds it)."""
        before = self.level(key)
        holders = self.holders.get(key, {})
        holders.pop(mailbox.mailbox_id, None)
        mailbox.wants.pop(key, None)
        if not holders:
            self.holders.pop(key, None)
        return before, self.level(key)

    def close(self, mailbox: Mailbox[K]) -> list[tuple[K, int, int]]:
        """Drop a mailbox; returns (key, level before, level now) for every key it held."""
        changes = [(key, *self.release(mailbox, key)) for key in list(mailbox.wants)]
        if self.mailboxes.pop(mailbox.mailbox_id, None) is not None:
            self.closed_delivered += mailbox.delivered
            self.closed_conflated += mailbox.conflated_total
        mailbox.close()
        return changes

    def publish(self, key: K, payload_at: Callable[[int], bytes]) -> None:
        """Hand every holder of key its payload; `payload_at(level)` is called once per level."""
        holders = self.holders.get(key)
        if not holders:
            return
        made: dict[int, bytes] = {}
        for mailbox_id, level in holders.items():
            payload = made.get(level)
            if payload is None:
                payload = made[level] = payload_at(level)
            self.mailboxes[mailbox_id].put(key, payload)

    def note_all(self, payload: bytes) -> None:
        for mailbox in self.mailboxes.values():
            mailbox.note(payload)
