"""Kite's static-IP rule as data: which requests Kite checks, and its refusal recognised by its text
(the one the simulator sends, and the wordings Kite may use)."""

from __future__ import annotations

import pytest

from kite_wire import ip_checked, ip_not_allowed, refused_ip


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/orders/regular"), ("PUT", "/orders/regular/151220000000000"), ("DELETE", "/orders/amo/1"),
     ("post", "/orders/iceberg")],
)  # fmt: skip
def test_placing_modifying_and_cancelling_an_order_are_checked_against_the_ip(method: str, path: str) -> None:
    assert ip_checked(method, path)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/orders"), ("GET", "/orders/151220000000000"), ("GET", "/orders/1/trades"), ("POST", "/gtt/triggers"),
     ("GET", "/portfolio/positions"), ("POST", "/session/token"), ("POST", "/margins/orders")],
)  # fmt: skip
def test_reads_and_other_endpoints_are_open_from_any_ip(method: str, path: str) -> None:
    assert not ip_checked(method, path)


def test_the_refusal_names_the_address_it_came_from() -> None:
    assert ip_not_allowed("127.0.0.3") == "IP (127.0.0.3) is not allowed"
    assert refused_ip(ip_not_allowed("127.0.0.3")) == "127.0.0.3"
    assert refused_ip("IP (2402:e280:3d1b::1) is not allowed to place orders.") == "2402:e280:3d1b::1"


def test_other_wordings_of_an_ip_refusal_are_recognised_without_an_address() -> None:
    assert refused_ip("Your IP is not in the IP whitelist of this app") == ""
    assert refused_ip("Order request from an IP not registered for this account") == ""


@pytest.mark.parametrize(
    "message",
    ["Markets are closed right now.", "Insufficient funds. Required margin is 100", "Invalid `api_key`.",
     "Tip: the order is pending", "ZIP code not registered"],
)  # fmt: skip
def test_other_refusals_are_not_taken_for_an_ip_refusal(message: str) -> None:
    assert refused_ip(message) is None
