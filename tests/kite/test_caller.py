"""KiteCaller as a unit: which failures a read retries (transport, 429, 5xx) and which it does not,
the backoff's ceiling, writes never retried, a refused token reported, and the rate bucket a login
waits in. The official client is replaced by a fake whose method answers a scripted sequence."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest
import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_exceptions

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.caller import BACKOFF_CAP, KiteCaller, KiteConnector, backoff_delay
from kite_gateway.kite.limits import EndpointClass, RateLimits
from tests.support.kite_calls import InProcessCalls


class ScriptedClient:
    """Answers `profile` (a real client method, so the path check accepts it) from a script:
    exceptions are raised, anything else returned."""

    api_key = "app_key"
    access_token = "token"

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls = 0

    def profile(self) -> Any:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


@pytest.fixture
def calls() -> InProcessCalls:
    return InProcessCalls()


class Harness:
    def __init__(self, calls: InProcessCalls, client: ScriptedClient, max_retries: int = 3) -> None:
        self.client = client
        self.refusals: list[str] = []
        self.waits: list[float] = []
        self.limits = RateLimits(1000, 100)
        self.caller = KiteCaller(
            "AB1234",
            cast(KiteConnect, client),
            calls,
            self.limits,
            max_retries,
            self.refusals.append,
            sleep=self._sleep,
        )

    async def _sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def server_error() -> Exception:
    failure: Exception = kite_exceptions.GeneralException("Kite is down", code=502)
    return failure


@pytest.mark.parametrize(
    "failure",
    [
        server_error(),
        kite_exceptions.NetworkException("gateway timeout", code=504),
        kite_exceptions.DataException("bad data from the exchange", code=502),
        kite_exceptions.GeneralException("Too many requests", code=429),
        requests.exceptions.ConnectionError("connection reset"),
        requests.exceptions.ReadTimeout("read timed out"),
    ],
    ids=lambda exc: type(exc).__name__ + str(getattr(exc, "code", "")),
)
async def test_a_read_is_retried_after_transport_failures_429_and_5xx_until_it_succeeds(
    calls: InProcessCalls, failure: Exception
) -> None:
    harness = Harness(calls, ScriptedClient(failure, failure, {"user_id": "AB1234"}))
    assert await harness.caller.read(EndpointClass.OTHER, "profile") == {"user_id": "AB1234"}
    assert harness.client.calls == 3 and len(harness.waits) == 2


async def test_a_read_gives_up_after_max_retries_as_a_retryable_unavailable(calls: InProcessCalls) -> None:
    harness = Harness(calls, ScriptedClient(*[server_error()] * 3), max_retries=2)
    with pytest.raises(GatewayError) as caught:
        await harness.caller.read(EndpointClass.OTHER, "profile")
    assert (caught.value.code, caught.value.retry_after) == (Status.UNAVAILABLE, 1.0)
    assert harness.client.calls == 3  # the first attempt and two retries


@pytest.mark.parametrize(
    ("failure", "status", "reason"),
    [
        (
            kite_exceptions.InputException("invalid segment", code=400),
            Status.INVALID_ARGUMENT,
            Reason.KITE_INPUT_REJECTED,
        ),
        (kite_exceptions.PermissionException("not allowed", code=403), Status.PERMISSION_DENIED, None),
        (kite_exceptions.GeneralException("order not found", code=404), Status.NOT_FOUND, None),
    ],
)
async def test_a_read_refused_by_kite_is_not_retried(
    calls: InProcessCalls, failure: Exception, status: Status, reason: Reason | None
) -> None:
    harness = Harness(calls, ScriptedClient(failure, {"never": "reached"}))
    with pytest.raises(GatewayError) as caught:
        await harness.caller.read(EndpointClass.OTHER, "profile")
    assert caught.value.code == status and (reason is None or caught.value.reason == reason)
    assert harness.client.calls == 1 and harness.waits == []


async def test_a_refused_token_is_reported_once_and_not_retried(calls: InProcessCalls) -> None:
    harness = Harness(calls, ScriptedClient(kite_exceptions.TokenException("Invalid `api_key` or `access_token`.")))
    with pytest.raises(GatewayError) as caught:
        await harness.caller.read(EndpointClass.OTHER, "profile")
    assert (caught.value.code, caught.value.reason) == (Status.UNAUTHENTICATED, Reason.ACCOUNT_NEEDS_LOGIN)
    assert harness.refusals == ["Invalid `api_key` or `access_token`."] and harness.client.calls == 1


async def test_a_failure_that_is_not_kites_is_neither_retried_nor_mapped(calls: InProcessCalls) -> None:
    harness = Harness(calls, ScriptedClient(ValueError("a bug")))
    with pytest.raises(ValueError, match="a bug"):
        await harness.caller.read(EndpointClass.OTHER, "profile")
    assert harness.client.calls == 1


async def test_a_write_is_never_retried_and_raises_kites_own_failure(calls: InProcessCalls) -> None:
    failure = kite_exceptions.NetworkException("gateway timeout", code=504)
    harness = Harness(calls, ScriptedClient(failure, {"never": "reached"}))
    with pytest.raises(kite_exceptions.NetworkException):
        await harness.caller.write(EndpointClass.OTHER, "profile")
    assert harness.client.calls == 1 and harness.waits == []


async def test_a_change_is_never_retried_and_fails_as_a_gateway_error(calls: InProcessCalls) -> None:
    harness = Harness(calls, ScriptedClient(server_error(), {"never": "reached"}))
    with pytest.raises(GatewayError) as caught:
        await harness.caller.change(EndpointClass.OTHER, "profile")
    assert caught.value.code == Status.UNAVAILABLE and harness.client.calls == 1


def test_the_backoff_is_full_jitter_under_a_doubling_ceiling_capped_at_five_seconds() -> None:
    ceilings = [backoff_delay(attempt, lambda low, high: high) for attempt in range(8)]
    assert ceilings == [0.2, 0.4, 0.8, 1.6, 3.2, BACKOFF_CAP, BACKOFF_CAP, BACKOFF_CAP]
    assert all(backoff_delay(attempt, lambda low, high: low) == 0 for attempt in range(8))


async def test_the_waits_between_retries_stay_under_the_backoff_ceiling(calls: InProcessCalls) -> None:
    harness = Harness(calls, ScriptedClient(*[server_error()] * 4, {"ok": True}), max_retries=4)
    await harness.caller.read(EndpointClass.OTHER, "profile")
    assert len(harness.waits) == 4
    assert all(0 <= wait <= backoff_delay(n, lambda low, high: high) for n, wait in enumerate(harness.waits))


async def test_a_login_caller_waits_in_the_bucket_it_is_given_and_an_account_in_its_apps() -> None:
    limits = RateLimits(1000, 100)
    connector = KiteConnector(ThreadPoolExecutor(1), limits, "http://127.0.0.1:9", 1.0, 0)
    await connector.caller("", "made_up_key", None, bucket="new apps").acquire(EndpointClass.OTHER)
    await connector.caller("AB1234", "app_key", "token").acquire(EndpointClass.ORDERS)
    assert set(limits._limiters) == {("new apps", EndpointClass.OTHER), ("app_key", EndpointClass.ORDERS)}


def test_a_caller_says_which_app_and_token_it_calls_with() -> None:
    connector = KiteConnector(ThreadPoolExecutor(1), RateLimits(10, 10), "http://127.0.0.1:9", 1.0, 0)
    assert (connector.caller("AB1234", "app_key", "token").access_token, connector.caller("", "k", None).api_key) == (
        "token",
        "k",
    )
    assert connector.caller("", "k", None).access_token == ""
