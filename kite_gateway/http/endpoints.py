"""The gateway's HTTP side (aiohttp): the landing page of Kite's login redirect, which completes the
login so that ops finish a login in the browser, the receiver of Kite's order postbacks, /metrics,
and (with a JsonApi) the API as HTTP/JSON with its OpenAPI document at /openapi.json. Every request
body is bounded (MAX_BODY_BYTES; larger answers 413)."""

from __future__ import annotations

import html

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from kite_gateway.core.accounts import LOGIN_API_KEY_PARAM, AccountManager
from kite_gateway.errors import GatewayError
from kite_gateway.http.json_api import MAX_BODY_BYTES, JsonApi
from kite_gateway.http.openapi_serving import OPENAPI_PATH, openapi_handler
from kite_gateway.http.report_downloads import ReportDownloads
from kite_gateway.http.signal_webhook import SignalWebhook
from kite_gateway.observability import REGISTRY
from kite_gateway.streaming import PostbackIntake
from kite_wire import checksums_match, postback_checksum

CALLBACK_PATH = "/kite/login/callback"
POSTBACK_PATH = "/kite/postback"
METRICS_PATH = "/metrics"
# The longest request line: a GET of the most instruments a request takes (5000 symbols as query
# parameters is about 200 KiB; aiohttp's default of 8190 bytes refused more than about 400, as text).
MAX_REQUEST_LINE = 256 * 1024
ACCOUNTS = web.AppKey("accounts", AccountManager)
POSTBACKS = web.AppKey("postbacks", PostbackIntake)


async def postback(request: web.Request) -> web.Response:
    """An order postback: accepted only with Kite's checksum under the account's app secret, and
    then only as a reason to read the order from Kite (kite_gateway.streaming.postbacks)."""
    accounts = request.app[ACCOUNTS]
    try:
        body = await request.json()
        account_id, order_id, stamp, checksum = (
            str(body[k]) for k in ("user_id", "order_id", "order_timestamp", "checksum")
        )
        claimed = str(body.get("status") or "")
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):  # RecursionError: deep nesting
        return web.Response(status=400, text="not a Kite postback")
    secret = await accounts.app_secret_of(account_id)
    if secret is None or not checksums_match(postback_checksum(order_id, stamp, secret), checksum):
        return web.Response(status=403, text="checksum mismatch")
    if not await request.app[POSTBACKS].receive(account_id, order_id, claimed):
        return web.Response(status=503, text="the order could not be confirmed from Kite's order book")
    return web.Response(text="ok")


async def login_callback(request: web.Request) -> web.Response:
    """Kite redirects here with `request_token` (and the redirect_params GetLoginUrl added)."""
    accounts = request.app[ACCOUNTS]
    query = request.query
    if query.get("status", "success") != "success" or "request_token" not in query:
        return web.Response(status=400, text="Kite did not complete the login (no request_token).")
    api_key = query.get(LOGIN_API_KEY_PARAM) or ""
    if not api_key:
        keys = {session.api_key for session in accounts.all()}
        api_key = keys.pop() if len(keys) == 1 else ""
    try:
        session = await accounts.complete_login(api_key, query["request_token"])
    except GatewayError as exc:
        return web.Response(status=400, text=f"Login failed: {exc.message}")
    return web.Response(
        text=f"<!doctype html><title>Logged in</title><p>Account {html.escape(session.account_id)} "
        f"({html.escape(session.user_name)}) is logged in to the gateway. You can close this page.</p>",
        content_type="text/html",
    )


class HttpEndpoints:
    def __init__(
        self,
        accounts: AccountManager,
        postbacks: PostbackIntake,
        host: str,
        port: int,
        state: Collector | None = None,
        api: JsonApi | None = None,
        openapi: bytes | None = None,
        webhook: SignalWebhook | None = None,
    ) -> None:
        """`state`: serve Prometheus metrics at /metrics, with this collector of runtime state.
        `api`: serve the API as HTTP/JSON; `openapi`: the OpenAPI document to serve; `webhook`: take
        strategy signals by webhook at /signals/webhook."""
        self.app = web.Application(client_max_size=MAX_BODY_BYTES)
        self.app[ACCOUNTS] = accounts
        self.postbacks = self.app[POSTBACKS] = postbacks
        self.app.router.add_get(CALLBACK_PATH, login_callback)
        self.app.router.add_post(POSTBACK_PATH, postback)
        if state is not None:
            self.state = CollectorRegistry(auto_describe=True)
            self.state.register(state)
            self.app.router.add_get(METRICS_PATH, self.metrics)
        if openapi is not None:
            self.app.router.add_get(OPENAPI_PATH, openapi_handler(openapi))
        self.api = api
        if api is not None:
            ReportDownloads(api).mount(self.app)  # first: the API's routes would take them as RPC paths
            api.mount(self.app)
        if webhook is not None:
            webhook.mount(self.app)
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None

    @property
    def callback_url(self) -> str:
        return f"http://{self.host}:{self.port}{CALLBACK_PATH}"

    @property
    def postback_url(self) -> str:
        return f"http://{self.host}:{self.port}{POSTBACK_PATH}"

    async def metrics(self, _request: web.Request) -> web.Response:
        body = generate_latest(REGISTRY) + generate_latest(self.state)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        self._runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=2.0, max_line_size=MAX_REQUEST_LINE
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_port=False)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self.api is not None:
            await self.api.close()
        await self.postbacks.stop()
