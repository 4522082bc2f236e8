"""Calls to Kite for one account: the official client as the codec of each call (its methods say
what to send and read the answer, kite/official_codec.py), the request sent on the event loop by
the gateway's transports (kite/transport.py), behind the app's rate limits, with retries,
exponential backoff and full jitter for idempotent reads only, its writes leaving through the
account's egress (kite/egress.py). Failures come back as GatewayErrors; a refused token is
reported so the account can be marked NEEDS_LOGIN."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from contextvars import ContextVar
from typing import Any

import structlog
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_exceptions

from kite_gateway.errors import GatewayError
from kite_gateway.kite.client import GatewayKiteConnect
from kite_gateway.kite.egress import Egress, EgressMap
from kite_gateway.kite.errors import EGRESS_NOTE, from_kite, is_kite_failure, retryable_read
from kite_gateway.kite.limits import EndpointClass, RateLimits
from kite_gateway.kite.official_codec import planning_client
from kite_gateway.kite.paths import check_call
from kite_gateway.kite.transport import Calls, Transports
from kite_gateway.observability import KITE_ERRORS, KITE_SECONDS, RATE_LIMIT_WAIT
from kite_wire import refused_ip

log = structlog.get_logger(__name__)

BACKOFF_BASE = 0.2
BACKOFF_CAP = 5.0

# The last check before a call leaves, set by whoever needs one for the calls it makes (order
# placement: the kill switches and, clustered, the account's lease). It runs right before the
# request is written, after any wait for a free connection (kite/transport.py), so a process that
# stalled after deciding to send (paused, descheduled, its connections all busy) looks again
# before anything leaves; a GatewayError it raises refuses the call with nothing sent.
LAST_CHECK: ContextVar[Callable[[], None] | None] = ContextVar("kite_last_check", default=None)


@functools.cache
def _waits(endpoint: EndpointClass) -> Any:
    """The rate-limit wait histogram's child for an endpoint class (labels() looked up once)."""
    return RATE_LIMIT_WAIT.labels(endpoint.value)


@functools.cache
def _seconds(endpoint: EndpointClass, method: str) -> Any:
    """The Kite call histogram's child for an endpoint class and client method (a fixed set of both)."""
    return KITE_SECONDS.labels(endpoint.value, method)


def backoff_delay(attempt: int, draw: Callable[[float, float], float] = random.uniform) -> float:
    """Seconds before retry `attempt` (0 for the first): full jitter under an exponential ceiling."""
    return draw(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))


def new_client(api_key: str, access_token: str | None, root: str, timeout: float) -> KiteConnect:
    """The official client, pointed at `root`, as the codec of an account's calls (it sends nothing itself)."""
    return planning_client(GatewayKiteConnect(api_key=api_key, access_token=access_token, root=root, timeout=timeout))


def _ignore_refusal(_message: str) -> None:
    """What a caller without an account does when Kite refuses its token: nothing (the error says it)."""


class KiteCaller:
    """Everything one account asks of Kite goes through `read` or `write`.

    `bucket` names the app's rate limiters the calls wait in: the api_key (the default), or one
    shared name for the logins of apps no account uses yet (a limiter per made-up api_key would be
    kept forever)."""

    def __init__(
        self,
        account_id: str,
        client: KiteConnect,
        calls: Calls,
        limits: RateLimits,
        max_retries: int,
        on_token_refused: Callable[[str], None] = _ignore_refusal,
        *,
        bucket: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        egress: Egress | None = None,
    ) -> None:
        self.account_id = account_id
        self.egress = egress or Egress()  # the way its writes leave (`calls` sends them that way)
        self.client = client
        self._calls = calls
        self._limits = limits
        self._max_retries = max_retries
        self._on_token_refused = on_token_refused
        self._bucket = client.api_key if bucket is None else bucket
        self._sleep = sleep  # the wait between retries

    @property
    def api_key(self) -> str:
        return str(self.client.api_key)

    @property
    def access_token(self) -> str:
        """The access token the calls carry ("" before a login)."""
        return str(self.client.access_token or "")

    async def acquire(self, endpoint: EndpointClass) -> None:
        """Wait for room in the app's limiter of this endpoint class, for a `write_now` to follow."""
        waited = time.perf_counter()
        await self._limits.limiter(self._bucket, endpoint).acquire()
        _waits(endpoint).observe(time.perf_counter() - waited)

    @contextlib.asynccontextmanager
    async def order_turn(self, weight: int = 1) -> AsyncIterator[None]:
        """The account's turn to send an order write (place, modify, cancel) Kite counts as `weight`
        orders: its order pacing, then room in the app's ORDERS limiter. The body runs up to the
        moment the call leaves."""
        waited = time.perf_counter()
        async with contextlib.AsyncExitStack() as turn:
            if self.account_id:  # (a login's caller has no account, and no orders)
                await turn.enter_async_context(self._limits.order_pacing(self.account_id).turn(weight))
            await self._limits.limiter(self._bucket, EndpointClass.ORDERS).acquire()
            _waits(EndpointClass.ORDERS).observe(time.perf_counter() - waited)
            yield

    async def _once(
        self, endpoint: EndpointClass, method: str, *args: Any, before_send: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> Any:  # fmt: skip
        if endpoint is EndpointClass.ORDERS:
            async with self.order_turn():
                if before_send is not None:
                    before_send()  # after any wait for the pacing and the limiter: the moment of sending
        else:
            await self.acquire(endpoint)
            if before_send is not None:
                before_send()
        return await self._call(endpoint, method, *args, **kwargs)

    async def _call(self, endpoint: EndpointClass, method: str, *args: Any, **kwargs: Any) -> Any:
        check_call(method, args, kwargs)  # ids go into URLs only in Kite's own forms
        started = time.perf_counter()
        call = functools.partial(getattr(self.client, method), *args, **kwargs)
        try:
            return await self._calls.call(self.client, call, LAST_CHECK.get())
        except GatewayError:  # refused by the last check: nothing left
            raise
        except Exception as exc:
            KITE_ERRORS.labels(endpoint.value, type(exc).__name__).inc()
            setattr(exc, EGRESS_NOTE, self.egress.describe())  # named by an IP refusal (kite/errors.py)
            raise
        finally:
            _seconds(endpoint, method).observe(time.perf_counter() - started)

    def _token_refused(self, exc: Exception) -> None:
        """Report a refused token (not an IP refusal, whatever error type Kite gives that)."""
        if isinstance(exc, kite_exceptions.TokenException) and refused_ip(str(exc)) is None:
            self._on_token_refused(str(exc))

    def _failed(self, exc: Exception) -> GatewayError:
        self._token_refused(exc)
        return from_kite(exc, self.account_id)

    async def read(self, endpoint: EndpointClass, method: str, *args: Any, **kwargs: Any) -> Any:
        """An idempotent call: retried on transport failures, 429 and 5xx, with backoff and jitter."""
        attempt = 0
        while True:
            try:
                return await self._once(endpoint, method, *args, **kwargs)
            except Exception as exc:
                if not is_kite_failure(exc):
                    raise
                if attempt >= self._max_retries or not retryable_read(exc):
                    raise self._failed(exc) from None
                delay = backoff_delay(attempt)
                log.info("kite.retry", account_id=self.account_id, method=method, attempt=attempt + 1,
                         delay=round(delay, 3), error=type(exc).__name__)  # fmt: skip
                attempt += 1
                await self._sleep(delay)

    async def write(self, endpoint: EndpointClass, method: str, *args: Any, **kwargs: Any) -> Any:
        """A call that changes state at Kite: never retried here. Raises the raw Kite failure, so the
        caller can tell a definite refusal from an unknown outcome (see errors.outcome_unknown)."""
        try:
            return await self._once(endpoint, method, *args, **kwargs)
        except kite_exceptions.TokenException as exc:
            self._token_refused(exc)
            raise

    async def write_now(self, endpoint: EndpointClass, method: str, *args: Any, **kwargs: Any) -> Any:
        """A `write` whose limiter room was taken by `acquire` just before: it leaves at once."""
        try:
            return await self._call(endpoint, method, *args, **kwargs)
        except kite_exceptions.TokenException as exc:
            self._token_refused(exc)
            raise

    async def change(self, endpoint: EndpointClass, method: str, *args: Any, **kwargs: Any) -> Any:
        """A `write` whose failures come back as GatewayErrors (for callers that need no outcome
        analysis). `before_send=` (not passed to Kite) runs after any wait for the rate limiter,
        just before the call leaves, and refuses it by raising (e.g. a kill switch)."""
        try:
            return await self.write(endpoint, method, *args, **kwargs)
        except Exception as exc:
            if not is_kite_failure(exc):
                raise
            raise self._failed(exc) from None

    def error(self, exc: Exception) -> GatewayError:
        """A failure from `write` as a GatewayError."""
        return self._failed(exc)


class KiteConnector:
    """Makes every KiteCaller of the gateway: one set of transports (at most `workers` requests in
    flight on each), one set of the apps' rate limits, one Kite root, timeout and retry budget for
    all of them, and the egress map that says which way each account's writes leave."""

    def __init__(
        self, executor: Executor, limits: RateLimits, api_endpoint: str, request_timeout: float,
        max_retries: int, egresses: EgressMap | None = None, workers: int = 32,
    ) -> None:  # fmt: skip
        self.transports = Transports(executor, workers)
        self.limits = limits
        self.api_endpoint = api_endpoint
        self.request_timeout = request_timeout
        self.max_retries = max_retries
        self.egresses = egresses or EgressMap()
        self._accounts: dict[str, str] = {}  # account_id -> api_key, of every account a caller was made for
        self._warned: dict[str, int] = {}  # shared IP -> accounts when last warned about

    def caller(
        self,
        account_id: str,
        api_key: str,
        access_token: str | None,
        on_token_refused: Callable[[str], None] = _ignore_refusal,
        bucket: str | None = None,
    ) -> KiteCaller:
        """A caller for an account's token, or (`access_token` None, `account_id` "") for a login
        not yet made: the session exchange, or the check of a token before its account exists."""
        egress = self.egresses.egress(account_id, api_key)
        client = new_client(api_key, access_token, self.api_endpoint, self.request_timeout)
        if account_id:
            self._accounts[account_id] = api_key
            self.warn_if_shared()
        return KiteCaller(
            account_id, client, self.transports.calls(egress), self.limits, self.max_retries, on_token_refused,
            bucket=bucket, egress=egress,
        )  # fmt: skip

    async def close(self) -> None:
        """Close the transports' connections."""
        await self.transports.close()

    def warn_if_shared(self) -> None:
        """Log `egress.shared_beyond_family` for each IP that more accounts leave from than a family
        may have (Kite allows sharing an IP only within a family; surveillance looks for more),
        once per new count."""
        for shared in self.egresses.sharing(self._accounts.items()):
            if not shared.over_family_size or self._warned.get(shared.ip) == len(shared.accounts):
                continue
            self._warned[shared.ip] = len(shared.accounts)
            log.warning(
                "egress.shared_beyond_family",
                ip=shared.ip,
                egresses=list(shared.egresses),
                accounts=list(shared.accounts),
                family_size=shared.family_size,
                advice="Kite allows one IP to be shared only by a family (self, spouse, dependent children and "
                "parents); map the other accounts' developer accounts to egresses of their own, or raise "
                "KITE_GATEWAY_EGRESS_FAMILY_SIZE if this is one family",
            )
