"""The ticker speaks Kite's protocol: the official parser decodes every packet kind to the values
the simulator intended, reference packets re-encode byte for byte, and Kite's limits hold."""

from __future__ import annotations

import base64
import contextlib
import json
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from kiteconnect import KiteConnect, KiteTicker
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from kite_simulator.threaded import ThreadedSimulator
from kite_wire.ticker_packets import DepthEntry, Tick, encode_packet, frame
from tests.simulator.conftest import login, place, regular_hours

REFERENCE = Path(__file__).resolve().parents[4] / "shared" / "kite-reference"
PARSER = KiteTicker("key", "token")


def _decode(message: bytes) -> list[dict[str, Any]]:
    ticks: list[dict[str, Any]] = PARSER._parse_binary(message)
    return ticks


@pytest.fixture
def fast_ticker() -> Any:
    with ThreadedSimulator(regular_hours(tick_interval=0.02)) as running:
        yield running


def _open(running: ThreadedSimulator, kite: KiteConnect) -> ClientConnection:
    url = f"{running.sim.ws_url}?api_key={kite.api_key}&access_token={kite.access_token}"
    return connect(url, additional_headers={"X-Kite-Version": "3"}, open_timeout=10)


def _collect(ws: ClientConnection, want: dict[int, str], seconds: float = 10) -> dict[int, dict[str, Any]]:
    """Read frames until every wanted token arrived in its wanted mode."""
    seen: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not all(t in seen and seen[t]["mode"] == m for t, m in want.items()):
        message = ws.recv(timeout=deadline - time.monotonic())
        if isinstance(message, bytes) and len(message) > 4:
            for tick in _decode(message):
                seen[tick["instrument_token"]] = tick
    return seen


def _f(value: Decimal) -> float:
    return float(value)


def test_the_official_parser_decodes_every_packet_kind_to_the_intended_values(fast_ticker: ThreadedSimulator) -> None:
    kite = login(fast_ticker)
    sim = fast_ticker.sim
    by_symbol = sim.universe.by_symbol
    cds = next(i for i in sim.universe if i.segment == "CDS-FUT")
    nfo = next(i for i in sim.universe if i.segment == "NFO-FUT")
    want = {
        by_symbol["NSE:INFY"].instrument_token: "full",
        nfo.instrument_token: "full",
        cds.instrument_token: "full",
        by_symbol["NSE:RELIANCE"].instrument_token: "quote",
        by_symbol["BSE:TCS"].instrument_token: "ltp",
        by_symbol["NSE:NIFTY 50"].instrument_token: "full",
        by_symbol["NSE:NIFTY BANK"].instrument_token: "quote",
        by_symbol["BSE:SENSEX"].instrument_token: "ltp",
    }
    with _open(fast_ticker, kite) as ws:
        ws.send(json.dumps({"a": "subscribe", "v": list(want)}))
        for mode in ("ltp", "quote", "full"):
            ws.send(json.dumps({"a": "mode", "v": [mode, [t for t, m in want.items() if m == mode]]}))
        ticks = _collect(ws, want)
    assert set(ticks) == set(want)
    for token, mode in want.items():
        instrument = sim.universe.by_token[token]
        quote = fast_ticker.call(sim.market.quote, instrument, sim.clock.now())
        tick = ticks[token]
        assert tick["mode"] == mode and tick["tradable"] == instrument.tradable
        assert tick["last_price"] == _f(quote.last_price), instrument.symbol
        if mode == "ltp":
            assert set(tick) == {"tradable", "mode", "instrument_token", "last_price"}
            continue
        expected_ohlc = {k: _f(getattr(quote, k)) for k in ("open", "high", "low", "close")}
        assert tick["ohlc"] == expected_ohlc, instrument.symbol
        assert tick["change"] == pytest.approx(float((quote.last_price - quote.close) * 100 / quote.close))
        if not instrument.tradable:
            if mode == "full":
                assert tick["exchange_timestamp"] == datetime.fromtimestamp(int(quote.at.timestamp()))
            continue
        assert tick["last_traded_quantity"] == quote.last_quantity
        assert tick["average_traded_price"] == _f(quote.average_price)
        assert tick["volume_traded"] == quote.volume
        assert tick["total_buy_quantity"] == quote.buy_quantity
        assert tick["total_sell_quantity"] == quote.sell_quantity
        if mode == "full":
            assert tick["last_trade_time"] == datetime.fromtimestamp(int(quote.last_trade_time.timestamp()))
            assert tick["exchange_timestamp"] == datetime.fromtimestamp(int(quote.at.timestamp()))
            assert (tick["oi"], tick["oi_day_high"], tick["oi_day_low"]) == (
                quote.oi,
                quote.oi_day_high,
                quote.oi_day_low,
            )
            for side, entries in (("buy", quote.bids), ("sell", quote.offers)):
                assert tick["depth"][side] == [
                    {"quantity": e.quantity, "price": _f(e.price), "orders": e.orders} for e in entries
                ]


@pytest.mark.parametrize("name", ["ticker_quote.packet", "ticker_full.packet"])
def test_reference_packets_re_encode_byte_for_byte(name: str) -> None:
    path = REFERENCE / name
    if not path.exists():
        pytest.skip(f"{path} not found: the shared reference material is not beside the project")
    packet = base64.b64decode(path.read_text())
    (tick,) = _decode(frame([packet]))

    def price(value: float) -> Decimal:
        return Decimal(str(value))

    depth = tick.get("depth", {"buy": [], "sell": []})
    snapshot = Tick.from_prices(
        instrument_token=tick["instrument_token"],
        last_price=price(tick["last_price"]),
        last_quantity=tick["last_traded_quantity"],
        average_price=price(tick["average_traded_price"]),
        volume=tick["volume_traded"],
        buy_quantity=tick["total_buy_quantity"],
        sell_quantity=tick["total_sell_quantity"],
        open=price(tick["ohlc"]["open"]),
        high=price(tick["ohlc"]["high"]),
        low=price(tick["ohlc"]["low"]),
        close=price(tick["ohlc"]["close"]),
        last_trade_time=int(tick["last_trade_time"].timestamp()) if "last_trade_time" in tick else 0,
        oi=tick.get("oi", 0),
        oi_day_high=tick.get("oi_day_high", 0),
        oi_day_low=tick.get("oi_day_low", 0),
        exchange_timestamp=int(tick["exchange_timestamp"].timestamp()) if "exchange_timestamp" in tick else 0,
        bids=tuple(DepthEntry(e["quantity"], price(e["price"]), e["orders"]) for e in depth["buy"]),
        offers=tuple(DepthEntry(e["quantity"], price(e["price"]), e["orders"]) for e in depth["sell"]),
    )
    assert encode_packet(snapshot, tick["mode"]) == packet


def test_an_idle_connection_gets_one_byte_heartbeats(fast_ticker: ThreadedSimulator) -> None:
    kite = login(fast_ticker)
    with _open(fast_ticker, kite) as ws:
        assert ws.recv(timeout=5) == b"\x00"


def test_order_updates_arrive_as_text_messages(fast_ticker: ThreadedSimulator) -> None:
    kite = login(fast_ticker)
    with _open(fast_ticker, kite) as ws:
        order_id = place(kite)
        statuses = []
        while "COMPLETE" not in statuses:
            message = ws.recv(timeout=5)
            if isinstance(message, str):
                update = json.loads(message)
                assert update["type"] == "order" and update["data"]["order_id"] == order_id
                statuses.append(update["data"]["status"])
    assert statuses == ["OPEN", "COMPLETE"]


def test_more_than_3000_instruments_are_refused_with_an_error_message(fast_ticker: ThreadedSimulator) -> None:
    kite = login(fast_ticker)
    tokens = [i.instrument_token for i in fast_ticker.sim.universe]
    assert len(tokens) > 3000
    with _open(fast_ticker, kite) as ws:
        ws.send(json.dumps({"a": "subscribe", "v": tokens[:2999]}))
        ws.send(json.dumps({"a": "subscribe", "v": [1, 2, 3]}))  # unknown tokens are ignored
        ws.send(json.dumps({"a": "subscribe", "v": tokens[2999:3002]}))
        error = None
        deadline = time.monotonic() + 10
        while error is None and time.monotonic() < deadline:
            message = ws.recv(timeout=5)
            if isinstance(message, str):
                error = json.loads(message)
        (connection,) = fast_ticker.call(lambda: list(fast_ticker.sim.ticker.connections))
        assert len(connection.modes) == 3000
    assert error == {"type": "error", "data": "Can't subscribe to more than 3000 instruments (2 refused)."}


def test_a_bad_token_is_refused_at_the_upgrade_with_403(fast_ticker: ThreadedSimulator) -> None:
    kite = login(fast_ticker)
    kite.set_access_token("not-a-token")
    with pytest.raises(InvalidStatus) as caught:
        _open(fast_ticker, kite)
    assert caught.value.response.status_code == 403


def test_a_fourth_connection_per_api_key_is_refused_with_429(fast_ticker: ThreadedSimulator) -> None:
    kite = login(fast_ticker)
    with contextlib.ExitStack() as stack:
        for _ in range(3):
            stack.enter_context(_open(fast_ticker, kite))
        with pytest.raises(InvalidStatus) as caught:
            _open(fast_ticker, kite)
    assert caught.value.response.status_code == 429


def test_a_dropped_connection_closes_abnormally_for_the_client(fast_ticker: ThreadedSimulator) -> None:
    from websockets.exceptions import ConnectionClosedError

    kite = login(fast_ticker)
    with _open(fast_ticker, kite) as ws:
        ws.recv(timeout=5)
        dropped = requests.post(f"{fast_ticker.sim.api_url}/_sim/ticker/drop?user_id=ZS0001", timeout=10).json()
        assert dropped["data"] == {"dropped": 1}
        with pytest.raises(ConnectionClosedError):
            while True:
                ws.recv(timeout=5)


def test_a_mode_message_for_an_instrument_not_subscribed_on_the_connection_does_not_subscribe_it(
    fast_ticker: ThreadedSimulator,
) -> None:
    kite = login(fast_ticker)
    by_symbol = fast_ticker.sim.universe.by_symbol
    infy, tcs = by_symbol["NSE:INFY"].instrument_token, by_symbol["NSE:TCS"].instrument_token
    with _open(fast_ticker, kite) as ws:
        ws.send(json.dumps({"a": "mode", "v": ["full", [infy]]}))  # no subscribe first: nothing
        ws.send(json.dumps({"a": "subscribe", "v": [tcs]}))
        ws.send(json.dumps({"a": "mode", "v": ["full", [tcs]]}))
        seen = _collect(ws, {tcs: "full"})
        (connection,) = fast_ticker.call(lambda: list(fast_ticker.sim.ticker.connections))
        assert connection.modes == {tcs: "full"}
    assert infy not in seen and seen[tcs]["mode"] == "full"
