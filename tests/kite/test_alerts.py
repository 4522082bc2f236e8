"""The typed alerts adapter: an AlertSpec sent as Kite's form (the ATO basket a JSON string, the
constant as exact text), Kite's JSON read into typed rows with exact decimals, alert ids checked
before they go into a URL, and the raw client methods working against the simulator (including a
DELETE of several alerts by repeated `uuid`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest

from kite_gateway.errors import GatewayError, Status
from kite_gateway.kite.alerts import AlertSpec, BasketOrder, alert_history_row, alert_row
from kite_gateway.kite.client import GatewayKiteConnect
from kite_gateway.kite.paths import check_call
from kite_simulator.threaded import ThreadedSimulator
from tests.simulator.conftest import login, regular_hours


def spec(kind: str = "simple") -> AlertSpec:
    basket = (BasketOrder("NSE", "INFY", "BUY", 2, "CNC", "LIMIT", Decimal("1399.05")),) if kind == "ato" else ()
    return AlertSpec("dip", kind, "NSE", "INFY", "LastTradedPrice", "<=", "constant", Decimal("1400.10"), basket=basket)


def test_a_simple_alert_is_sent_with_its_constant_as_exact_text_and_no_basket() -> None:
    form = spec().kite_form()
    assert form["rhs_constant"] == "1400.10" and form["operator"] == "<=" and "basket" not in form


def test_an_ato_alert_sends_its_basket_as_one_json_field() -> None:
    (item,) = json.loads(spec("ato").kite_form()["basket"])["items"]
    assert (item["tradingsymbol"], item["params"]["quantity"], item["params"]["price"]) == ("INFY", 2, 1399.05)


def test_kite_rows_read_into_exact_decimals() -> None:
    row = alert_row({"uuid": "ab-1", "type": "ato", "status": "enabled", "rhs_constant": 1400.1, "alert_count": 2,
                     "created_at": "2026-11-25 10:30:00",
                     "basket": {"items": [{"exchange": "NSE", "tradingsymbol": "INFY",
                                           "params": {"quantity": 2, "price": 1399.05}}]}})  # fmt: skip
    assert row.rhs_constant == Decimal("1400.1") and row.basket[0].price == Decimal("1399.05")
    assert row.created_at is not None and row.alert_count == 2
    quote = {"exchange": "NSE", "tradingsymbol": "INFY", "last_price": 1400.05}
    history = alert_history_row(
        {"uuid": "ab-1", "order_meta": [{"order_id": "1", "status": "success"}], "meta": [quote]}
    )
    assert history.orders[0].order_id == "1" and history.quotes[0].last_price == Decimal("1400.05")


@pytest.mark.parametrize("bad", ["../orders", "", "ab/cd", "x" * 65])
def test_an_alert_id_that_could_change_the_url_is_refused_before_sending(bad: str) -> None:
    with pytest.raises(GatewayError) as caught:
        check_call("get_alert", (bad,), {})
    assert caught.value.code == Status.INVALID_ARGUMENT and "alert_uuid" in caught.value.message


@pytest.fixture
def threaded() -> Iterator[ThreadedSimulator]:
    with ThreadedSimulator(regular_hours()) as running:
        yield running


def test_the_raw_alert_methods_work_against_the_simulator(threaded: ThreadedSimulator) -> None:
    plain = login(threaded)
    kite = GatewayKiteConnect(api_key=plain.api_key, access_token=plain.access_token, root=plain.root)
    made = [kite.create_alert(**spec().kite_form()) for _ in range(2)]
    assert kite.get_alert(made[0]["uuid"])["rhs_constant"] == 1400.1
    assert len(kite.get_alerts(status="enabled")) == 2
    kite.modify_alert(made[0]["uuid"], **{**spec().kite_form(), "operator": ">="})
    assert kite.get_alert(made[0]["uuid"])["operator"] == ">="
    kite.delete_alerts([m["uuid"] for m in made])
    assert {a["uuid"] for a in kite.get_alerts(status="deleted")} == {m["uuid"] for m in made}
    assert kite.get_alert_history(made[0]["uuid"]) == []
