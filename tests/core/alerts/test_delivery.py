"""Webhook delivery with a fake poster: a 2xx delivers once with a signature the receiver can check;
failures retry after full-jitter exponential backoff (capped); after max_attempts the delivery is a
dead letter, kept and logged with its sink and sequence; a wake delivers without waiting."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import timedelta

import pytest
from structlog.testing import capture_logs

from kite_gateway.core.alerts import (
    SEQUENCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Alert,
    AlertKind,
    Severity,
    WebhookDeliverer,
    WebhookSink,
    backoff,
    verify,
)
from kite_gateway.storage import DEAD, DELIVERED, PENDING_DELIVERY, AlertStore
from tests.core.alerts.fakes import T0, Clock

SECRET = "s3cret-for-ops"
OPS = WebhookSink("ops", "https://hooks.example/ops", "OPS_SECRET", SECRET, max_attempts=3)


class FakePoster:
    """Answers each POST with the next of `answers` (an int status, or an exception to raise)."""

    def __init__(self, *answers: int | Exception) -> None:
        self.answers = list(answers)
        self.posts: list[tuple[str, bytes, dict[str, str]]] = []

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        self.posts.append((url, body, dict(headers)))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def alert(n: int = 1) -> Alert:
    return Alert(f"rule-{n}", AlertKind.PRICE_CROSS, Severity.WARNING, "NSE:INFY", "INFY crossed 1600",
                 "INFY traded at 1600.05", {"last_price": "1600.05", "level": "1600"}, T0)  # fmt: skip


def deliverer(store: AlertStore, poster: FakePoster, clock: Clock, draw: float = 0.5) -> WebhookDeliverer:
    return WebhookDeliverer(store, [OPS], poster, clock=clock, random=lambda: draw, retry_base=2.0, retry_cap=5.0)


async def test_a_2xx_delivers_the_alert_once_signed_so_the_receiver_can_verify_it(
    store: AlertStore, clock: Clock
) -> None:
    await store.append([alert()], deliver_to=[["ops"]], now=T0)
    poster = FakePoster(204)
    assert await deliverer(store, poster, clock).deliver_due() == 1
    [(url, body, headers)] = poster.posts
    assert url == OPS.url and headers[SEQUENCE_HEADER] == "1"
    assert headers[TIMESTAMP_HEADER] == str(int(T0.timestamp()))
    assert headers[SIGNATURE_HEADER].startswith("sha256=")
    assert verify(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert not verify("another secret", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert not verify(SECRET, str(int(T0.timestamp()) + 1), body, headers[SIGNATURE_HEADER])  # replayed later
    assert json.loads(body) == {
        "sequence": 1, "rule_id": "rule-1", "kind": "PRICE_CROSS", "severity": "warning", "scope": "NSE:INFY",
        "title": "INFY crossed 1600", "message": "INFY traded at 1600.05",
        "fields": {"last_price": "1600.05", "level": "1600"}, "at": T0.isoformat(),
    }  # fmt: skip
    delivery = await store.delivery("ops", 1)
    assert delivery is not None and (delivery.state, delivery.attempts) == (DELIVERED, 1)
    assert await deliverer(store, poster, clock).deliver_due() == 0 and len(poster.posts) == 1


async def test_failures_retry_after_full_jitter_exponential_backoff_capped(store: AlertStore, clock: Clock) -> None:
    sink = WebhookSink("ops", OPS.url, "OPS_SECRET", SECRET, max_attempts=8)
    await store.append([alert()], deliver_to=[["ops"]], now=T0)
    poster = FakePoster(503, TimeoutError(), ConnectionResetError("reset by peer"), 500, 200)
    work = WebhookDeliverer(store, [sink], poster, clock=clock, random=lambda: 0.5, retry_base=2.0, retry_cap=10.0)
    waits, errors = [], []
    for _ in range(4):
        assert await work.deliver_due() == 1
        delivery = await store.delivery("ops", 1)
        assert delivery is not None and delivery.state == PENDING_DELIVERY
        waits.append((delivery.next_attempt_at - clock.now).total_seconds())
        errors.append(delivery.last_error)
        clock.now = delivery.next_attempt_at - timedelta(microseconds=1)
        assert await work.deliver_due() == 0  # not due a microsecond early
        clock.now = delivery.next_attempt_at
    assert waits == [1.0, 2.0, 4.0, 5.0]  # 0.5 of 2, 4, 8, then of the cap 10 (not 16)
    assert errors == ["HTTP 503", "TimeoutError", "ConnectionResetError: reset by peer", "HTTP 500"]
    assert await work.deliver_due() == 1
    done = await store.delivery("ops", 1)
    assert done is not None and (done.state, done.attempts, done.last_error) == (DELIVERED, 5, "")
    assert len({headers[SEQUENCE_HEADER] for _, _, headers in poster.posts}) == 1  # the receiver de-duplicates


def test_backoff_draws_uniformly_below_the_doubling_bound_and_never_above_the_cap() -> None:
    assert [backoff(n, 2.0, 60.0, lambda: 1.0) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert backoff(3, 2.0, 60.0, lambda: 0.0) == 0.0
    assert backoff(3, 2.0, 60.0, lambda: 0.25) == 2.0


async def test_after_max_attempts_the_delivery_is_a_dead_letter_logged_with_sink_and_sequence(
    store: AlertStore, clock: Clock
) -> None:
    await store.append([alert(1), alert(2)], deliver_to=[["ops"], []], now=T0)
    poster = FakePoster(500)
    work = deliverer(store, poster, clock, draw=0.0)  # no wait between attempts
    with capture_logs() as logs:
        for _ in range(5):
            await work.deliver_due()
    assert len(poster.posts) == 3  # max_attempts, then no more
    [dead] = await store.dead_letters("ops")
    assert (dead.sequence, dead.state, dead.attempts, dead.last_error) == (1, DEAD, 3, "HTTP 500")
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert [(w["event"], w["sink_id"], w["sequence"]) for w in warnings] == [("alerts.delivery_dead", "ops", 1)]
    assert all(SECRET not in repr(entry) for entry in logs)
    assert SECRET not in repr(OPS)


async def test_a_delivery_to_a_sink_no_longer_configured_is_dead_without_a_post(
    store: AlertStore, clock: Clock
) -> None:
    await store.append([alert()], deliver_to=[["retired"]], now=T0)
    poster = FakePoster(200)
    await deliverer(store, poster, clock).deliver_due()
    assert poster.posts == []
    [dead] = await store.dead_letters("retired")
    assert "no longer configured" in dead.last_error


async def test_a_wake_delivers_new_alerts_without_waiting_for_the_idle_poll(store: AlertStore, clock: Clock) -> None:
    slept = asyncio.Event()
    never = asyncio.Event()

    async def idle_forever(seconds: float) -> None:
        slept.set()
        await never.wait()

    poster = FakePoster(200)
    work = WebhookDeliverer(store, [OPS], poster, clock=clock, sleep=idle_forever, idle_interval=3600)
    task = asyncio.create_task(work.run())
    try:
        await slept.wait()  # nothing due: idle
        slept.clear()
        await store.append([alert()], deliver_to=[["ops"]], now=T0)
        work.wake()
        await slept.wait()  # it looked, delivered, and is idle again
        assert [headers[SEQUENCE_HEADER] for _, _, headers in poster.posts] == ["1"]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_two_deliverers_on_one_database_post_each_delivery_once(store: AlertStore, clock: Clock) -> None:
    await store.append([alert(1), alert(2)], deliver_to=[["ops"], ["ops"]], now=T0)
    first, second = FakePoster(200), FakePoster(200)
    await asyncio.gather(deliverer(store, first, clock).deliver_due(), deliverer(store, second, clock).deliver_due())
    sent = sorted(headers[SEQUENCE_HEADER] for _, _, headers in first.posts + second.posts)
    assert sent == ["1", "2"]  # each replica read both due; each delivery went out once


async def test_a_delivery_whose_deliverer_died_mid_attempt_is_tried_again_after_its_claim(
    store: AlertStore, clock: Clock
) -> None:
    await store.append([alert()], deliver_to=[["ops"]], now=T0)
    [(delivery, _)] = await store.due(T0)
    assert await store.claim(delivery, T0 + timedelta(seconds=120))  # taken, then the replica died
    poster = FakePoster(200)
    assert await deliverer(store, poster, clock).deliver_due() == 0 and poster.posts == []
    clock.now = T0 + timedelta(seconds=121)
    assert await deliverer(store, poster, clock).deliver_due() == 1 and len(poster.posts) == 1
