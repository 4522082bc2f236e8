"""How a Kite call's request (kite/official_codec.py) travels: over aiohttp on the event loop, or
for a proxy egress over a requests.Session on the worker threads.

`HttpTransport` is the default: no thread hop, no per-call environment lookups (requests reads
proxies and netrc on every call), connections kept alive per host. It serves every read, and the
writes of accounts whose egress is the host's default route or a source address to bind.
`ThreadedTransport` serves the writes of a proxy egress: requests speaks HTTP(S) and SOCKS proxies
(aiohttp has no SOCKS). Either raises the transport failures as requests' exception classes, the
vocabulary kite/errors.py maps (ConnectTimeout: nothing sent; ReadTimeout, ConnectionError: the
outcome is unknown).

The last check before a call leaves (`check`, e.g. the kill switches) runs after any wait for a
free connection and just before the request is written: each transport holds at most `limit`
requests in flight and never queues one inside the HTTP client after its check. A write that has
left is finished even when its caller gives up (it is shielded), as a request on a thread was.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, Protocol, cast

import aiohttp
import requests
import yarl
from requests.models import PreparedRequest, RequestEncodingMixin
from requests.utils import requote_uri

from kite_gateway.kite.egress import Egress
from kite_gateway.kite.egress_adapters import egress_session
from kite_gateway.kite.official_codec import Answer, KiteRequest, plan, read

READS = frozenset({"GET", "HEAD", "OPTIONS"})
# Sent by requests.Session by default (the official client adds its own User-Agent).
DEFAULT_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate"}

Check = Callable[[], None] | None


class Transport(Protocol):
    async def send(self, request: KiteRequest, check: Check = None) -> Any:
        """Kite's answer (an Answer or a requests.Response: what the official client reads)."""
        ...

    async def close(self) -> None: ...


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # a shielded write whose caller gave up: its failure is not left unretrieved


FORM = "application/x-www-form-urlencoded"


def encoded(request: KiteRequest) -> tuple[str, bytes | None, dict[str, str]]:
    """The URL, body and headers requests would send for `request`: its own field encoding (lists
    as repeated keys, None left out), without the rest of its per-request preparation; a JSON
    body is prepared by requests itself."""
    headers = {**DEFAULT_HEADERS, **request.headers}
    if request.json is not None or "?" in request.url:
        prepared = PreparedRequest()
        prepared.prepare(
            method=request.method, url=request.url, headers=headers, data=request.data, params=request.params,
            json=request.json,
        )  # fmt: skip
        body = prepared.body.encode() if isinstance(prepared.body, str) else cast(bytes | None, prepared.body)
        return (
            str(prepared.url),
            body,
            {k: v if isinstance(v, str) else v.decode() for k, v in prepared.headers.items()},
        )
    url = request.url
    if request.params:
        query = str(RequestEncodingMixin._encode_params(request.params))
        url = f"{url}?{query}" if query else url
    url = requote_uri(url)
    body = None
    if request.data:
        body = str(RequestEncodingMixin._encode_params(request.data)).encode()
        headers["Content-Type"] = FORM
        if body:
            headers["Content-Length"] = str(len(body))
    elif request.method not in ("GET", "HEAD"):
        headers["Content-Length"] = "0"
    return url, body, headers


class HttpTransport:
    """Kite over aiohttp: one keep-alive connection pool, optionally bound to a source address."""

    def __init__(self, limit: int, source_address: str | None = None, trust_env: bool = True) -> None:
        self.limit = limit
        self.source_address = source_address
        self.trust_env = trust_env  # the environment's HTTP(S)_PROXY and NO_PROXY, as requests honours them
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}  # (scheme, host:port) -> the environment's proxy

    def _open(self) -> tuple[aiohttp.ClientSession, asyncio.Semaphore]:
        if self._session is None or self._slots is None:
            local = (self.source_address, 0) if self.source_address else None
            connector = aiohttp.TCPConnector(limit=self.limit, limit_per_host=self.limit, local_addr=local)
            # trust_env stays off: aiohttp would read the environment and ~/.netrc on a thread per
            # request; the environment's proxy is looked up once per Kite host instead (_proxy).
            self._session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
            self._slots = asyncio.Semaphore(self.limit)
        return self._session, self._slots

    async def send(self, request: KiteRequest, check: Check = None) -> Answer:
        url, body, headers = encoded(request)
        session, slots = self._open()
        await slots.acquire()  # a free connection: nothing waits inside aiohttp after the check
        write: asyncio.Task[Answer] | None = None
        try:
            if check is not None:
                check()
            exchange = self._exchange(session, request.method, url, body, headers, request.timeout)
            if request.method in READS:
                return await exchange
            write = asyncio.ensure_future(exchange)  # shielded from its caller: it holds its slot to the end
        finally:
            if write is None:
                slots.release()
        write.add_done_callback(_retrieve)
        write.add_done_callback(lambda _: slots.release())
        return await asyncio.shield(write)

    def _proxy(self, url: yarl.URL) -> str | None:
        """The environment's proxy for this URL's scheme and host (None: straight there)."""
        key = (url.scheme, f"{url.host}:{url.port}")
        if key not in self._proxies:
            found = requests.utils.get_environ_proxies(str(url)) if self.trust_env else {}
            self._proxies[key] = found.get(url.scheme) or found.get("all")
        return self._proxies[key]

    async def _exchange(
        self, session: aiohttp.ClientSession, method: str, url: str, body: bytes | None, headers: dict[str, str],
        seconds: float | None,
    ) -> Answer:  # fmt: skip
        """One request and its whole answer; `seconds` to connect and between bytes, as requests' timeout."""
        limits = aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)
        target = yarl.URL(url, encoded=True)
        try:
            async with session.request(
                method, target, proxy=self._proxy(target), data=body, headers=headers, timeout=limits
            ) as response:
                return Answer(response.status, response.headers, await response.read())
        except aiohttp.ConnectionTimeoutError as exc:
            raise requests.exceptions.ConnectTimeout(f"connecting to Kite timed out: {exc}") from exc
        except (aiohttp.SocketTimeoutError, TimeoutError) as exc:
            raise requests.exceptions.ReadTimeout(f"Kite's answer timed out: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise requests.exceptions.ConnectionError(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class ThreadedTransport:
    """Kite over a requests.Session on the worker threads (the check runs in the worker)."""

    def __init__(self, executor: Executor, session: requests.Session) -> None:
        self.executor = executor
        self.session = session

    async def send(self, request: KiteRequest, check: Check = None) -> requests.Response:
        def call() -> requests.Response:
            if check is not None:
                check()
            return self.session.request(
                request.method, request.url, params=request.params, data=request.data, json=request.json,
                headers=dict(request.headers), timeout=request.timeout, allow_redirects=True,
            )  # fmt: skip

        future = asyncio.get_running_loop().run_in_executor(self.executor, call)
        return await future  # a thread that started sending finishes whatever its caller does

    async def close(self) -> None:
        self.session.close()


class Calls(Protocol):
    """How a KiteCaller makes one call of the official client (`call`, bound to its arguments)."""

    async def call(self, client: Any, call: Callable[[], Any], check: Check) -> Any: ...


class OfficialCalls:
    """The official client as the codec (kite/official_codec.py): the request it plans goes out by
    `reads` (GET) or `writes` (anything that changes state at Kite), and it reads the answer."""

    def __init__(self, reads: Transport, writes: Transport) -> None:
        self.reads = reads
        self.writes = writes

    async def call(self, client: Any, call: Callable[[], Any], check: Check) -> Any:
        request = plan(call)
        transport = self.reads if request.method in READS else self.writes
        return read(client, call, await transport.send(request, check))


class Transports:
    """The gateway's transports: one for reads (and the writes of accounts on the default route),
    and one per routed egress for its accounts' writes."""

    def __init__(self, executor: Executor, limit: int) -> None:
        self.executor = executor
        self.limit = limit
        self.default = HttpTransport(limit)
        self._routed: dict[Egress, Transport] = {}

    def calls(self, egress: Egress) -> OfficialCalls:
        """How an account whose writes leave through `egress` makes its calls."""
        return OfficialCalls(self.default, self.writes(egress))

    def writes(self, egress: Egress) -> Transport:
        """The transport an account's writes leave by."""
        if not egress.routed:
            return self.default
        transport = self._routed.get(egress)
        if transport is None:
            if egress.source_address is not None:  # never through an environment proxy: the address is the egress
                transport = HttpTransport(self.limit, egress.source_address, trust_env=False)
            else:
                transport = ThreadedTransport(self.executor, egress_session(egress))
            self._routed[egress] = transport
        return transport

    async def close(self) -> None:
        for transport in (self.default, *self._routed.values()):
            with contextlib.suppress(Exception):
                await transport.close()
