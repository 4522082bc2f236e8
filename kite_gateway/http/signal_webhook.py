"""POST /signals/webhook: a strategy's signal from an alert (TradingView and the like), checked and
mapped by kite_gateway/core/signals/webhook.py, each (strategy, signal_id) taken once, then handed to
the signals use case under the principal `webhook:<strategy_id>`.

Answers: 200 with the signal's state, reason and orders; 400 a malformed or invalid body (the message
names the field); 401 unsigned, a wrong signature or secret (one message for both), or a timestamp
outside the window; 404 a strategy that takes no webhooks; 409 a replay (a second delivery of the
same signal_id, or the id reused for another signal); 413 a body over MAX_WEBHOOK_BYTES; 503 when the
gateway is unavailable; every other refusal by its status (google.rpc.Status as JSON, as the API's
routes answer), and never a traceback: an unexpected error is a 500 with an id to find it in the logs.

The nonce is claimed before the signal is submitted, and released when the submission fails, so the
sender's retry of a delivery the gateway did not take is taken (the use case's own idempotency keeps
a retry of one that was stored from acting twice). Claims older than twice the window are purged
(a delivery's timestamp may lead the clock by a window and still be taken; after that it is stale).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from aiohttp import web

from kite_gateway.core.signals import (
    DEFAULT_WINDOW,
    MAX_WEBHOOK_BYTES,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Clock,
    SecretOf,
    Signal,
    SignalRecord,
    replayed,
    verify,
)
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.http.statuses import error_response, status_of_gateway_error

log = structlog.get_logger(__name__)

WEBHOOK_PATH = "/signals/webhook"
WEBHOOK_CHALLENGE = f'HMAC-SHA256 realm="kite-gateway-webhook", headers="{TIMESTAMP_HEADER} {SIGNATURE_HEADER}"'
Submit = Callable[[Signal, str], Awaitable[SignalRecord]]  # Signals.submit


class Nonces(Protocol):
    """kite_gateway.storage.WebhookNonces."""

    async def claim(self, strategy_id: str, nonce: str, now: datetime) -> bool: ...

    async def release(self, strategy_id: str, nonce: str) -> None: ...

    async def purge(self, before: datetime) -> int: ...


def record_json(record: SignalRecord) -> dict[str, Any]:
    return {
        "strategy_id": record.signal.strategy_id,
        "signal_id": record.signal.signal_id,
        "state": record.state.value,
        "reason": record.reason,
        "orders": [
            {"account_id": order.account_id, "client_order_id": order.client_order_id, "order_id": order.order_id,
             "status": order.status, "detail": order.detail}
            for order in record.orders
        ],
    }  # fmt: skip


def _refusal(error: GatewayError, http_status: int | None = None) -> web.Response:
    response = error_response(status_of_gateway_error(error), http_status)
    if response.status == 401:
        response.headers["WWW-Authenticate"] = WEBHOOK_CHALLENGE  # not the API's Bearer challenge
    return response


class TooLarge(Exception):
    pass


async def _body(request: web.Request) -> bytes:
    """The body, at most MAX_WEBHOOK_BYTES (a larger Content-Length is refused before a byte is read)."""
    if (request.content_length or 0) > MAX_WEBHOOK_BYTES:
        raise TooLarge
    body = bytearray()
    async for chunk in request.content.iter_chunked(MAX_WEBHOOK_BYTES):
        body += chunk
        if len(body) > MAX_WEBHOOK_BYTES:
            raise TooLarge
    return bytes(body)


class SignalWebhook:
    """The webhook intake: mount it on the HTTP listener's application (HttpEndpoints does)."""

    def __init__(self, submit: Submit, secret_of: SecretOf, nonces: Nonces, clock: Clock,
                 window: float = DEFAULT_WINDOW) -> None:  # fmt: skip
        """`submit`: Signals.submit; `secret_of`: WebhookSecrets.secret_of; `nonces`: a WebhookNonces;
        `window`: seconds a delivery's timestamp may be from `clock()` (Settings.gateway_webhook_window)."""
        self.submit = submit
        self.secret_of = secret_of
        self.nonces = nonces
        self.clock = clock
        self.window = window
        self._purged_at: datetime | None = None

    def mount(self, app: web.Application) -> None:
        app.router.add_post(WEBHOOK_PATH, self.handle)

    async def take(self, raw: bytes, signature: str | None, timestamp: str | None) -> SignalRecord:
        """One delivery: verified, its nonce claimed, submitted; a GatewayError when it is refused."""
        now = self.clock()
        signal = verify(raw, signature, timestamp, self.secret_of, now, self.window)
        await self._purge(now)
        if not await self.nonces.claim(signal.strategy_id, signal.signal_id, now):
            raise replayed(signal.strategy_id, signal.signal_id)
        try:
            return await self.submit(signal, f"webhook:{signal.strategy_id}")
        except BaseException:
            try:
                await self.nonces.release(signal.strategy_id, signal.signal_id)
            except GatewayError as exc:  # the database went away too: the sender's retry is refused as a replay
                log.warning("webhook.nonce_not_released", strategy_id=signal.strategy_id,
                            signal_id=signal.signal_id, error=exc.message)  # fmt: skip
            raise

    async def _purge(self, now: datetime) -> None:
        """At most once a window: forget the claims no fresh delivery can repeat."""
        if self._purged_at is not None and now - self._purged_at < timedelta(seconds=self.window):
            return
        self._purged_at = now
        await self.nonces.purge(now - timedelta(seconds=2 * self.window))

    async def handle(self, request: web.Request) -> web.Response:
        try:
            raw = await _body(request)
            record = await self.take(raw, request.headers.get(SIGNATURE_HEADER), request.headers.get(TIMESTAMP_HEADER))
        except TooLarge:
            too_large = GatewayError(Status.INVALID_ARGUMENT, Reason.UNSPECIFIED,
                                     f"body: a webhook's body is at most {MAX_WEBHOOK_BYTES} bytes")  # fmt: skip
            return _refusal(too_large, 413)
        except GatewayError as exc:
            log.info("webhook.refused", code=exc.code.name, message=exc.message)
            return _refusal(exc)
        except Exception:
            error_id = uuid.uuid4().hex[:12]
            log.exception("webhook.internal_error", error_id=error_id)
            return _refusal(
                GatewayError(
                    Status.INTERNAL,
                    Reason.UNSPECIFIED,
                    f"internal error taking the webhook (error id {error_id} in the logs)",
                )
            )
        log.info("webhook.taken", strategy_id=record.signal.strategy_id, signal_id=record.signal.signal_id,
                 state=record.state.value, replayed=record.replayed)  # fmt: skip
        return web.json_response(record_json(record))
