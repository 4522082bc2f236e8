"""Fixtures: a simulator with a manual clock on a weekday morning, and the official client logged
in to it through Kite's own login flow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from kiteconnect import KiteConnect

from kite_simulator import SimulatorConfig
from kite_simulator.threaded import ThreadedSimulator
from kite_wire.formats import IST

# Wednesday 25 November 2026, 10:30 IST: NSE, NFO, CDS and MCX are all open (the 24th is Guru Nanak Jayanti).
MORNING = datetime(2026, 11, 25, 10, 30, tzinfo=IST)


def regular_hours(**overrides: object) -> SimulatorConfig:
    """A deterministic simulator: manual clock, real sessions, no rate limits (unless overridden)."""
    settings: dict[str, object] = {"start": MORNING, "always_open": False, "rate_limit_scale": None, "seed": 11}
    return SimulatorConfig(**{**settings, **overrides})  # type: ignore[arg-type]


@pytest.fixture
def threaded() -> Iterator[ThreadedSimulator]:
    with ThreadedSimulator(regular_hours()) as running:
        yield running


def login(running: ThreadedSimulator, user_id: str = "ZS0001") -> KiteConnect:
    """Log in as a person would: open the login URL, follow Kite's redirect, exchange the token."""
    sim = running.sim
    kite = KiteConnect(api_key=sim.app.api_key, root=sim.api_url)
    reply = requests.get(f"{sim.login_url()}&user_id={user_id}", allow_redirects=False, timeout=10)
    assert reply.status_code == 302, reply.text
    request_token = parse_qs(urlparse(reply.headers["Location"]).query)["request_token"][0]
    session = kite.generate_session(request_token, api_secret=sim.app.api_secret)
    kite.set_access_token(session["access_token"])
    return kite


@pytest.fixture
def kite(threaded: ThreadedSimulator) -> KiteConnect:
    return login(threaded)


def place(kite: KiteConnect, variety: str = "regular", **fields: Any) -> str:
    """Place an order through the official client: by default a market CNC buy of one INFY."""
    params: dict[str, Any] = {"exchange": "NSE", "tradingsymbol": "INFY", "transaction_type": "BUY", "quantity": 1,
                              "product": "CNC", "order_type": "MARKET", "market_protection": -1, **fields}  # fmt: skip
    if params["order_type"] in ("LIMIT", "SL"):
        params.pop("market_protection", None)
    return str(kite.place_order(variety=variety, **params))
