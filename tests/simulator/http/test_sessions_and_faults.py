"""Auth exactly as Kite does it, Kite's rate limits, and the fault hooks tests rely on."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from kiteconnect import KiteConnect
from kiteconnect.exceptions import DataException, InputException, NetworkException, TokenException

from kite_simulator import Fault
from kite_simulator.ratelimit import RateLimiter
from kite_simulator.threaded import ThreadedSimulator
from kite_wire.checksums import session_checksum
from kite_wire.formats import IST
from tests.simulator.conftest import login, place, regular_hours


def request_token(threaded: ThreadedSimulator) -> str:
    reply = requests.get(f"{threaded.sim.login_url()}&user_id=ZS0001", allow_redirects=False, timeout=10)
    return parse_qs(urlparse(reply.headers["Location"]).query)["request_token"][0]


def test_the_login_redirect_carries_the_request_token_and_echoes_redirect_params(threaded: ThreadedSimulator) -> None:
    url = f"{threaded.sim.login_url()}&user_id=ZS0001&redirect_params=desk%3Dalpha"
    location = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    query = parse_qs(urlparse(location).query)
    assert location.startswith(threaded.sim.app.redirect_url)
    assert query["status"] == ["success"] and query["desk"] == ["alpha"] and query["request_token"]


def test_the_login_page_is_a_form_for_people(threaded: ThreadedSimulator) -> None:
    page = requests.get(threaded.sim.login_url(), timeout=10)
    assert page.status_code == 200 and "<form" in page.text and "ZS0001" in page.text


def test_a_wrong_checksum_is_a_token_exception(threaded: ThreadedSimulator) -> None:
    kite = KiteConnect(api_key=threaded.sim.app.api_key, root=threaded.sim.api_url)
    with pytest.raises(TokenException, match="Invalid checksum"):
        kite.generate_session(request_token(threaded), api_secret="wrong-secret")


def test_a_request_token_works_once(threaded: ThreadedSimulator) -> None:
    kite = KiteConnect(api_key=threaded.sim.app.api_key, root=threaded.sim.api_url)
    token = request_token(threaded)
    kite.generate_session(token, api_secret=threaded.sim.app.api_secret)
    with pytest.raises(TokenException, match="invalid or has expired"):
        kite.generate_session(token, api_secret=threaded.sim.app.api_secret)


def test_a_request_token_expires_after_a_few_minutes(threaded: ThreadedSimulator) -> None:
    kite = KiteConnect(api_key=threaded.sim.app.api_key, root=threaded.sim.api_url)
    token = request_token(threaded)
    threaded.advance(301)
    with pytest.raises(TokenException):
        kite.generate_session(token, api_secret=threaded.sim.app.api_secret)


def test_the_session_checksum_is_sha256_of_key_token_and_secret() -> None:
    expected = "4f2ae28c158bf1a2c3df25541be532a08313acbb8bb0fa4f8cff9e7b61673d86"
    assert session_checksum("key", "RT", "SECRET") == expected


def test_an_access_token_expires_at_six_in_the_morning(threaded: ThreadedSimulator) -> None:
    kite = login(threaded)
    now = threaded.sim.clock.now().astimezone(IST)
    five_fifty_nine = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), IST) + timedelta(
        hours=5, minutes=59
    )
    threaded.advance((five_fifty_nine - now).total_seconds())
    assert kite.profile()["user_id"] == "ZS0001"
    threaded.advance(60)
    with pytest.raises(TokenException, match="invalid or has expired"):
        kite.profile()


def test_logout_invalidates_the_access_token(kite: KiteConnect) -> None:
    assert kite.invalidate_access_token() is True
    with pytest.raises(TokenException):
        kite.margins()


def test_calls_need_the_kite_version_header(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    headers = {"Authorization": f"token {kite.api_key}:{kite.access_token}"}
    reply = requests.get(f"{threaded.sim.api_url}/user/profile", headers=headers, timeout=10)
    assert reply.status_code == 400 and reply.json()["error_type"] == "InputException"


def test_an_unknown_route_is_a_json_404(threaded: ThreadedSimulator) -> None:
    reply = requests.get(f"{threaded.sim.api_url}/nope", headers={"X-Kite-Version": "3"}, timeout=10)
    assert reply.status_code == 404 and reply.json()["status"] == "error"


def test_quotes_beyond_one_request_a_second_answer_429() -> None:
    with ThreadedSimulator(regular_hours(rate_limit_scale=1.0)) as running:
        seconds = [0.0]  # the limiter's sliding second runs on this clock, moved by hand
        running.on_loop(lambda s: setattr(s.request_rules, "rate_limiter", RateLimiter(1.0, now=lambda: seconds[0])))
        kite = login(running)
        kite.ltp("NSE:INFY")
        with pytest.raises(NetworkException, match="Too many requests") as caught:
            kite.ltp("NSE:INFY")
        assert caught.value.code == 429
        for _ in range(3):
            kite.profile()  # other endpoints have their own budget
        seconds[0] += 1.0  # a second later the window has slid past the first quote
        assert kite.ltp("NSE:INFY")["NSE:INFY"]["last_price"] > 0


def test_an_injected_error_reaches_the_client_as_kite_would_send_it(
    kite: KiteConnect, threaded: ThreadedSimulator
) -> None:
    threaded.sim.faults.add(Fault("GET", "/user/margins", "error", http_status=502, message="OMS unreachable"))
    with pytest.raises(NetworkException, match="OMS unreachable"):
        kite.margins()
    assert kite.margins()["equity"]["enabled"] is True  # the fault fired once


def test_an_html_error_page_surfaces_as_a_data_exception(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    threaded.sim.faults.add(Fault("GET", "/quote*", "html", http_status=502))
    with pytest.raises(DataException, match="Unknown Content-Type"):
        kite.quote("NSE:INFY")


def test_a_delay_fault_holds_the_call_past_the_clients_timeout(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    kite.timeout = 0.3
    threaded.sim.faults.add(Fault("GET", "/orders", "delay", seconds=1.0))
    with pytest.raises(requests.exceptions.ReadTimeout):
        kite.orders()


def test_a_timeout_after_accept_places_the_order_though_the_caller_never_hears(
    kite: KiteConnect, threaded: ThreadedSimulator
) -> None:
    threaded.sim.faults.add(Fault("POST", "/orders/*", "timeout_after_accept", seconds=0.2))
    with pytest.raises(requests.exceptions.ConnectionError):
        place(kite, tag="retry1")
    (placed,) = kite.orders()
    assert placed["tag"] == "retry1" and placed["status"] == "COMPLETE"


def test_faults_can_be_set_over_http_for_out_of_process_tests(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    rule: dict[str, Any] = {"method": "GET", "path": "/user/profile", "action": "error", "http_status": 503, "times": 2}
    assert requests.post(f"{threaded.sim.api_url}/_sim/faults", json=rule, timeout=10).json()["data"]["rules"] == 1
    for _ in range(2):
        with pytest.raises(NetworkException):
            kite.profile()
    assert kite.profile()["user_id"] == "ZS0001"


def test_a_bad_request_never_kills_the_server(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    with pytest.raises(InputException):
        place(kite, quantity="lots")
    reply = requests.post(
        f"{threaded.sim.api_url}/margins/orders",
        data="{not json",
        timeout=10,
        headers={
            "X-Kite-Version": "3",
            "Authorization": f"token {kite.api_key}:{kite.access_token}",
            "Content-Type": "application/json",
        },
    )
    assert reply.status_code == 400 and reply.json()["error_type"] == "InputException"
    assert kite.profile()["user_id"] == "ZS0001"
