"""Every reference response Zerodha publishes has the same shape (field names, JSON types,
nesting) as the simulator's answer to the same endpoint. A reference file the simulator does not
serve must be listed below with the reason."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from kite_simulator.threaded import ThreadedSimulator
from tests.simulator.conftest import MORNING, login, regular_hours

REFERENCE = Path(__file__).resolve().parents[4] / "shared" / "kite-reference"

NOT_SERVED = {
    "full_profile.json": "GET /user/profile/full is not in the Python client and the gateway does not use it",
    "holdings_compact.json": "a Go-client-only endpoint the gateway does not use",
    "holdings_summary.json": "a Go-client-only endpoint; the gateway computes the summary from holdings",
    "holdings_auth.json": "CDSL authorisation is a browser flow outside the API the gateway uses",
    "auctions_list.json": "auction holdings are not simulated",
    "ticker_full.json": "a decoded tick in the Go/JS clients' field names, not a server response "
    "(the packets are checked by test_ticker)",
    "ticker_quote.json": "as ticker_full.json",
    "ticker_ltp.json": "as ticker_full.json",
    "ticker_full.packet": "checked byte for byte by test_ticker",
    "ticker_quote.packet": "checked byte for byte by test_ticker",
    "postback.json": "checked against a captured postback by test_postbacks",
}


def reference_files() -> list[str]:
    index = REFERENCE / "INDEX.md"
    if not index.exists():
        return []
    return sorted(set(re.findall(r"^\| ([a-z_]+\.(?:json|csv|packet))", index.read_text(), re.MULTILINE)))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    kinds: dict[type, str] = {str: "string", dict: "object", list: "array"}
    return kinds.get(type(value), "null")


def shape_errors(references: list[Any], got: Any, path: str = "") -> list[str]:
    """How `got` differs in shape from the reference values that stand at the same place."""
    present = [r for r in references if r is not None]
    if not present or (got is None and len(present) < len(references)):
        return []
    kinds = {_kind(r) for r in present}
    if _kind(got) not in kinds:
        return [f"{path or '.'}: {_kind(got)} where the reference has {'/'.join(sorted(kinds))}"]
    if isinstance(got, dict):
        objects = [r for r in present if isinstance(r, dict)]
        required = set.intersection(*(set(o) for o in objects))
        errors = [f"{path}.{key}: missing" for key in sorted(required - set(got))]
        for key in sorted(set(got) & set().union(*objects)):
            errors += shape_errors([o[key] for o in objects if key in o], got[key], f"{path}.{key}")
        return errors
    if isinstance(got, list):
        items = [item for r in present if isinstance(r, list) for item in r]
        return [e for i, item in enumerate(got) for e in shape_errors(items, item, f"{path}[{i}]")] if items else []
    return []


def test_the_shape_check_catches_missing_fields_and_wrong_types() -> None:
    reference = {"a": 1, "b": {"c": "x"}, "d": [{"e": True}], "f": None}
    assert shape_errors([reference], {"a": 2.5, "b": {"c": "y"}, "d": [{"e": False}], "f": "z"}) == []
    assert shape_errors([reference], {"a": "1", "b": {}, "d": [{"e": 1}], "f": 1}) == [
        ".a: string where the reference has number",
        ".b.c: missing",
        ".d[0].e: number where the reference has boolean",
    ]


class Scenario:
    """One trading session through raw HTTP, recording the body of every endpoint."""

    def __init__(self, running: ThreadedSimulator) -> None:
        self.running = running
        self.sim = running.sim
        self.kite = login(running)
        self.headers = {"X-Kite-Version": "3", "Authorization": f"token {self.kite.api_key}:{self.kite.access_token}"}
        self.bodies: dict[str, Any] = {}

    def call(self, name: str | None, method: str, path: str, **kwargs: Any) -> Any:
        reply = requests.request(method, self.sim.api_url + path, headers=self.headers, timeout=30, **kwargs)
        assert reply.status_code == 200, f"{method} {path}: {reply.status_code} {reply.text}"
        if reply.headers["Content-Type"].startswith("text/csv"):
            body: Any = reply.text
        else:
            body = reply.json()
            assert body["status"] == "success"
        if name:
            self.bodies[name] = body
        return body

    def run(self) -> None:
        order = {
            "exchange": "NSE",
            "tradingsymbol": "INFY",
            "transaction_type": "BUY",
            "quantity": "2",
            "product": "CNC",
            "order_type": "MARKET",
            "market_protection": "-1",
        }
        filled = self.call("order_response.json", "POST", "/orders/regular", data=order)["data"]["order_id"]
        limit = {**order, "order_type": "LIMIT", "price": "1300", "product": "MIS", "market_protection": ""}
        resting = self.call(None, "POST", "/orders/regular", data=limit)["data"]["order_id"]
        self.call("order_modify.json", "PUT", f"/orders/regular/{resting}", data={"price": "1301"})
        self.call("order_info.json", "GET", f"/orders/{resting}")
        self.call("order_cancel.json", "DELETE", f"/orders/regular/{resting}")
        cheapest = min((i for i in self.sim.universe if i.name == "NIFTY" and i.instrument_type == "CE"),
                       key=lambda i: i.base_price)  # fmt: skip
        sliced = {**order, "exchange": "NFO", "tradingsymbol": cheapest.tradingsymbol, "product": "NRML",
                  "quantity": str(2 * cheapest.freeze_quantity), "autoslice": "true"}  # fmt: skip
        self.call("autoslice_response.json", "POST", "/orders/regular", data=sliced)
        self.call("orders.json", "GET", "/orders")
        self.call("trades.json", "GET", "/trades")
        self.call("order_trades.json", "GET", f"/orders/{filled}/trades")
        self.call("profile.json", "GET", "/user/profile")
        self.call("margins.json", "GET", "/user/margins")
        self.call("margins_equity.json", "GET", "/user/margins/equity")
        self.call("margin_commodity.json", "GET", "/user/margins/commodity")
        self.call("positions.json", "GET", "/portfolio/positions")
        convert = {
            "exchange": "NSE",
            "tradingsymbol": "INFY",
            "transaction_type": "BUY",
            "position_type": "day",
            "quantity": "1",
            "old_product": "CNC",
            "new_product": "MIS",
        }
        self.call("convert_position.json", "PUT", "/portfolio/positions", data=convert)
        self.call("holdings.json", "GET", "/portfolio/holdings")
        self.call("quote.json", "GET", "/quote", params={"i": "NSE:INFY"})
        self.call("ohlc.json", "GET", "/quote/ohlc", params={"i": "NSE:INFY"})
        self.call("ltp.json", "GET", "/quote/ltp", params={"i": "NSE:INFY"})
        self.call(
            "trigger_range.json", "GET", "/instruments/trigger_range/buy", params={"i": ["NSE:INFY", "NSE:RELIANCE"]}
        )
        window = {"from": f"{MORNING - timedelta(days=1):%Y-%m-%d} 09:15:00", "to": f"{MORNING:%Y-%m-%d} 10:00:00"}
        future = next(i for i in self.sim.universe if i.segment == "NFO-FUT")
        self.call("historical_minute.json", "GET", "/instruments/historical/408065/minute", params=window)
        self.call(
            "historical_oi.json",
            "GET",
            f"/instruments/historical/{future.instrument_token}/minute",
            params={**window, "oi": "1"},
        )
        self.call("instruments_all.csv", "GET", "/instruments")
        self.call("instruments_nse.csv", "GET", "/instruments/NSE")
        basket = [
            {**order, "variety": "regular", "quantity": 1, "price": 0, "trigger_price": 0, "market_protection": -1}
        ]
        self.call("order_margins.json", "POST", "/margins/orders", json=basket)
        self.call("basket_margins.json", "POST", "/margins/basket", json=basket, params={"consider_positions": "true"})
        note = [{**basket[0], "order_id": "1", "average_price": 1500}]
        self.call("virtual_contract_note.json", "POST", "/charges/orders", json=note)
        self._gtts()
        self.call(
            "session_logout.json",
            "DELETE",
            "/session/token",
            params={"api_key": self.kite.api_key, "access_token": self.kite.access_token},
        )
        self.bodies["generate_session.json"] = self._raw_session()

    def _gtts(self) -> None:
        price = self.running.call(lambda: self.sim.engine.quote(self.sim.universe.by_symbol["NSE:INFY"]).last_price)
        low, high = (price * 99 / 100).quantize(price), (price * 101 / 100).quantize(price)
        legs = [
            {"transaction_type": "SELL", "quantity": 1, "order_type": "LIMIT", "product": "CNC", "price": float(p)}
            for p in (low, high)
        ]
        condition = {
            "exchange": "NSE",
            "tradingsymbol": "INFY",
            "trigger_values": [float(low), float(high)],
            "last_price": float(price),
        }
        form = {"type": "two-leg", "condition": json.dumps(condition), "orders": json.dumps(legs)}
        gtt = self.call("gtt_place_order.json", "POST", "/gtt/triggers", data=form)["data"]["trigger_id"]
        self.call("gtt_modify_order.json", "PUT", f"/gtt/triggers/{gtt}", data=form)
        for _ in range(6 * 60):  # until the price crosses one of the triggers
            self.running.advance(60)
            if self.call(None, "GET", f"/gtt/triggers/{gtt}")["data"]["status"] == "triggered":
                break
        triggered = self.call("gtt_get_order.json", "GET", f"/gtt/triggers/{gtt}")["data"]
        assert triggered["status"] == "triggered" and any(o["result"] for o in triggered["orders"])
        spare = self.call(None, "POST", "/gtt/triggers", data=form)["data"]["trigger_id"]
        self.call("gtt_get_orders.json", "GET", "/gtt/triggers")
        self.call("gtt_delete_order.json", "DELETE", f"/gtt/triggers/{spare}")

    def _raw_session(self) -> Any:
        from urllib.parse import parse_qs, urlparse

        from kite_wire.checksums import session_checksum

        location = requests.get(f"{self.sim.login_url()}&user_id=ZS0002", allow_redirects=False, timeout=10)
        token = parse_qs(urlparse(location.headers["Location"]).query)["request_token"][0]
        form = {
            "api_key": self.sim.app.api_key,
            "request_token": token,
            "checksum": session_checksum(self.sim.app.api_key, token, self.sim.app.api_secret),
        }
        reply = requests.post(
            self.sim.api_url + "/session/token", data=form, headers={"X-Kite-Version": "3"}, timeout=10
        )
        assert reply.status_code == 200, reply.text
        return reply.json()


@pytest.fixture(scope="module")
def bodies() -> Iterator[dict[str, Any]]:
    with ThreadedSimulator(regular_hours()) as running:
        scenario = Scenario(running)
        scenario.run()
        yield scenario.bodies


FILES = reference_files()


@pytest.mark.skipif(not FILES, reason=f"{REFERENCE} not found: the shared reference material is not beside the project")
@pytest.mark.parametrize("name", FILES or ["(none)"])
def test_the_simulator_answers_in_the_shape_of_the_reference(name: str, bodies: dict[str, Any]) -> None:
    if name in NOT_SERVED:
        pytest.skip(f"{name}: {NOT_SERVED[name]}")
    assert name in bodies, f"{name}: a reference file with no scenario call and no NOT_SERVED reason"
    reference_text = (REFERENCE / name).read_text()
    if name.endswith(".csv"):
        header = next(csv.reader(io.StringIO(reference_text)))
        assert next(csv.reader(io.StringIO(bodies[name]))) == header
        return
    assert shape_errors([json.loads(reference_text)], bodies[name]) == []
