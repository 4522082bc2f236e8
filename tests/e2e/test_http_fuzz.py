"""Property: whatever a caller sends to the HTTP/JSON API, the answer is JSON that names the problem,
never a server error other than 503 UNAVAILABLE as a google.rpc.Status, never Python's own words,
and the gateway keeps serving; and what comes through a path reaches only its request field.

Every operation of the served /openapi.json gets generated requests against a paper gateway: path
parameters with `/`, `..`, `%2F`, `%00`, CR LF, unicode and very long values (raw or
percent-encoded), query strings with repeated, unknown and malformed parameters, bodies that are not
JSON, JSON of the wrong shape, huge and deep numbers and nestings, decimals at the grammar's edges
and dates such as month 13, under the operation's method or another, with odd content types.
Requests go out through http.client so that the path is sent exactly as generated (aiohttp's and
requests' clients normalise `..`). Hypothesis runs derandomized with a bounded example count
(KITE_HTTP_FUZZ_EXAMPLES per operation, 20 by default: about 20 s on a 2-core machine), no
deadline, no example database: the same requests every run.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kite_gateway.app import App
from kite_gateway.grpc.server import Gateway
from kite_gateway.http import HttpEndpoints, internal_socket_path, published_document, remove_internal_socket
from kite_gateway.paper import log_in_demo_accounts
from kite_gateway.storage.sealing import Sealer
from kite_simulator import ThreadedSimulator
from tests.e2e.conftest import make_settings
from tests.simulator.conftest import regular_hours

EXAMPLES = int(os.environ.get("KITE_HTTP_FUZZ_EXAMPLES", "20"))
TIMEOUT = 30.0  # seconds: only a hung request takes this long
ACCOUNTS = ("ZS0001", "ZS0002")
STREAM_TYPES = ("text/event-stream", "application/x-ndjson")
# What only Python (never a message written for a caller) says; checked unless the request said it.
PYTHON_WORDS = re.compile(
    r"Traceback|File \"|object at 0x|<class |bytearray\(|NoneType|object is not|unhashable|int\(\)|"
    r"bytes-like|invalid literal|does not match format|%Y|Server got itself in trouble"
)
DECIMAL_EDGES = [
    "1e99999", "1e999999999", "-1E+99999999999999999999", "-0", "+0", ".", "1.", ".5", "0x10", "NaN", "-Infinity",
    "inf", "1_000", "1,5", " 1", "1 ", "١٢٣", "1" * 1000, "0." + "0" * 999 + "1", "1.000000000000000000000000000001",
    "99999999999999999999", "-999999999.99999999", "1e-8", "1e-9", "", "--1", "1e", "e5", "\u0000",
    "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-13-01T00:00:00Z",
]  # fmt: skip
PATH_EDGES = [
    "..", ".", "%2e%2e", "%2E%2E%2F..%2F", "a/b", "../../v1/killSwitch", "%2F", "%00", "%0D%0ASet-Cookie:%20x=1",
    "%ff%fe", "%", "%zz", "\u00e9\u4e2d\U0001f600", "~", "*", ":cancel", "?x=1", "#frag", ";a=b", "'\"<>", "x" * 3000,
    "9" * 40, "-1", "0", "151220000000000", "ZS0001", "ZS0002", "A" * 33,
]  # fmt: skip
QUERY_EDGES = [
    "&&", "=", "==1", "a=b=c", "%zz=1", "x=%", "account_id", "account_id=", "account_id=ZS0001&account_id=ZS0002",
    "symbols=,,,", "instruments.symbol=", "instruments..symbol=1", ".=1", "mode=7", "mode=-1", "mode=TICK_MODE_NOPE",
    "heartbeat_interval=1e400s", "after_sequence=18446744073709551616", "page_size=-1", "start_time=2026-13-01",
    "expiry.month=13&expiry.year=2026&expiry.day=1", "expiry.day=32", "statuses=ORDER_STATUS_OPEN&statuses=99",
    "%00=%00", "a[b]=1", "accountId=ZS0002", "at=9999-12-31T23:59:59Z", "at=0001-01-01T00:00:00Z",
    "start_time=0001-01-01T00:00:00Z&end_time=9999-12-31T23:59:59Z", "end_time=9999-12-31T23:59:59.999999999Z",
]  # fmt: skip
BODY_EDGES = [
    b"", b"{", b"}", b"null", b"[]", b"[1,2]", b'"x"', b"1e999", b"-0", b"true", b"\xff\xfe\x00", b"{'a': 1}",
    b"[" * 50_000 + b"]" * 50_000, b'{"a":' * 3000 + b"1" + b"}" * 3000, b"9" * 5000,
    b'{"quantity": ' + b"9" * 5000 + b"}",
    b'{"params": {"quantity": 1e309}}', b'{"params": {"price": {"value": {"value": "1"}}}}', b"\x00" * 64,
    b'{"a": 1, "a": 2}', "{\"reason\": \"\u2028\u2029\"}".encode(),
]  # fmt: skip
CONTENT_TYPES = [
    "application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/json; charset=latin-1", "", "*/*",
]  # fmt: skip
# Methods HTTP's parser takes (it answers an unknown token itself, as text, before any route).
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND"]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the OpenAPI path, e.g. /v1/accounts/{account_id}/orders/{order.order_id}:cancel
    path_names: tuple[str, ...]
    query: tuple[tuple[str, dict[str, Any]], ...]  # (name, schema)
    body: dict[str, Any] | None  # the request body's schema, resolved one level

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


class ThreadedHttp:
    """A paper gateway with its HTTP/JSON API on a background event loop."""

    def __init__(self, tmp_path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="http-fuzzed-gateway", daemon=True)
        self.thread.start()
        self.run(self._start(tmp_path))

    async def _start(self, tmp_path: Path) -> None:
        self.sim = ThreadedSimulator(regular_hours(tick_interval=0.05))
        await self.sim.start()
        settings = make_settings(tmp_path, self.sim, Sealer.generate_key(), rate_limit_per_second=100_000.0)
        settings.gateway_data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = settings.gateway_data_dir
        self.runtime = await App.open(settings, now=self.sim.clock.now)
        self.socket = internal_socket_path(settings.gateway_data_dir)
        self.gateway = Gateway(settings, self.runtime.servicers(), internal_socket=self.socket)
        await self.gateway.start()
        await log_in_demo_accounts(self.sim, self.runtime.accounts)
        api = (self.gateway.service_names, f"unix:{self.socket}")
        self.http: HttpEndpoints = self.runtime.http_endpoints("127.0.0.1", 0, api=api)
        await self.http.start()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=120)

    async def restore(self) -> None:
        """Undo what a fuzzed request may have changed that later examples rely on."""
        if set(self.runtime.accounts.sessions) < set(ACCOUNTS):
            await log_in_demo_accounts(self.sim, self.runtime.accounts)
        switches = self.runtime.risk.kill_switches
        for account_id in ("", *ACCOUNTS):
            if switches.state(account_id).engaged:
                await switches.set(account_id, False, "fuzz: released", "fuzz")

    async def _stop(self) -> None:
        await self.http.stop()
        await self.gateway.stop(0)
        await self.runtime.close()
        remove_internal_socket(self.socket, self.data_dir)
        await self.sim.stop()

    def close(self) -> None:
        self.run(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@dataclass
class Answer:
    status: int
    content_type: str
    headers: http.client.HTTPMessage
    body: bytes  # for a stream: its first line(s), up to the first event


def send(port: int, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
    """One request with the target sent byte for byte as given; a stream is read to its first event."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body or method in ("POST", "PUT", "PATCH"):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        kind = response.getheader("Content-Type", "")
        if kind.startswith(STREAM_TYPES):
            lines = []
            while (line := response.readline(1 << 20)) not in (b"", b"\n", b"\r\n"):
                lines.append(line)
                if kind.startswith("application/x-ndjson"):
                    break
            data = b"".join(lines)
        else:
            data = response.read()
        return Answer(response.status, kind, response.headers, data)
    finally:
        connection.close()  # a stream's caller goes away


def operations(document: dict[str, Any]) -> list[Operation]:
    schemas = document["components"]["schemas"]
    found = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            parameters = operation.get("parameters", [])
            body = None
            if "requestBody" in operation:
                schema = operation["requestBody"]["content"]["application/json"]["schema"]
                body = _resolved(schema, schemas)
            found.append(
                Operation(
                    method.upper(),
                    path,
                    tuple(p["name"] for p in parameters if p["in"] == "path"),
                    tuple((p["name"], p.get("schema", {})) for p in parameters if p["in"] == "query"),
                    body,
                )
            )
    return found


def _resolved(schema: dict[str, Any], schemas: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    if "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
    if depth < 3 and "properties" in schema:
        schema = {
            **schema,
            "properties": {k: _resolved(v, schemas, depth + 1) for k, v in schema["properties"].items()},
        }
    if depth < 3 and "items" in schema:
        schema = {**schema, "items": _resolved(schema["items"], schemas, depth + 1)}
    return schema


# Strategies --------------------------------------------------------------------------------------

ADVERSARIAL_TEXT = st.one_of(
    st.sampled_from(DECIMAL_EDGES),
    st.sampled_from(PATH_EDGES),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=600),
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**300]),
    st.floats(allow_nan=False, allow_infinity=False),
    ADVERSARIAL_TEXT,
    st.sampled_from([{"value": d} for d in DECIMAL_EDGES[:12]]),
    st.sampled_from([{"year": 2026, "month": 13, "day": 1}, {"year": 2026, "month": 2, "day": 30}, {"year": -1}]),
    st.sampled_from([{"year": 2026, "month": 12, "day": 29}, {"seconds": "x"}, {"@type": "x"}]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def _for_schema(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Mostly values of the schema's own shape (so requests reach deep), sometimes anything."""
    anything = JSON_VALUES
    if depth > 3:
        return anything
    kind = schema.get("type")
    if "properties" in schema:
        props = schema["properties"]
        shaped = st.fixed_dictionaries(
            {}, optional={name: _for_schema(sub, depth + 1) for name, sub in props.items()}
        ).flatmap(
            lambda d: (
                st.just(d)
                | st.builds(
                    lambda extra: {**d, **extra}, st.dictionaries(st.text(max_size=8), JSON_SCALARS, max_size=2)
                )
            )
        )
        return st.one_of(shaped, shaped, anything)
    if kind == "array":
        return st.one_of(st.lists(_for_schema(schema.get("items", {}), depth + 1), max_size=3), anything)
    if "enum" in schema:
        return st.one_of(st.sampled_from(schema["enum"]), anything)
    return anything


@st.composite
def requests_for(
    draw: st.DrawFn, operation: Operation, known: dict[str, list[str]]
) -> tuple[str, str, bytes, dict[str, str]]:
    """(method, target, body, headers) of one request to the operation."""
    method = draw(st.sampled_from([operation.method] * 6 + METHODS))
    target = operation.path
    for name in operation.path_names:
        raw = draw(
            st.one_of(st.sampled_from(known.get(name, ["ZS0001"])), st.sampled_from(PATH_EDGES), st.text(max_size=30))
        )
        if draw(st.booleans()) and not re.search(r"[\x00-\x20\x7f-\U0010ffff?#]", raw):
            value = raw  # sent as it is: `/`, `..`, `%2F` reach the server's router untouched
        else:
            value = quote(raw, safe="")
        target = target.replace("{" + name + "}", value)
    params: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        choice = draw(st.integers(0, 3))
        if choice == 0 or not operation.query:
            params.append(draw(st.sampled_from(QUERY_EDGES)))
        else:
            name, schema = draw(st.sampled_from(operation.query))
            value = draw(
                st.one_of(
                    st.sampled_from(schema.get("enum", ["1"])),
                    ADVERSARIAL_TEXT,
                    st.sampled_from(known.get(name, ["x"])),
                )
            )
            params.append(f"{quote(name)}={quote(str(value), safe='')}")
    if params:
        target += "?" + "&".join(params)
    body = b""
    if operation.body is not None or draw(st.integers(0, 5)) == 0:
        kind = draw(st.integers(0, 3))
        if kind == 0:
            body = draw(st.sampled_from(BODY_EDGES))
        else:
            document = draw(_for_schema(operation.body or {}))
            body = json.dumps(document, ensure_ascii=draw(st.booleans())).encode()
    headers = {"Content-Type": draw(st.sampled_from(CONTENT_TYPES))}
    if draw(st.booleans()):
        headers["Accept"] = draw(st.sampled_from(["application/x-ndjson", "text/event-stream", "text/html", "*/*"]))
    return method, target, body, headers


# The property ------------------------------------------------------------------------------------


class Fuzzing:
    def __init__(self, threaded: ThreadedHttp) -> None:
        self.threaded = threaded
        self.port = threaded.http.port
        self.document = json.loads(send(self.port, "GET", "/openapi.json").body)
        placed = self.call_json("POST", "/v1/accounts/ZS0001/orders", {
            "client_order_id": "http-fuzz-setup",
            "params": {
                "instrument": {"symbol": "NSE:INFY"}, "transaction_type": "TRANSACTION_TYPE_BUY",
                "variety": "VARIETY_REGULAR", "order_type": "ORDER_TYPE_MARKET", "product": "PRODUCT_CNC",
                "quantity": 1,
            },
        })  # fmt: skip
        self.known = {
            "account_id": list(ACCOUNTS),
            "order.order_id": [placed["order_id"]],
            "order_id": [placed["order_id"]],
            "gtt_id": ["1", "0"],
            "subscription_id": ["0"],
            "instruments.symbol": ["NSE:INFY", "NSE:NOPE"],
        }

    def call_json(self, method: str, path: str, body: Any) -> Any:
        answer = send(self.port, method, path, json.dumps(body).encode(), {"Content-Type": "application/json"})
        assert answer.status == 200, answer.body
        return json.loads(answer.body)

    def check(self, method: str, target: str, body: bytes, headers: dict[str, str]) -> Answer:
        shown = f"{method} {target[:300]} {body[:300]!r} {headers}"
        answer = send(self.port, method, target, body, headers)
        self.threaded.run(self.threaded.restore())
        sent = f"{target} {body.decode('utf-8', 'replace')}"
        assert answer.status < 500 or answer.status == 503, f"{answer.status} {answer.body[:400]!r} for {shown}"
        if method == "HEAD" and not answer.body:
            pass  # HEAD answers without a body
        elif answer.content_type.startswith(STREAM_TYPES):
            assert answer.status == 200, shown
            line = answer.body.decode().splitlines()[-1]
            json.loads(line.removeprefix("data: "))  # one event of JSON (an error event is a Status)
        else:
            assert answer.content_type.startswith("application/json"), (
                f"{answer.content_type} {answer.body[:300]!r} for {shown}"
            )
            data = json.loads(answer.body)
            if answer.status >= 400:
                assert isinstance(data, dict) and data.get("code", 0) != 0 and data.get("message"), shown
                if answer.status >= 500:
                    assert data["code"] == 14, f"{data} for {shown}"  # 503 UNAVAILABLE
                words = PYTHON_WORDS.search(data["message"])
                assert words is None or words.group(0) in sent, f"Python's words in {data['message']!r} for {shown}"
        assert "Set-Cookie" not in answer.headers and "Location" not in answer.headers, shown
        health = send(self.port, "GET", "/api/v1/health/kite")
        assert health.status == 200, f"not serving after {shown}: {health.status} {health.body[:200]!r}"
        return answer


@pytest.fixture(scope="module")
def fuzzing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzing]:
    threaded = ThreadedHttp(tmp_path_factory.mktemp("http-fuzz"))
    try:
        yield Fuzzing(threaded)
    finally:
        threaded.close()


SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
OPERATIONS = operations(json.loads(published_document() or b"{}"))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("operation", OPERATIONS, ids=[o.id for o in OPERATIONS])
def test_no_http_request_to_any_binding_gets_a_server_error_or_a_non_json_or_pythonic_answer(
    fuzzing: Fuzzing, operation: Operation
) -> None:
    @settings(SETTINGS, max_examples=EXAMPLES)
    @given(requests_for(operation, fuzzing.known))
    def property_(request: tuple[str, str, bytes, dict[str, str]]) -> None:
        fuzzing.check(*request)

    property_()


# What comes through a path reaches only its field -------------------------------------------------


def _refusal(answer: Answer) -> tuple[int, str]:
    """(HTTP status, the field the google.rpc.Status's BadRequest names, or "")."""
    data = json.loads(answer.body)
    bad = [d for d in data.get("details", []) if d["@type"].endswith("google.rpc.BadRequest")]
    return answer.status, bad[0]["field_violations"][0]["field"] if bad else ""


@pytest.mark.parametrize(
    ("method", "target", "field"),
    [
        ("GET", "/v1/accounts/ZS0001/orders/..%2F..%2F..%2Fapi%2Fv1%2Fhealth%2Fkite/history", "order.order_id"),
        ("GET", "/v1/accounts/ZS0002%2F..%2FZS0001/orders", "account_id"),
        ("GET", "/v1/accounts/ZS0001%00/orders", "account_id"),
        ("DELETE", "/api/v1/trading/orders/1%2F..%2F..%2Fpositions/cancel?account_id=ZS0001", "order.order_id"),
        ("POST", "/v1/accounts/ZS0001/orders/%2E%2E:cancel", "order.order_id"),
    ],
)
def test_an_id_in_the_path_with_slashes_or_dots_fills_only_its_field_and_is_refused_by_name(
    fuzzing: Fuzzing, method: str, target: str, field: str
) -> None:
    assert _refusal(fuzzing.check(method, target, b"", {})) == (400, field)


@pytest.mark.parametrize(
    "target", ["/v1/accounts/ZS0001/../ZS0002/orders", "/v1/accounts/ZS0001/orders/../../../../metrics", "/v1/./x"]
)
def test_dot_segments_in_a_raw_path_route_nowhere_else(fuzzing: Fuzzing, target: str) -> None:
    answer = fuzzing.check("GET", target, b"", {})
    assert answer.status == 404 and "no API route" in json.loads(answer.body)["message"]


def test_a_crlf_in_an_id_or_symbol_adds_no_header_and_no_server_sent_event(fuzzing: Fuzzing) -> None:
    answer = fuzzing.check("GET", "/v1/accounts/ZS0001%0D%0ASet-Cookie:%20a=1%0D%0A/orders", b"", {})
    assert _refusal(answer) == (400, "account_id") and "Set-Cookie" not in answer.headers
    symbol = quote('NSE:X\r\n\r\nevent: error\r\ndata: {"injected": 1}', safe="")
    answer = send(fuzzing.port, "GET", f"/v1/accounts/ZS0001/ticks?instruments.symbol={symbol}&mode=TICK_MODE_LTP")
    assert answer.status in (200, 400), answer.body
    if answer.status == 200:
        (line,) = answer.body.decode().splitlines()  # one event: one data line, whatever the symbol holds
        (status,) = json.loads(line.removeprefix("data: "))["started"]["statuses"]
        assert line.startswith("data: ") and "injected" in status["instrument"]["symbol"]


def test_a_market_status_at_the_calendars_last_instant_is_refused_by_name_not_an_internal_error(
    fuzzing: Fuzzing,
) -> None:
    answer = fuzzing.check("GET", "/v1/marketStatus?at=9999-12-31T23:59:59Z", b"", {})  # IST's 10000-01-01: a 500
    assert _refusal(answer) == (400, "at")
    assert fuzzing.check("GET", "/v1/marketStatus?at=9999-12-31T18:29:59Z", b"", {}).status == 200  # IST's last second


def test_a_get_of_a_thousand_symbols_fits_the_request_line(fuzzing: Fuzzing) -> None:
    symbols = ",".join(["NSE:INFY", "NSE:TCS"] * 500)  # about 8 KiB: aiohttp's default line limit answered 400 as text
    answer = send(fuzzing.port, "GET", f"/api/v1/market/ltp?account_id=ZS0001&symbols={symbols}")
    assert answer.status == 200 and len(json.loads(answer.body)["prices"]) == 1000


def test_a_compressed_body_is_bounded_by_what_it_unpacks_to_not_what_was_sent(fuzzing: Fuzzing) -> None:
    bomb = gzip.compress(b'{"reason": "' + b"x" * (64 * 1024 * 1024) + b'"}')  # 64 MiB in about 64 KiB
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    answer = fuzzing.check("POST", "/v1/killSwitch", bomb, headers)
    assert answer.status == 413 and "at most 2097152 bytes of JSON" in json.loads(answer.body)["message"]


def _subscriptions(fuzzing: Fuzzing, account_id: str = "ZS0001") -> set[str]:
    listed = json.loads(send(fuzzing.port, "GET", f"/v1/accounts/{account_id}/subscriptions").body)
    return {s["subscription_id"] for s in listed["subscriptions"]}


def test_a_tick_stream_whose_http_caller_leaves_ends_its_grpc_call_and_subscription(fuzzing: Fuzzing) -> None:
    path = "/v1/accounts/ZS0001/ticks?instruments.symbol=NSE:INFY&mode=TICK_MODE_LTP&heartbeat_interval=1s"
    answer = send(fuzzing.port, "GET", path)  # reads the first event, then closes the connection
    started = json.loads(answer.body.decode().removeprefix("data: "))["started"]["subscription_id"]
    deadline = time.monotonic() + 15
    while started in _subscriptions(fuzzing):  # gone at the first heartbeat that finds no caller
        assert time.monotonic() < deadline, "the tick stream outlived its HTTP caller"
        time.sleep(0.01)
    ticks = fuzzing.threaded.runtime.tick_streams.find("ZS0001")
    assert ticks is None or started not in ticks.fanout.mailboxes


def test_no_stream_the_fuzzed_callers_opened_outlives_them(fuzzing: Fuzzing) -> None:
    """Run after the property (file order): every tick subscription and order-update listener that a
    fuzzed request opened ends once its caller has gone, at the stream's next heartbeat (5 s unless
    the request asked for up to 60 s)."""
    runtime = fuzzing.threaded.runtime
    deadline = time.monotonic() + 70
    while any(_subscriptions(fuzzing, a) for a in ACCOUNTS) or any(runtime.order_updates.listeners.values()):
        assert time.monotonic() < deadline, "a stream outlived its HTTP caller"
        time.sleep(0.05)
