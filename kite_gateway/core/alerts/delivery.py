"""Webhook delivery: each stored alert POSTed to each sink that takes it (sinks.py), at least once.

A delivery is a row of the store (kite_gateway/storage/alerts.py) made with its alert in one
transaction, so it survives a restart. The deliverer's loop takes the due rows, POSTs each alert as
JSON (amounts and every field as strings) with

    X-Kite-Gateway-Alert-Sequence: <the alert's sequence>    (a receiver de-duplicates by it)
    X-Kite-Gateway-Timestamp: <unix seconds of the attempt>
    X-Kite-Gateway-Signature: sha256=<hex HMAC-SHA256 of f"{timestamp}.{body}" under the sink's secret>

A 2xx answer is delivered. Any other answer, a transport error or a timeout is a failed attempt,
retried after an exponential backoff with full jitter (uniform in [0, min(cap, base * 2^(n-1))]
after the n-th failure: many alerts failing together do not retry in step); after the sink's
`max_attempts` the delivery is dead, kept in the table as a dead letter and logged as a warning with
the sink id and the sequence. The clock, the sleep and the random draw are injected, so tests need
no real time; the HTTP client is a port (`Poster`, kite_gateway/http/webhook_poster.py)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random as random_module
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from kite_gateway.core.alerts.sinks import WebhookSink
from kite_gateway.storage import Delivery, StoredAlert

log = structlog.get_logger(__name__)

SEQUENCE_HEADER = "X-Kite-Gateway-Alert-Sequence"
TIMESTAMP_HEADER = "X-Kite-Gateway-Timestamp"
SIGNATURE_HEADER = "X-Kite-Gateway-Signature"
MAX_ERROR = 500  # characters of a failure kept as the delivery's last error

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


class Poster(Protocol):
    """POST `body` to `url` with `headers`; the HTTP status. A transport failure or a timeout raises
    (any exception: it is that attempt's failure)."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int: ...


class DeliveryStore(Protocol):
    """What the deliverer needs of the store (kite_gateway.storage.AlertStore is one)."""

    async def due(self, now: datetime, limit: int = 100) -> list[tuple[Delivery, StoredAlert]]: ...
    async def claim(self, delivery: Delivery, until: datetime) -> bool: ...
    async def mark_delivered(self, sink_id: str, sequence: int, now: datetime) -> None: ...
    async def mark_failed(self, sink_id: str, sequence: int, error: str, next_at: datetime, now: datetime) -> None: ...
    async def mark_dead(self, sink_id: str, sequence: int, error: str, now: datetime) -> None: ...


def alert_body(alert: StoredAlert) -> bytes:
    """The JSON a sink is sent: the alert with its sequence; every field a string (amounts too)."""
    document = {
        "sequence": alert.sequence,
        "rule_id": alert.rule_id,
        "kind": alert.kind,
        "severity": alert.severity,
        "scope": alert.scope,
        "title": alert.title,
        "message": alert.message,
        "fields": {key: str(value) for key, value in alert.fields.items()},
        "at": alert.at.isoformat(),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Kite-Gateway-Signature value: sha256=<hex of HMAC-SHA256 over f"{timestamp}.{body}">."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does: whether the signature header is the body's under the secret."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def backoff(failures: int, base: float, cap: float, draw: Callable[[], float]) -> float:
    """Seconds before the next attempt after `failures` failed ones: full jitter over the exponential."""
    return draw() * min(cap, base * 2.0 ** (failures - 1))


class WebhookDeliverer:
    def __init__(
        self,
        store: DeliveryStore,
        sinks: Sequence[WebhookSink],
        poster: Poster,
        *,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
        random: Callable[[], float] = random_module.random,
        retry_base: float = 2.0,
        retry_cap: float = 300.0,
        idle_interval: float = 1.0,
        batch: int = 100,
        concurrency: int = 4,
        claim_seconds: float = 120.0,
    ) -> None:
        """`claim_seconds`: how long an attempt holds its delivery from other deliverers (replicas on
        one database): longer than the poster's timeout; a deliverer that dies mid-attempt leaves the
        delivery to be tried again after it."""
        if retry_base <= 0 or retry_cap < retry_base:
            raise ValueError("retry_base must be above 0 and retry_cap at least retry_base")
        self.store = store
        self.sinks = {sink.id: sink for sink in sinks}
        self.poster = poster
        self.clock = clock
        self.sleep = sleep
        self.random = random
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.idle_interval = idle_interval
        self.batch = batch
        self._slots = asyncio.Semaphore(concurrency)
        self.claim_seconds = claim_seconds
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """New deliveries were stored (AlertCenter's on_stored): look now rather than at the next poll."""
        self._woken.set()

    async def run(self) -> None:
        """Deliver what is due, then wait for a wake or the idle interval; until cancelled."""
        while True:
            try:
                attempted = await self.deliver_due()
            except Exception:
                log.exception("alerts.delivery_pass_failed")
                attempted = 0
            if attempted < self.batch:
                await self._idle()

    async def _idle(self) -> None:
        woken = asyncio.ensure_future(self._woken.wait())
        slept = asyncio.ensure_future(self.sleep(self.idle_interval))
        try:
            await asyncio.wait({woken, slept}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            slept.cancel()
        self._woken.clear()

    async def deliver_due(self) -> int:
        """One pass: attempt every delivery due now (at most `batch`); how many were attempted."""
        due = await self.store.due(self.clock(), self.batch)
        await asyncio.gather(*(self._attempt(delivery, alert) for delivery, alert in due))
        return len(due)

    async def _attempt(self, delivery: Delivery, alert: StoredAlert) -> None:
        sink = self.sinks.get(delivery.sink_id)
        if sink is None:
            await self._dead(delivery, "the sink is no longer configured", attempts=delivery.attempts)
            return
        if not await self.store.claim(delivery, self.clock() + timedelta(seconds=self.claim_seconds)):
            return  # another deliverer took this attempt
        body = alert_body(alert)
        timestamp = str(int(self.clock().timestamp()))
        headers = {
            "Content-Type": "application/json",
            SEQUENCE_HEADER: str(alert.sequence),
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(sink.secret, timestamp, body),
        }
        async with self._slots:
            try:
                status = await self.poster.post(sink.url, body, headers)
                error = "" if 200 <= status < 300 else f"HTTP {status}"
            except Exception as exc:  # a transport failure or a timeout: this attempt failed
                error = (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)[:MAX_ERROR]
        now = self.clock()
        if not error:
            await self.store.mark_delivered(sink.id, alert.sequence, now)
            return
        failures = delivery.attempts + 1
        if failures >= sink.max_attempts:
            await self._dead(delivery, error, attempts=failures)
            return
        next_at = now + timedelta(seconds=backoff(failures, self.retry_base, self.retry_cap, self.random))
        log.info("alerts.delivery_failed", sink_id=sink.id, sequence=alert.sequence, attempts=failures,
                 error=error, next_attempt_at=next_at.isoformat())  # fmt: skip
        await self.store.mark_failed(sink.id, alert.sequence, error, next_at, now)

    async def _dead(self, delivery: Delivery, error: str, attempts: int) -> None:
        log.warning("alerts.delivery_dead", sink_id=delivery.sink_id, sequence=delivery.sequence,
                    attempts=attempts, error=error)  # fmt: skip
        await self.store.mark_dead(delivery.sink_id, delivery.sequence, error, self.clock())
