"""The API as HTTP/JSON on the HTTP listener, with a real HTTP client against a paper gateway: the
Google-style paths and the seed platform's /api/v1 paths, bearer auth with the gRPC principals,
google.rpc.Status errors under their HTTP statuses, server-sent events and JSON lines for the
streams, and /openapi.json."""

from __future__ import annotations

import json
import signal
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests

from kite_gateway.app import App
from kite_gateway.grpc.server import Gateway
from kite_gateway.http import HttpEndpoints, internal_socket_path, published_document, remove_internal_socket
from kite_gateway.paper import log_in_demo_accounts
from kite_simulator import Fault, ThreadedSimulator
from tests.conftest import GatewayProcess, free_port
from tests.e2e.conftest import eventually, make_settings
from tests.e2e.test_auth import PRINCIPALS, TOKENS
from tests.simulator.conftest import MORNING

ACCOUNT = "ZS0001"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


@dataclass
class Http:
    sim: ThreadedSimulator
    runtime: App
    base: str
    client: aiohttp.ClientSession

    def url(self, path: str) -> str:
        return self.base + path

    async def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {TOKENS[token]}"} if token else {}
        async with self.client.request(method, self.url(path), headers=headers, **kwargs) as response:
            text = await response.text()
            return response.status, json.loads(text) if text else None


async def _serve(tmp_path: Path, sim: ThreadedSimulator, key: bytes, **overrides: Any) -> AsyncIterator[Http]:
    settings = make_settings(tmp_path, sim, key, **overrides)
    settings.gateway_data_dir.mkdir(parents=True, exist_ok=True)
    runtime = await App.open(settings, now=sim.clock.now)
    socket = internal_socket_path(settings.gateway_data_dir)
    gateway = Gateway(settings, runtime.servicers(), internal_socket=socket)
    await gateway.start()
    await log_in_demo_accounts(sim, runtime.accounts)
    http: HttpEndpoints = runtime.http_endpoints("127.0.0.1", 0, api=(gateway.service_names, f"unix:{socket}"))
    await http.start()
    try:
        async with aiohttp.ClientSession() as client:
            yield Http(sim, runtime, f"http://127.0.0.1:{http.port}", client)
    finally:
        await http.stop()
        await gateway.stop(0)
        await runtime.close()
        remove_internal_socket(socket, settings.gateway_data_dir)


@pytest.fixture
async def api(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> AsyncIterator[Http]:
    async for running in _serve(tmp_path, sim, sealing_key):
        yield running


@pytest.fixture
async def secured(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> AsyncIterator[Http]:
    async for running in _serve(tmp_path, sim, sealing_key, gateway_auth_principals=PRINCIPALS):
        yield running


def order(client_order_id: str, **params: Any) -> dict[str, Any]:
    return {
        "client_order_id": client_order_id,
        "params": {
            "instrument": {"symbol": "NSE:INFY"},
            "transaction_type": "TRANSACTION_TYPE_BUY",
            "variety": "VARIETY_REGULAR",
            "order_type": "ORDER_TYPE_MARKET",
            "product": "PRODUCT_CNC",
            "quantity": 1,
            **params,
        },
    }


def resting_limit(http: Http, client_order_id: str) -> tuple[Decimal, dict[str, Any]]:
    price = http.sim.quote("NSE:INFY").last_price - 40
    body = order(client_order_id, order_type="ORDER_TYPE_LIMIT", product="PRODUCT_MIS", price={"value": str(price)})
    return price, body


def detail(status: dict[str, Any], type_url: str) -> dict[str, Any]:
    return next(d for d in status["details"] if d["@type"] == type_url)


async def test_an_order_is_placed_modified_cancelled_and_listed_on_the_google_style_paths(api: Http) -> None:
    price, body = resting_limit(api, "http-1")
    status, placed = await api.call("POST", f"/v1/accounts/{ACCOUNT}/orders", json=body)
    assert status == 200 and placed["client_order_id"] == "http-1" and placed["replayed"] is False
    order_id = placed["order_id"]
    new_price = str(price - Decimal("0.5"))
    status, modified = await api.call(
        "PATCH", f"/v1/accounts/{ACCOUNT}/orders/{order_id}", json={"price": {"value": new_price}}
    )
    assert (status, modified) == (200, {"order_id": order_id})
    status, listed = await api.call("GET", f"/v1/accounts/{ACCOUNT}/orders?statuses=ORDER_STATUS_OPEN")
    (open_order,) = [o for o in listed["orders"] if o["order_id"] == order_id]
    assert Decimal(open_order["price"]["value"]) == Decimal(new_price)
    status, cancelled = await api.call("POST", f"/v1/accounts/{ACCOUNT}/orders/{order_id}:cancel")
    assert (status, cancelled) == (200, {"order_id": order_id})
    status, again = await api.call("POST", f"/v1/accounts/{ACCOUNT}/orders/{order_id}:cancel")
    assert status == 400 and again["code"] == 9 and "already CANCELLED" in again["message"]  # FAILED_PRECONDITION


async def test_the_seed_platforms_trading_paths_take_the_account_from_the_body_or_query(api: Http) -> None:
    price, body = resting_limit(api, "seed-1")
    status, placed = await api.call("POST", "/api/v1/trading/orders/place", json={"account_id": ACCOUNT, **body})
    assert status == 200
    order_id = placed["order_id"]
    new_price = str(price - 1)
    status, _ = await api.call(
        "PUT",
        f"/api/v1/trading/orders/{order_id}/modify",
        json={"account_id": ACCOUNT, "quantity": "2", "price": new_price},  # a bare decimal string
    )
    assert status == 200
    (at_kite,) = [o for o in api.sim.orders(ACCOUNT) if o["order_id"] == order_id]
    assert (at_kite["quantity"], Decimal(str(at_kite["price"]))) == (2, Decimal(new_price))
    status, _ = await api.call("DELETE", f"/api/v1/trading/orders/{order_id}/cancel?account_id={ACCOUNT}")
    assert status == 200
    status, listed = await api.call("GET", f"/api/v1/trading/orders?account_id={ACCOUNT}")
    (final,) = [o for o in listed["orders"] if o["order_id"] == order_id]
    assert final["status"] == "ORDER_STATUS_CANCELLED"
    status, replay = await api.call("POST", "/api/v1/trading/orders/place", json={"account_id": ACCOUNT, **body})
    assert status == 200 and replay == {**placed, "replayed": True}


async def test_the_seed_platforms_portfolio_market_and_account_paths_answer(api: Http) -> None:
    status, _ = await api.call("POST", "/api/v1/trading/orders/place", json={"account_id": ACCOUNT, **order("buy-1")})
    assert status == 200
    status, positions = await api.call("GET", f"/api/v1/trading/positions?account_id={ACCOUNT}")
    assert status == 200 and any(p["symbol"] == "NSE:INFY" for p in positions["net"])
    status, holdings = await api.call("GET", f"/api/v1/trading/holdings?account_id={ACCOUNT}")
    assert status == 200 and isinstance(holdings["holdings"], list)
    status, ltp = await api.call("GET", f"/api/v1/market/ltp?account_id={ACCOUNT}&symbols=NSE:INFY,NSE:TCS")
    assert status == 200 and [p["symbol"] for p in ltp["prices"]] == ["NSE:INFY", "NSE:TCS"]
    assert Decimal(ltp["prices"][0]["last_price"]["value"]) > 0
    start, end = (MORNING - timedelta(days=3)).isoformat(), MORNING.isoformat()
    historical = {
        "account_id": ACCOUNT,
        "instrument": {"symbol": "NSE:INFY"},
        "interval": "CANDLE_INTERVAL_DAY",
        "start_time": start,
        "end_time": end,
    }
    status, candles = await api.call("POST", "/api/v1/market/historical", json=historical)
    assert status == 200 and candles["candles"] and Decimal(candles["candles"][0]["ohlc"]["close"]["value"]) > 0
    status, found = await api.call("GET", f"/api/v1/market/instruments/search?account_id={ACCOUNT}&query=infy")
    assert status == 200 and found["instruments"][0]["tradingsymbol"] == "INFY"
    status, profile = await api.call("GET", f"/api/v1/accounts/profile?account_id={ACCOUNT}")
    assert status == 200 and profile["profile"]["account_id"] == ACCOUNT
    status, margins = await api.call("GET", f"/api/v1/accounts/margins?account_id={ACCOUNT}")
    assert status == 200 and margins["equity"]["enabled"] is True
    status, health = await api.call("GET", "/api/v1/health/kite")
    assert status == 200 and {a["account_id"]: a["session_state"] for a in health["accounts"]}[ACCOUNT] == (
        "SESSION_STATE_ACTIVE"
    )


async def test_a_bad_body_is_400_naming_the_field_with_typed_details(api: Http) -> None:
    body = order("bad-1", quantity="lots")
    status, error = await api.call("POST", f"/v1/accounts/{ACCOUNT}/orders", json=body)
    assert status == 400 and error["code"] == 3
    assert detail(error, BAD_REQUEST)["field_violations"][0]["field"] == "params.quantity"
    assert detail(error, ERROR_INFO)["reason"] == "INVALID_FIELD"
    status, error = await api.call("POST", f"/v1/accounts/{ACCOUNT}/orders", json=order("bad-2", order_type="SOON"))
    assert status == 400 and detail(error, BAD_REQUEST)["field_violations"][0]["field"] == "params.order_type"
    status, error = await api.call("POST", f"/v1/accounts/{ACCOUNT}/orders", data=b"{not json")
    assert status == 400 and detail(error, BAD_REQUEST)["field_violations"][0]["field"] == "body"


async def test_the_gateways_own_validation_and_not_found_errors_come_through_unchanged(api: Http) -> None:
    status, error = await api.call("POST", f"/v1/accounts/{ACCOUNT}/orders", json=order(""))
    assert status == 400 and detail(error, BAD_REQUEST)["field_violations"][0]["field"] == "client_order_id"
    status, error = await api.call("GET", "/v1/accounts/NOSUCH1/orders")
    assert status == 404 and detail(error, ERROR_INFO)["reason"] == "ACCOUNT_NOT_FOUND"
    assert detail(error, ERROR_INFO)["metadata"] == {"account_id": "NOSUCH1"}
    status, _ = await api.call("POST", f"/v1/accounts/{ACCOUNT}/orders", json=order("dup-1"))
    status, error = await api.call("POST", f"/v1/accounts/{ACCOUNT}/orders", json=order("dup-1", quantity=2))
    assert status == 409 and detail(error, ERROR_INFO)["reason"] == "IDEMPOTENCY_KEY_REUSED"


async def test_kites_rate_limit_is_429_and_an_unavailable_kite_503(api: Http) -> None:
    api.sim.faults.add(Fault("POST", "/orders/*", "error", http_status=429, message="Too many requests"))
    async with api.client.post(api.url(f"/v1/accounts/{ACCOUNT}/orders"), json=order("throttled")) as response:
        error = await response.json()
        assert response.status == 429 and response.headers["Retry-After"] == "1"
    assert detail(error, ERROR_INFO)["reason"] == "KITE_RATE_LIMITED"
    assert detail(error, "type.googleapis.com/google.rpc.RetryInfo")["retry_delay"] == "1s"
    api.sim.faults.add(Fault("GET", "/user/margins*", "error", times=10, http_status=503, message="Unavailable"))
    status, error = await api.call("GET", f"/v1/accounts/{ACCOUNT}/margins")
    assert status == 503 and error["code"] == 14 and detail(error, ERROR_INFO)["reason"] == "KITE_UNAVAILABLE"


async def test_unknown_paths_wrong_methods_and_oversized_bodies_are_refused_as_json(api: Http) -> None:
    status, error = await api.call("GET", "/v1/nothing/here")
    assert status == 404 and "openapi.json" in error["message"]
    async with api.client.delete(api.url(f"/v1/accounts/{ACCOUNT}/orders")) as response:
        assert response.status == 405 and response.headers["Allow"] == "GET, POST"
    huge = b'{"client_order_id": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    status, error = await api.call("POST", f"/v1/accounts/{ACCOUNT}/orders", data=huge)
    assert status == 413 and "bytes" in error["message"]
    status, error = await api.call("GET", f"/v1/accounts/{ACCOUNT}/orders?bogus=1")
    assert status == 400 and detail(error, BAD_REQUEST)["field_violations"][0]["field"] == "bogus"
    headers = {"Authorization": "Bearer t\u00f6ken"}
    async with api.client.get(api.url(f"/v1/accounts/{ACCOUNT}/orders"), headers=headers) as response:
        error = await response.json()
        assert response.status == 400
        assert detail(error, BAD_REQUEST)["field_violations"][0]["field"] == "authorization"


async def test_with_principals_no_token_is_401_another_accounts_token_403_and_the_right_one_works(
    secured: Http,
) -> None:
    status, error = await secured.call("GET", f"/v1/accounts/{ACCOUNT}/orders")
    assert status == 401 and detail(error, ERROR_INFO)["reason"] == "CALLER_UNAUTHENTICATED"
    assert "Bearer" in error["message"]
    status, error = await secured.call("POST", f"/v1/accounts/{ACCOUNT}/orders", "reader", json=order("auth-1"))
    assert status == 403 and detail(error, ERROR_INFO)["reason"] == "ACCOUNT_ACCESS_DENIED"
    status, placed = await secured.call("POST", f"/v1/accounts/{ACCOUNT}/orders", "trader", json=order("auth-1"))
    assert status == 200 and placed["order_id"]
    status, listed = await secured.call("GET", f"/api/v1/trading/orders?account_id={ACCOUNT}", "reader")
    assert status == 200 and [o["order_id"] for o in listed["orders"]] == [placed["order_id"]]
    status, error = await secured.call("GET", "/api/v1/trading/orders?account_id=ZS0002", "reader")
    assert status == 403


async def _events(response: aiohttp.ClientResponse, count: int) -> list[tuple[str, dict[str, Any]]]:
    """The first `count` server-sent events: (event type, data)."""
    found: list[tuple[str, dict[str, Any]]] = []
    event = ""
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            found.append((event, json.loads(line.removeprefix("data: "))))
            event = ""
            if len(found) == count:
                break
    return found


async def test_order_updates_stream_as_server_sent_events_replaying_then_live(api: Http) -> None:
    status, placed = await api.call("POST", f"/v1/accounts/{ACCOUNT}/orders", json=order("sse-1"))
    assert status == 200
    path = f"/v1/accounts/{ACCOUNT}/orderUpdates?after_sequence=0&heartbeat_interval=1s"
    async with api.client.get(api.url(path)) as response:
        assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
        events, replayed, complete = [], False, False
        async for event in _stream(response):  # the fill may be stored before the call or after (live)
            events.append(event)
            replayed = replayed or "replay_complete" in event[1]
            complete = complete or event[1].get("update", {}).get("order", {}).get("status") == "ORDER_STATUS_COMPLETE"
            if replayed and complete:
                break
    assert replayed
    updates = [data["update"] for kind, data in events if "update" in data]
    assert all(kind == "" for kind, _ in events)
    assert {u["order"]["order_id"] for u in updates} == {placed["order_id"]}
    assert [int(u["sequence"]) for u in updates] == list(range(1, len(updates) + 1))
    assert updates[-1]["order"]["status"] == "ORDER_STATUS_COMPLETE"


async def test_a_caller_that_leaves_a_stream_ends_its_call(api: Http) -> None:
    listeners = api.runtime.order_updates.listeners
    path = f"/v1/accounts/{ACCOUNT}/orderUpdates?heartbeat_interval=1s"
    async with api.client.get(api.url(path)) as response:
        ((_, first),) = await _events(response, 1)
        assert "replay_complete" in first and len(listeners[ACCOUNT]) == 1
    await eventually(lambda: not listeners.get(ACCOUNT), "the stream's subscription was closed")


async def _stream(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    while True:
        (event,) = await _events(response, 1)
        yield event


async def test_ticks_stream_as_json_lines_when_asked_and_start_with_the_subscription(api: Http) -> None:
    path = f"/v1/accounts/{ACCOUNT}/ticks?instruments.symbol=NSE:INFY&mode=TICK_MODE_LTP"
    async with api.client.get(api.url(path), headers={"Accept": "application/x-ndjson"}) as response:
        assert response.status == 200 and response.headers["Content-Type"] == "application/x-ndjson"
        first = json.loads(await response.content.readline())
        assert first["result"]["started"]["subscription_id"]
        while "ticks" not in (line := json.loads(await response.content.readline()))["result"]:
            pass
    (tick, *_) = line["result"]["ticks"]["ticks"]
    assert tick["symbol"] == "NSE:INFY" and Decimal(tick["last_price"]["value"]) > 0


async def test_a_tick_stream_opened_over_http_is_changed_by_update_subscription_over_http(api: Http) -> None:
    path = f"/v1/accounts/{ACCOUNT}/ticks?instruments.symbol=NSE:INFY&mode=TICK_MODE_LTP"
    async with api.client.get(api.url(path)) as response:
        ((_, started),) = await _events(response, 1)
        subscription = started["started"]["subscription_id"]
        status, changed = await api.call(
            "POST",
            f"/v1/accounts/{ACCOUNT}/subscriptions/{subscription}:update",
            json={"add": [{"symbol": "NSE:TCS"}], "mode": "TICK_MODE_LTP"},
        )
        assert status == 200
        async for _, data in _stream(response):
            if "changed" in data:
                break
    assert [s["instrument"]["symbol"] for s in data["changed"]["statuses"]] == ["NSE:TCS"]
    assert changed["statuses"] == data["changed"]["statuses"]


async def test_a_stream_refused_at_once_answers_with_its_http_status_not_an_event(secured: Http) -> None:
    status, error = await secured.call("GET", f"/v1/accounts/{ACCOUNT}/orderUpdates")
    assert status == 401 and detail(error, ERROR_INFO)["reason"] == "CALLER_UNAUTHENTICATED"
    status, error = await secured.call("GET", "/v1/accounts/ZS0002/ticks?instruments.symbol=NSE:INFY", "reader")
    assert status == 403


async def test_the_openapi_document_is_served_as_published(api: Http) -> None:
    async with api.client.get(api.url("/openapi.json")) as response:
        assert response.status == 200 and response.content_type == "application/json"
        assert await response.read() == published_document()


def _paper_gateway(tmp_path: Path, http_listen: str, *args: str) -> GatewayProcess:
    paper = f"127.0.0.1:{free_port()}"
    proc = GatewayProcess(tmp_path, "--paper", "--paper-listen", paper, "--http-listen", http_listen, *args)
    proc.wait_serving()
    return proc


def _logged_events(proc: GatewayProcess) -> list[dict[str, Any]]:
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.proc.wait(timeout=15) == 0
    return [json.loads(line) for line in proc.proc.stderr.read().splitlines()]  # type: ignore[union-attr]


def test_serve_paper_answers_http_json_through_its_private_socket_and_removes_it_on_exit(tmp_path: Path) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="kg-") as short:  # a data directory short enough for a socket
        data = Path(short) / "data"
        proc = _paper_gateway(tmp_path, f"127.0.0.1:{port}", "--data-dir", str(data))
        try:
            query = {"account_id": ACCOUNT, "symbols": "NSE:INFY"}
            answer = requests.get(f"http://127.0.0.1:{port}/api/v1/market/ltp", params=query, timeout=10)
            assert answer.status_code == 200 and answer.json()["prices"][0]["symbol"] == "NSE:INFY"
            (socket,) = [p for p in data.iterdir() if p.is_socket()]
            assert socket.stat().st_mode & 0o777 == 0o600
            _logged_events(proc)
            assert not socket.exists()
        finally:
            proc.stop()


def test_serve_without_principals_keeps_the_api_off_a_non_loopback_http_listener(tmp_path: Path) -> None:
    port = free_port()
    proc = _paper_gateway(tmp_path, f"0.0.0.0:{port}")
    try:
        answer = requests.get(f"http://127.0.0.1:{port}/v1/accounts/{ACCOUNT}/ltp", timeout=10)
        assert answer.status_code == 404 and not answer.headers["Content-Type"].startswith("application/json")
        assert requests.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10).status_code == 404
        events = _logged_events(proc)
        (refusal,) = [e for e in events if e["event"] == "http.api_not_served"]
        assert "without caller authentication" in refusal["reason"]
    finally:
        proc.stop()


async def test_kite_alerts_are_created_read_and_deleted_on_their_google_style_paths(api: Http) -> None:
    params = {"name": "http watch", "type": "KITE_ALERT_TYPE_SIMPLE", "instrument": {"symbol": "NSE:INFY"},
              "attribute": "KITE_ALERT_ATTRIBUTE_LAST_PRICE", "operator": "KITE_ALERT_OPERATOR_GREATER_EQUAL",
              "constant": {"value": "999999"}}  # fmt: skip
    made = []
    for _ in range(2):
        status, created = await api.call("POST", f"/v1/accounts/{ACCOUNT}/kite-alerts", json={"params": params})
        assert status == 200 and created["alert"]["status"] == "KITE_ALERT_STATUS_ENABLED", created
        made.append(created["alert"]["alert_id"])
    status, got = await api.call("GET", f"/v1/accounts/{ACCOUNT}/kite-alerts/{made[0]}")
    assert status == 200 and got["alert"]["params"]["constant"] == {"value": "999999"}
    status, history = await api.call("GET", f"/v1/accounts/{ACCOUNT}/kite-alerts/{made[0]}/history")
    assert status == 200 and history.get("triggers", []) == []
    ids = "&".join(f"alert_ids={a}" for a in made)
    status, deleted = await api.call("DELETE", f"/v1/accounts/{ACCOUNT}/kite-alerts?{ids}")
    assert status == 200 and deleted["alert_ids"] == made, deleted
    status, listed = await api.call("GET", f"/v1/accounts/{ACCOUNT}/kite-alerts?status=KITE_ALERT_STATUS_DELETED")
    assert status == 200 and sorted(a["alert_id"] for a in listed["alerts"]) == sorted(made)
