"""What every Kite API request passes before its route: `X-Kite-Version: 3`, the `Authorization:
token api_key:access_token` session (but for Kite's public endpoints), the IP whitelist of the order
endpoints, the per-api_key rate limits, and the injected faults; and, with a state file, answers
only once their changes are saved."""

from __future__ import annotations

import asyncio
import ipaddress
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Mapping

from aiohttp import web
from aiohttp.typedefs import Middleware

from kite_simulator.errors import KiteError, input_error, too_many_requests
from kite_simulator.faults import Fault, FaultInjector
from kite_simulator.http.envelope import SESSION, Handler
from kite_simulator.ratelimit import RateLimiter
from kite_simulator.sessions import SessionStore
from kite_wire import IP_NOT_ALLOWED_ERROR_TYPE, IP_NOT_ALLOWED_HTTP_STATUS, ip_checked, ip_not_allowed

# Endpoints Kite serves without a session: the session exchange and the instrument dumps.
PUBLIC_ROUTES = frozenset({"/session/token", "/session/refresh_token", "/instruments", "/instruments/{exchange}"})


def peer_address(request: web.Request) -> str:
    """The address the request came from (an IPv4-mapped IPv6 peer as its IPv4 address)."""
    remote = request.remote or ""
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


class KiteRequestRules:
    """The middleware; `rate_limiter` None lets every request through. `ip_whitelist` holds, by
    api_key, the addresses its developer account registered: order calls (place, modify, cancel) of
    an api_key listed there from any other peer address are refused with Kite's error; an api_key not
    listed is not checked. `order_peers` records (user_id, peer address) of the latest order calls."""

    def __init__(
        self, faults: FaultInjector, sessions: SessionStore, rate_limiter: RateLimiter | None,
        ip_whitelist: Mapping[str, Collection[str]] | None = None,
    ) -> None:  # fmt: skip
        self.faults = faults
        self.sessions = sessions
        self.rate_limiter = rate_limiter
        self.ip_whitelist = {key: frozenset(ips) for key, ips in (ip_whitelist or {}).items()}
        self.order_peers: deque[tuple[str, str]] = deque(maxlen=1000)

    @web.middleware
    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        unrouted = request.match_info.http_exception is not None
        if unrouted or path == "/" or path.startswith("/_sim") or path.startswith("/connect/"):
            return await handler(request)
        if request.headers.get("X-Kite-Version") != "3":
            raise input_error("Missing or invalid `X-Kite-Version` header: send 3.")
        fault = self.faults.take(request.method, path)
        if fault is not None and fault.action == "hold":
            # Delivered late: from here on the request is processed whether or not its caller waits.
            return await asyncio.shield(self._deliver_late(fault, request, handler))
        return await self._kite_rules(request, handler, fault)

    async def _kite_rules(self, request: web.Request, handler: Handler, fault: Fault | None) -> web.StreamResponse:
        path = request.path
        if fault is not None and fault.action == "delay":
            await asyncio.sleep(fault.seconds)
        elif fault is not None and fault.action == "error":
            raise KiteError(fault.error_type, fault.message, fault.http_status)
        elif fault is not None and fault.action == "html":
            return web.Response(status=fault.http_status, text="<html><body>Bad gateway</body></html>",
                                content_type="text/html")  # fmt: skip
        api_key = ""
        if (
            request.match_info.route.resource is None
            or request.match_info.route.resource.canonical not in PUBLIC_ROUTES
        ):
            scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
            api_key, _, access_token = credentials.partition(":")
            if scheme != "token" or not api_key or not access_token:
                raise KiteError("TokenException", "Missing or invalid `Authorization` header.", 403)
            request[SESSION] = session = self.sessions.authenticate(api_key, access_token)
            if ip_checked(request.method, path):
                self._check_ip(api_key, session.user_id, peer_address(request))
        if self.rate_limiter and api_key and not self.rate_limiter.allow(api_key, request.method, path):
            raise too_many_requests()
        response = await handler(request)
        if fault is not None and fault.action == "timeout_after_accept":
            await asyncio.sleep(fault.seconds)
            if request.transport is not None:
                request.transport.close()
            raise asyncio.CancelledError
        return response

    def _check_ip(self, api_key: str, user_id: str, peer: str) -> None:
        self.order_peers.append((user_id, peer))
        allowed = self.ip_whitelist.get(api_key)
        if allowed is not None and peer not in allowed:
            raise KiteError(IP_NOT_ALLOWED_ERROR_TYPE, ip_not_allowed(peer), IP_NOT_ALLOWED_HTTP_STATUS)

    async def _deliver_late(self, fault: Fault, request: web.Request, handler: Handler) -> web.StreamResponse:
        await request.read()  # what is held is the whole request, readable after its sender has gone
        await fault.hold()
        try:
            return await self._kite_rules(request, handler, None)
        finally:
            fault.delivered += 1


def durable_writes(persist: Callable[[], Awaitable[None]]) -> Middleware:
    """A request that may change state is answered after `persist` saved it (a refusal too: a
    rejected placement still counts against the order caps)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "GET" or request.path.startswith("/_sim"):
            return await handler(request)
        try:
            response = await handler(request)
        except KiteError:
            await persist()
            raise
        await persist()
        return response

    return middleware
