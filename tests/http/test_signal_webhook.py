"""POST /signals/webhook: an authentic, fresh delivery is submitted once under `webhook:<strategy>`
and answered with the signal's state and orders; a replay is 409 and never reaches the use case; a
delivery the use case failed may be retried; every refusal is its HTTP status with the reason as
JSON, never a traceback; and no secret reaches the logs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kite_gateway.core.accounts import AccountManager
from kite_gateway.core.signals import Signal, SignalRecord, SignalState, WebhookSecrets, sign
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.http import WEBHOOK_PATH, HttpEndpoints, SignalWebhook
from kite_gateway.storage import Database, DatabaseUnavailable, SignalOrder, WebhookNonces, open_database
from kite_gateway.streaming import PostbackIntake

T0 = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)
SECRET = "momentum-secret-0123456789"
SECRETS = WebhookSecrets({"momentum": SECRET.encode()})
BODY = {"strategy_id": "momentum", "signal_id": "ord-1", "symbol": "NSE:INFY", "side": "buy", "quantity": 10}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class FakeSignals:
    """Signals.submit: records each call; answers ROUTED with one order, or raises what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[Signal, str]] = []
        self.raises: list[BaseException] = []

    async def submit(self, signal: Signal, principal: str) -> SignalRecord:
        self.calls.append((signal, principal))
        if self.raises:
            raise self.raises.pop(0)
        order = SignalOrder(signal.strategy_id, signal.signal_id, "ZS0001", "sig-abc", "2512030001", "placed", "")
        return SignalRecord(signal, SignalState.ROUTED, "1 placed, 0 failed", principal, T0, T0, None, (order,))


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    opened = open_database(None, tmp_path)
    await opened.open()
    yield opened
    await opened.close()


class Rig:
    def __init__(self, client: TestClient[Any, Any], signals: FakeSignals, nonces: WebhookNonces, clock: Clock):
        self.client, self.signals, self.nonces, self.clock = client, signals, nonces, clock

    async def signed(self, body: dict[str, Any] | bytes, secret: str = SECRET, stamp: str | None = None,
                     raw: bytes | None = None) -> Any:  # fmt: skip
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        stamp = stamp or str(int(self.clock().timestamp()))
        headers = {"X-Kite-Gateway-Timestamp": stamp, "X-Kite-Gateway-Signature": sign(secret.encode(), stamp, data)}
        return await self.client.post(WEBHOOK_PATH, data=data if raw is None else raw, headers=headers)

    async def in_body(self, body: dict[str, Any], secret: str = SECRET) -> Any:
        data = {**body, "secret": secret, "timestamp": self.clock().isoformat()}
        return await self.client.post(WEBHOOK_PATH, data=json.dumps(data), headers={"Content-Type": "text/plain"})


@pytest.fixture
async def rig(database: Database) -> AsyncIterator[Rig]:
    signals, nonces, clock = FakeSignals(), WebhookNonces(database), Clock()
    app = web.Application()
    SignalWebhook(signals.submit, SECRETS.secret_of, nonces, clock, window=300).mount(app)
    async with TestClient(TestServer(app)) as client:
        yield Rig(client, signals, nonces, clock)


async def _status(response: Any) -> dict[str, Any]:
    assert response.content_type == "application/json"
    data: dict[str, Any] = await response.json()
    return data


async def test_a_signed_delivery_is_submitted_under_the_webhook_principal_and_answered_with_its_state(rig: Rig) -> None:
    response = await rig.signed(BODY)
    assert response.status == 200
    assert await response.json() == {
        "strategy_id": "momentum", "signal_id": "ord-1", "state": "ROUTED", "reason": "1 placed, 0 failed",
        "orders": [{"account_id": "ZS0001", "client_order_id": "sig-abc", "order_id": "2512030001",
                    "status": "placed", "detail": ""}],
    }  # fmt: skip
    [(signal, principal)] = rig.signals.calls
    assert principal == "webhook:momentum" and (signal.exchange, signal.tradingsymbol, signal.quantity) == (
        "NSE", "INFY", 10)  # fmt: skip


async def test_a_replayed_delivery_is_409_and_the_use_case_is_called_exactly_once(rig: Rig) -> None:
    data = json.dumps(BODY).encode()
    stamp = str(int(T0.timestamp()))
    first = await rig.signed(data, stamp=stamp)
    rig.clock.now = T0 + timedelta(seconds=5)
    again = await rig.signed(data, stamp=stamp)  # the very same bytes and signature, resent
    assert first.status == 200 and again.status == 409
    status = await _status(again)
    assert status["code"] == Status.ALREADY_EXISTS and "replay" in status["message"]
    assert len(rig.signals.calls) == 1


async def test_a_second_body_with_the_same_signal_id_is_a_replay_too(rig: Rig) -> None:
    assert (await rig.in_body(BODY)).status == 200
    assert (await rig.signed({**BODY, "quantity": 20})).status == 409
    assert len(rig.signals.calls) == 1


async def test_a_tradingview_alert_with_the_secret_in_its_body_is_submitted(rig: Rig) -> None:
    text = (
        json.dumps({**BODY, "secret": SECRET, "timestamp": T0.isoformat()})[:-1] + ', "urgency": {"at_price": 1500.50}}'
    )
    response = await rig.client.post(WEBHOOK_PATH, data=text, headers={"Content-Type": "text/plain"})
    assert response.status == 200
    [(signal, principal)] = rig.signals.calls
    assert principal == "webhook:momentum" and str(signal.urgency.price) == "1500.50"


async def test_an_unsigned_delivery_is_401_with_the_webhooks_challenge(rig: Rig) -> None:
    response = await rig.client.post(WEBHOOK_PATH, json={**BODY, "timestamp": int(T0.timestamp())})
    assert response.status == 401 and response.headers["WWW-Authenticate"].startswith("HMAC-SHA256")
    assert (await _status(response))["message"].startswith("unsigned")
    assert rig.signals.calls == []


async def test_a_wrong_secret_and_a_wrong_signature_get_the_same_401(rig: Rig) -> None:
    wrong_signature = await rig.signed(BODY, secret="reversal-secret-0123456789")
    wrong_secret = await rig.in_body(BODY, secret="reversal-secret-0123456789")
    tampered = await rig.signed(BODY, raw=json.dumps({**BODY, "quantity": 99}).encode())
    assert wrong_signature.status == wrong_secret.status == tampered.status == 401
    messages = {(await _status(r))["message"] for r in (wrong_signature, wrong_secret, tampered)}
    assert len(messages) == 1 and rig.signals.calls == []


async def test_a_stale_delivery_is_401_naming_the_timestamp(rig: Rig) -> None:
    response = await rig.signed(BODY, stamp=str(int(T0.timestamp()) - 301))
    assert response.status == 401 and "timestamp" in (await _status(response))["message"]
    assert rig.signals.calls == []


async def test_a_strategy_that_takes_no_webhooks_is_404(rig: Rig) -> None:
    response = await rig.signed({**BODY, "strategy_id": "breakout"})
    assert response.status == 404 and "breakout" in (await _status(response))["message"]


async def test_an_invalid_field_is_400_naming_it_and_spends_no_nonce(rig: Rig) -> None:
    response = await rig.signed({**BODY, "side": "long"})
    assert response.status == 400
    status = await _status(response)
    assert status["message"].startswith("side:") and status["code"] == Status.INVALID_ARGUMENT
    assert rig.signals.calls == [] and await rig.nonces.claim("momentum", "ord-1", T0)


async def test_a_body_that_is_not_json_is_400(rig: Rig) -> None:
    response = await rig.client.post(WEBHOOK_PATH, data=b"{not json")
    assert response.status == 400 and (await _status(response))["message"].startswith("body:")


async def test_a_body_over_the_bound_is_413_whether_its_length_is_declared_or_not(rig: Rig) -> None:
    big = json.dumps({**BODY, "signal_id": "x" * 20_000}).encode()
    declared = await rig.client.post(WEBHOOK_PATH, data=big)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    chunked = await rig.client.post(WEBHOOK_PATH, data=chunks())
    assert declared.status == chunked.status == 413
    assert "at most 16384 bytes" in (await _status(chunked))["message"]


async def test_a_delivery_the_gateway_could_not_take_is_503_and_its_retry_is_taken(rig: Rig) -> None:
    rig.signals.raises.append(GatewayError(Status.UNAVAILABLE, Reason.UNSPECIFIED, "the database is unavailable",
                                           retry_after=1.0))  # fmt: skip
    data = json.dumps(BODY).encode()
    stamp = str(int(T0.timestamp()))
    failed = await rig.signed(data, stamp=stamp)
    assert failed.status == 503 and failed.headers["Retry-After"] == "1"
    retried = await rig.signed(data, stamp=stamp)
    assert retried.status == 200 and len(rig.signals.calls) == 2


@pytest.mark.parametrize(
    ("error", "http_status"),
    [(GatewayError(Status.ALREADY_EXISTS, Reason.IDEMPOTENCY_KEY_REUSED, "signal_id reused"), 409),
     (GatewayError(Status.NOT_FOUND, Reason.INSTRUMENT_NOT_FOUND, "no such instrument"), 404),
     (GatewayError(Status.FAILED_PRECONDITION, Reason.ACCOUNT_NOT_FOUND, "unknown group"), 400),
     (GatewayError(Status.RESOURCE_EXHAUSTED, Reason.GATEWAY_LIMIT_REACHED, "slow down", retry_after=2), 429)],
)  # fmt: skip
async def test_the_use_cases_refusal_is_answered_by_its_status(rig: Rig, error: GatewayError,
                                                               http_status: int) -> None:  # fmt: skip
    rig.signals.raises.append(error)
    response = await rig.signed(BODY)
    assert response.status == http_status and (await _status(response))["message"] == error.message


async def test_an_unexpected_error_is_a_500_with_an_error_id_and_no_traceback(rig: Rig) -> None:
    rig.signals.raises.append(RuntimeError("boom in a place the caller must not see"))
    response = await rig.signed(BODY)
    assert response.status == 500
    text = await response.text()
    assert "error id" in text and "Traceback" not in text and "boom" not in text


async def test_no_secret_reaches_the_logs_whatever_the_answer(rig: Rig) -> None:
    rig.signals.raises.append(RuntimeError("boom"))
    with structlog.testing.capture_logs() as logs:
        await rig.in_body(BODY)  # 500
        await rig.in_body(BODY)  # 200
        await rig.in_body(BODY)  # 409
        await rig.in_body(BODY, secret=SECRET[:-1] + "X")  # 401
        await rig.in_body({**BODY, "secret_field": SECRET})  # 400
    assert [log["event"] for log in logs] == ["webhook.internal_error", "webhook.taken", "webhook.refused",
                                              "webhook.refused", "webhook.refused"]  # fmt: skip
    assert SECRET not in repr(logs) and SECRET[:-1] not in repr(logs)


async def test_nonces_older_than_twice_the_window_are_purged_and_younger_ones_kept(rig: Rig) -> None:
    assert (await rig.signed(BODY)).status == 200  # ord-1 at T0 (and a purge of nothing)
    rig.clock.now = T0 + timedelta(seconds=200)
    assert (await rig.signed({**BODY, "signal_id": "ord-2"})).status == 200  # no purge: within a window of it
    rig.clock.now = T0 + timedelta(seconds=601)  # a purge: 2 windows and a second after ord-1
    assert (await rig.signed({**BODY, "signal_id": "ord-3"})).status == 200
    assert await rig.nonces.claim("momentum", "ord-1", rig.clock.now)  # forgotten
    assert not await rig.nonces.claim("momentum", "ord-2", rig.clock.now)  # kept


async def test_the_http_listener_serves_the_webhook_only_when_given_one(database: Database) -> None:
    signals = FakeSignals()
    intake = SignalWebhook(signals.submit, SECRETS.secret_of, WebhookNonces(database), Clock())
    accounts, postbacks = cast(AccountManager, object()), cast(PostbackIntake, object())
    for webhook, expected in ((intake, 200), (None, 404)):
        endpoints = HttpEndpoints(accounts, postbacks, "127.0.0.1", 0, webhook=webhook)
        async with TestClient(TestServer(endpoints.app)) as client:
            data = json.dumps({**BODY, "secret": SECRET, "timestamp": T0.isoformat()})
            response = await client.post(WEBHOOK_PATH, data=data)
            assert response.status == expected
    assert len(signals.calls) == 1


class UnreleasableNonces(WebhookNonces):
    async def release(self, strategy_id: str, nonce: str) -> None:
        raise DatabaseUnavailable("connection lost")


async def test_a_nonce_that_cannot_be_released_leaves_the_use_cases_answer_as_the_answer(database: Database) -> None:
    signals = FakeSignals()
    signals.raises.append(GatewayError(Status.NOT_FOUND, Reason.INSTRUMENT_NOT_FOUND, "no such instrument"))
    app = web.Application()
    SignalWebhook(signals.submit, SECRETS.secret_of, UnreleasableNonces(database), Clock()).mount(app)
    async with TestClient(TestServer(app)) as client:
        data = json.dumps({**BODY, "secret": SECRET, "timestamp": T0.isoformat()})
        with structlog.testing.capture_logs() as logs:
            response = await client.post(WEBHOOK_PATH, data=data)
        assert response.status == 404 and (await _status(response))["message"] == "no such instrument"
    assert "webhook.nonce_not_released" in [log["event"] for log in logs]
