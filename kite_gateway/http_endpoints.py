"""The gateway's HTTP side (aiohttp): the landing page of Kite's login redirect, which completes the
login, so that ops finish a login in the browser. (Postbacks and metrics live here too, later.)"""

from __future__ import annotations

import html

from aiohttp import web

from kite_gateway.accounts.manager import LOGIN_API_KEY_PARAM, AccountManager
from kite_gateway.errors import GatewayError

CALLBACK_PATH = "/kite/login/callback"
ACCOUNTS = web.AppKey("accounts", AccountManager)


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
    def __init__(self, accounts: AccountManager, host: str, port: int) -> None:
        self.app = web.Application()
        self.app[ACCOUNTS] = accounts
        self.app.router.add_get(CALLBACK_PATH, login_callback)
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None

    @property
    def callback_url(self) -> str:
        return f"http://{self.host}:{self.port}{CALLBACK_PATH}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_port=False)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
