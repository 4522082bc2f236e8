"""The simulator's `/alerts`: Kite's envelope and error shapes, soft deletion with repeated `uuid`
parameters, paging, and alerts that trigger on the simulator's own prices (an ATO alert placing its
basket)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
import requests
from kiteconnect import KiteConnect

from kite_simulator.threaded import ThreadedSimulator


def call(kite: KiteConnect, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    headers = {"X-Kite-Version": "3", "Authorization": f"token {kite.api_key}:{kite.access_token}"}
    reply = requests.request(method, kite.root + path, headers=headers, timeout=5, **kwargs)
    return reply.status_code, reply.json()


def infy_price(threaded: ThreadedSimulator) -> Decimal:
    return threaded.quote("NSE:INFY").last_price


def simple(operator: str, constant: Decimal, **extra: str) -> dict[str, str]:
    return {"name": "infy", "type": "simple", "lhs_exchange": "NSE", "lhs_tradingsymbol": "INFY",
            "lhs_attribute": "LastTradedPrice", "operator": operator, "rhs_type": "constant",
            "rhs_constant": str(constant), **extra}  # fmt: skip


def basket(quantity: int = 2) -> str:
    item = {"type": "insert", "exchange": "NSE", "tradingsymbol": "INFY", "weight": 10000,
            "params": {"transaction_type": "BUY", "product": "CNC", "order_type": "MARKET", "quantity": quantity,
                       "variety": "regular", "validity": "DAY"}}  # fmt: skip
    return json.dumps({"name": "b", "type": "alert", "tags": [], "items": [item]})


def test_an_alert_is_created_read_listed_modified_and_soft_deleted(
    kite: KiteConnect, threaded: ThreadedSimulator
) -> None:
    far = infy_price(threaded) * 3
    status, body = call(kite, "POST", "/alerts", data=simple(">=", far))
    assert status == 200 and body["status"] == "success"
    alert = body["data"]
    assert (alert["status"], alert["operator"], alert["rhs_constant"], alert["alert_count"]) == (
        "enabled",
        ">=",
        float(far) if far % 1 else int(far),
        0,
    )
    assert call(kite, "GET", f"/alerts/{alert['uuid']}")[1]["data"]["uuid"] == alert["uuid"]
    second = call(kite, "POST", "/alerts", data=simple("<=", Decimal(1)))[1]["data"]
    assert [a["uuid"] for a in call(kite, "GET", "/alerts")[1]["data"]] == [second["uuid"], alert["uuid"]]
    assert [a["uuid"] for a in call(kite, "GET", "/alerts", params={"page": 2, "page_size": 1})[1]["data"]] == [
        alert["uuid"]
    ]
    modified = call(kite, "PUT", f"/alerts/{alert['uuid']}", data=simple(">", far + 1))[1]["data"]
    assert modified["operator"] == ">" and modified["uuid"] == alert["uuid"]
    status, body = call(kite, "DELETE", "/alerts", params=[("uuid", alert["uuid"]), ("uuid", second["uuid"])])
    assert (status, body) == (200, {"status": "success", "data": None})
    deleted = call(kite, "GET", "/alerts", params={"status": "deleted"})[1]["data"]
    assert {a["uuid"] for a in deleted} == {alert["uuid"], second["uuid"]}
    assert call(kite, "GET", "/alerts", params={"status": "enabled"})[1]["data"] == []


@pytest.mark.parametrize(
    ("change", "named"),
    [({"operator": "=<"}, "`operator`"), ({"lhs_tradingsymbol": ""}, "`lhs_tradingsymbol`"),
     ({"type": "later"}, "`type`"), ({"rhs_constant": "x"}, "`rhs_constant`"),
     ({"lhs_attribute": "Price"}, "`lhs_attribute`"), ({"type": "ato"}, "`basket`")],
)  # fmt: skip
def test_a_bad_alert_field_is_an_input_exception_naming_it(
    kite: KiteConnect, change: dict[str, str], named: str
) -> None:
    status, body = call(kite, "POST", "/alerts", data={**simple("<=", Decimal(100)), **change})
    assert status == 400 and body["error_type"] == "InputException" and named in body["message"]


def test_an_unknown_alert_is_not_found_for_every_call(kite: KiteConnect) -> None:
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/alerts/nope", {}),
        ("PUT", "/alerts/nope", {"data": simple("<", Decimal(1))}),
        ("GET", "/alerts/nope/history", {}),
        ("DELETE", "/alerts", {"params": {"uuid": "nope"}}),
    ]
    for method, path, extra in calls:
        status, body = call(kite, method, path, **extra)
        assert (status, body["status"], body["error_type"]) == (404, "error", "GeneralException"), (method, path)


def test_a_crossed_alert_triggers_once_and_records_the_condition_and_quote(
    kite: KiteConnect, threaded: ThreadedSimulator
) -> None:
    price = infy_price(threaded)
    alert = call(kite, "POST", "/alerts", data=simple("<=", price * 2))[1]["data"]
    untouched = call(kite, "POST", "/alerts", data=simple(">=", price * 2))[1]["data"]
    threaded.advance(120)
    got = call(kite, "GET", f"/alerts/{alert['uuid']}")[1]["data"]
    assert (got["status"], got["disabled_reason"], got["alert_count"]) == ("disabled", "triggered", 1)
    (entry,) = call(kite, "GET", f"/alerts/{alert['uuid']}/history")[1]["data"]
    assert entry["condition"].startswith('LastTradedPrice("NSE:INFY") <= ') and entry["order_meta"] is None
    assert entry["meta"][0]["tradingsymbol"] == "INFY" and Decimal(str(entry["meta"][0]["last_price"])) <= price * 2
    assert call(kite, "GET", f"/alerts/{untouched['uuid']}/history")[1]["data"] == []


def test_a_triggered_ato_alert_places_its_basket(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    before = {o["order_id"] for o in kite.orders()}
    created = call(kite, "POST", "/alerts", data={**simple(">", Decimal(0), type="ato"), "basket": basket(3)})[1][
        "data"
    ]
    assert created["basket"]["items"][0]["instrument_token"] == 408065
    threaded.advance(120)
    (entry,) = call(kite, "GET", f"/alerts/{created['uuid']}/history")[1]["data"]
    (result,) = entry["order_meta"]
    placed = [o for o in kite.orders() if o["order_id"] not in before]
    assert result["status"] == "success" and [o["order_id"] for o in placed] == [result["order_id"]]
    assert (placed[0]["tradingsymbol"], placed[0]["quantity"], placed[0]["transaction_type"]) == ("INFY", 3, "BUY")
