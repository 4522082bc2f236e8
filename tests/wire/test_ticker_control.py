"""The ticker's control messages: written as the official KiteTicker writes them, read as the simulator
(Kite) reads them, and a subscription change sent in KiteTicker's order."""

from __future__ import annotations

import json

import pytest
from kiteconnect import KiteTicker

from kite_wire.ticker_control import (
    ControlError,
    ControlMessage,
    SetMode,
    Subscribe,
    Unsubscribe,
    encode_control,
    parse_control,
    subscription_messages,
)


class _Socket:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def sendMessage(self, payload: bytes) -> None:
        self.sent.append(payload.decode())


def _official() -> tuple[KiteTicker, _Socket]:
    ticker, socket = KiteTicker("key", "token"), _Socket()
    ticker.ws = socket
    return ticker, socket


def test_control_messages_are_the_official_tickers_text_byte_for_byte() -> None:
    ticker, socket = _official()
    ticker.subscribe([408065, 884737])
    ticker.set_mode(ticker.MODE_FULL, [408065])
    ticker.unsubscribe([884737])
    ours: list[ControlMessage] = [Subscribe((408065, 884737)), SetMode("full", (408065,)), Unsubscribe((884737,))]
    assert [encode_control(message) for message in ours] == socket.sent


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": "subscribe", "v": [1, "2"]}', Subscribe((1, 2))),
        ('{"a": "unsubscribe", "v": [3]}', Unsubscribe((3,))),
        ('{"a": "mode", "v": ["ltp", [4, 5]]}', SetMode("ltp", (4, 5))),
    ],
)
def test_a_control_message_parses_to_its_action_and_tokens(text: str, message: ControlMessage) -> None:
    assert parse_control(text) == message


def test_every_encoded_message_parses_back_to_itself() -> None:
    messages: list[ControlMessage] = [Subscribe((7, 8)), Unsubscribe((9,)), SetMode("quote", (10, 11))]
    for message in messages:
        assert parse_control(encode_control(message)) == message


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"v": [1]}',
        '{"a": "subscribe"}',
        '{"a": "subscribe", "v": ["x"]}',
        '{"a": "mode", "v": ["depth", [1]]}',
        '{"a": "mode", "v": ["ltp"]}',
        "[]",
    ],
)
def test_a_malformed_message_is_refused_with_kites_invalid_message_text(text: str) -> None:
    with pytest.raises(ControlError) as refused:
        parse_control(text)
    assert str(refused.value) == f"Invalid message: {text[:200]}"


def test_a_well_formed_message_with_an_unknown_action_is_refused_as_unknown() -> None:
    with pytest.raises(ControlError, match=r"^Unknown action: ping$"):
        parse_control(json.dumps({"a": "ping", "v": [1]}))


def test_a_subscription_change_unsubscribes_then_subscribes_the_new_then_sets_each_mode_in_mode_order() -> None:
    messages = subscription_messages({1: "full", 2: "ltp", 3: "full"}, new=[2, 3], remove=[9])
    assert messages == [Unsubscribe((9,)), Subscribe((2, 3)), SetMode("ltp", (2,)), SetMode("full", (1, 3))]


def test_a_mode_change_alone_sends_only_a_mode_message() -> None:
    assert subscription_messages({5: "quote"}) == [SetMode("quote", (5,))]


def test_no_change_sends_nothing() -> None:
    assert subscription_messages({}) == []
