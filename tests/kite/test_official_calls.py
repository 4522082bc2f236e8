"""The official client as the codec over the gateway's own transport: against the simulator every
call answers what kiteconnect over requests answers (the official client judges), Kite's refusals
are raised as kiteconnect raises them, transport failures come as requests' exception classes, a
write whose caller gives up is still finished, and the last check runs after any wait for a
connection and before anything leaves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_exceptions
from requests.models import PreparedRequest

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.caller import KiteCaller, KiteConnector, new_client
from kite_gateway.kite.limits import EndpointClass, RateLimits
from kite_gateway.kite.official_codec import Answer, KiteRequest, PlanningSession, plan
from kite_gateway.kite.transport import DEFAULT_HEADERS, HttpTransport, OfficialCalls, encoded
from kite_simulator.threaded import ThreadedSimulator
from tests.simulator.conftest import MORNING, login, regular_hours

READS: list[tuple[str, tuple[Any, ...]]] = [
    ("profile", ()),
    ("margins", ()),
    ("margins", ("commodity",)),
    ("positions", ()),
    ("holdings", ()),
    ("orders", ()),
    ("trades", ()),
    ("quote", (["NSE:INFY", "BSE:INFY", "NSE:NIFTY 50"],)),
    ("ltp", (["NSE:INFY", "NSE:NOSUCH"],)),
    ("ohlc", (["NSE:SBIN"],)),
    ("instruments", ("NSE",)),
]


@pytest.fixture(scope="module")
def simulator() -> Iterator[ThreadedSimulator]:
    with ThreadedSimulator(regular_hours()) as running:
        yield running


@pytest.fixture(scope="module")
def official(simulator: ThreadedSimulator) -> KiteConnect:
    kite = login(simulator)
    kite.place_order(variety="regular", exchange="NSE", tradingsymbol="INFY", transaction_type="BUY", quantity=3,
                     product="CNC", order_type="MARKET", market_protection=-1)  # fmt: skip
    return kite


@pytest.fixture
async def gateway_caller(official: KiteConnect) -> AsyncIterator[KiteCaller]:
    with ThreadPoolExecutor(max_workers=1) as executor:
        connector = KiteConnector(executor, RateLimits(1000, 100), official.root, 5.0, 0)
        yield connector.caller("ZS0001", official.api_key, official.access_token)
        await connector.close()


@pytest.mark.parametrize(("method", "args"), READS, ids=[f"{m}{len(a)}" for m, a in READS])
async def test_a_read_over_the_gateways_transport_answers_what_the_official_client_answers(
    gateway_caller: KiteCaller, official: KiteConnect, method: str, args: tuple[Any, ...]
) -> None:
    ours = await gateway_caller.read(EndpointClass.OTHER, method, *args)
    assert ours == getattr(official, method)(*args)  # the simulator's clock is still: the same moment
    assert ours  # something was read (an empty answer would compare equal to an empty answer)


async def test_historical_candles_are_parsed_as_the_official_client_parses_them(
    gateway_caller: KiteCaller, official: KiteConnect
) -> None:
    token = official.ltp(["NSE:INFY"])["NSE:INFY"]["instrument_token"]
    start, end = (MORNING - timedelta(days=5)).replace(tzinfo=None), MORNING.replace(tzinfo=None)
    ours = await gateway_caller.read(EndpointClass.HISTORICAL, "historical_data", token, start, end, "day")
    assert ours == official.historical_data(token, start, end, "day") and isinstance(ours[0]["date"], datetime)


async def test_an_order_placed_over_the_transport_is_in_the_official_clients_book_with_its_fields(
    gateway_caller: KiteCaller, official: KiteConnect
) -> None:
    order_id = await gateway_caller.write(
        EndpointClass.ORDERS, "place_order", variety="regular", exchange="NSE", tradingsymbol="SBIN",
        transaction_type="SELL", quantity=2, product="MIS", order_type="LIMIT", price=1.5, tag="kgcodec",
    )  # fmt: skip
    row = next(row for row in official.orders() if row["order_id"] == order_id)
    assert (row["tradingsymbol"], row["transaction_type"], row["quantity"], row["tag"]) == (
        "SBIN",
        "SELL",
        2,
        "kgcodec",
    )


async def test_kites_refusal_is_raised_with_the_official_clients_class_message_and_status(
    gateway_caller: KiteCaller, official: KiteConnect
) -> None:
    fields = {"variety": "regular", "exchange": "NSE", "tradingsymbol": "INFY", "transaction_type": "BUY",
              "quantity": 0, "product": "CNC", "order_type": "MARKET"}  # fmt: skip
    with pytest.raises(kite_exceptions.KiteException) as theirs:
        official.place_order(**fields)
    with pytest.raises(kite_exceptions.KiteException) as ours:
        await gateway_caller.write(EndpointClass.ORDERS, "place_order", **fields)
    assert (type(ours.value), str(ours.value), ours.value.code) == (
        type(theirs.value),
        str(theirs.value),
        theirs.value.code,
    )


def test_the_planning_run_captures_the_request_and_sends_nothing() -> None:
    client = new_client("app_key", "secret_token", "https://api.kite.trade", 7.0)
    request = plan(lambda: client.cancel_order("regular", "151220000000000", parent_order_id="1"))
    assert (request.method, request.url, request.params, request.timeout) == (
        "DELETE",
        "https://api.kite.trade/orders/regular/151220000000000",
        {"parent_order_id": "1"},
        7.0,
    )
    assert request.headers["Authorization"] == "token app_key:secret_token"
    assert request.headers["X-Kite-Version"] == "3" and isinstance(client.reqsession, PlanningSession)


FIELD = st.text(st.characters(codec="utf-8"), max_size=12)
VALUE = st.one_of(st.none(), FIELD, st.integers(), st.floats(allow_nan=False), st.booleans())
FIELDS = st.dictionaries(FIELD, st.one_of(VALUE, st.lists(VALUE, max_size=3)), max_size=6)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(method=st.sampled_from(["GET", "DELETE", "POST", "PUT"]), fields=FIELDS)
def test_a_request_is_encoded_byte_for_byte_as_requests_prepares_it(method: str, fields: dict[str, Any]) -> None:
    reads = method in ("GET", "DELETE")  # (the official client sends GET/DELETE fields as the query)
    request = KiteRequest(
        method, "https://api.kite.trade/orders/regular", {"X-Kite-Version": "3"},
        params=fields if reads else None, data=None if reads else fields,
    )  # fmt: skip
    prepared = PreparedRequest()
    prepared.prepare(method=method, url=request.url, headers={**DEFAULT_HEADERS, **request.headers},
                     params=request.params, data=request.data)  # fmt: skip
    url, body, headers = encoded(request)
    theirs = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    assert (url, body) == (prepared.url, theirs)
    assert headers == dict(prepared.headers)


# The transport on its own, against a server in this test's loop ------------------------------------


class SlowKite:
    """Answers `{"status": "success", "data": n}` after `release` is set; counts what arrived."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.arrived: list[str] = []
        self.answered = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.arrived.append(f"{request.method} {request.path} {await request.text()}")
        await self.release.wait()
        self.answered += 1
        return web.json_response({"status": "success", "data": self.answered})


@pytest.fixture
async def slow_kite() -> AsyncIterator[tuple[SlowKite, str]]:
    kite = SlowKite()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", kite.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield kite, str(server.make_url("")).rstrip("/")
    kite.release.set()
    await server.close()


async def until(condition: Any) -> None:
    """Let the loop run until `condition()` holds (the server and the transport share it)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


class Finishing(HttpTransport):
    """Records the exchanges that ran to their end (method, Kite's answer)."""

    finished: list[tuple[str, Any]]

    async def _exchange(self, session: Any, method: str, *args: Any) -> Answer:
        answer = await super()._exchange(session, method, *args)
        self.finished.append((method, answer.json()))
        return answer


async def test_a_write_whose_caller_gives_up_is_still_finished_and_a_read_is_abandoned(
    slow_kite: tuple[SlowKite, str],
) -> None:
    kite, url = slow_kite
    transport = Finishing(limit=4)
    transport.finished = []
    write = asyncio.ensure_future(transport.send(KiteRequest("POST", f"{url}/orders/regular", {}, data={"q": 1})))
    read = asyncio.ensure_future(transport.send(KiteRequest("GET", f"{url}/orders", {})))
    await until(lambda: len(kite.arrived) == 2)
    write.cancel()
    read.cancel()
    await until(lambda: write.done() and read.done())
    assert write.cancelled() and read.cancelled()  # both callers gave up
    kite.release.set()
    await until(lambda: transport.finished)
    assert "POST /orders/regular q=1" in kite.arrived
    assert [method for method, _ in transport.finished] == ["POST"]  # the write's answer was read to its end
    await transport.close()


async def test_a_write_whose_caller_gave_up_keeps_its_connection_until_it_ends(slow_kite: tuple[SlowKite, str]) -> None:
    kite, url = slow_kite
    transport = HttpTransport(limit=1)
    checked: list[int] = []
    write = asyncio.ensure_future(transport.send(KiteRequest("POST", f"{url}/orders/regular", {}, data={"n": 1})))
    await until(lambda: len(kite.arrived) == 1)
    write.cancel()
    await until(write.done)
    second = asyncio.ensure_future(
        transport.send(KiteRequest("GET", f"{url}/orders", {}), lambda: checked.append(kite.answered))
    )
    for _ in range(100):
        await asyncio.sleep(0)
    assert checked == []  # the given-up write still has the only connection
    kite.release.set()
    assert (await second).json()["data"] == 2 and checked == [1]  # checked once the write had ended
    await transport.close()


async def test_the_last_check_runs_after_the_wait_for_a_free_connection_and_refuses_before_sending(
    slow_kite: tuple[SlowKite, str],
) -> None:
    kite, url = slow_kite
    transport = HttpTransport(limit=1)
    checked: list[int] = []

    def refuse() -> None:
        checked.append(len(kite.arrived))
        raise GatewayError(Status.FAILED_PRECONDITION, Reason.KILL_SWITCH_ACTIVE, "kill switch engaged")

    first = asyncio.ensure_future(transport.send(KiteRequest("POST", f"{url}/orders/regular", {}, data={"n": 1})))
    await until(lambda: len(kite.arrived) == 1)
    second = asyncio.ensure_future(transport.send(KiteRequest("POST", f"{url}/orders/regular", {}), refuse))
    for _ in range(100):
        await asyncio.sleep(0)
    assert checked == [] and not second.done()  # waiting for the only connection: not yet checked
    kite.release.set()
    assert (await first).json() == {"status": "success", "data": 1}
    with pytest.raises(GatewayError):
        await second
    assert checked == [1] and len(kite.arrived) == 1  # checked once it had the connection; nothing left
    await transport.close()


async def test_transport_failures_come_as_requests_exception_classes(slow_kite: tuple[SlowKite, str]) -> None:
    _, url = slow_kite
    transport = HttpTransport(limit=2)
    with pytest.raises(requests.exceptions.ReadTimeout):  # connected and sent: no answer in time
        await transport.send(KiteRequest("GET", f"{url}/orders", {}, timeout=0.05))
    closed = url.rsplit(":", 1)[0] + ":9"  # nothing listens on port 9 (discard) here
    with pytest.raises(requests.exceptions.ConnectionError):
        await transport.send(KiteRequest("GET", f"{closed}/orders", {}, timeout=1))
    await transport.close()


async def test_the_calls_of_an_account_send_reads_and_writes_by_their_own_transports(
    slow_kite: tuple[SlowKite, str],
) -> None:
    kite, url = slow_kite
    kite.release.set()
    reads, writes = HttpTransport(limit=1), HttpTransport(limit=1)
    calls = OfficialCalls(reads, writes)
    client = new_client("k", "t", url, 5.0)
    assert await calls.call(client, client.positions, None) == 1
    assert await calls.call(client, lambda: client.convert_position("NSE", "INFY", "BUY", "day", 1, "MIS", "CNC"), None)
    assert reads._session is not None and writes._session is not None  # each opened its own pool
    for transport in (reads, writes):
        await transport.close()
