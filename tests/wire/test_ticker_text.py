"""The ticker's text frames: `{"type": ..., "data": ...}` both ways."""

from __future__ import annotations

import json

import pytest

from kite_wire.ticker_text import ERROR, ORDER, TextFrame, encode_text_frame, parse_text_frame


def test_a_text_frame_is_kites_type_and_data_object() -> None:
    assert json.loads(encode_text_frame(ORDER, {"order_id": "1"})) == {"type": "order", "data": {"order_id": "1"}}


def test_an_encoded_frame_parses_back_to_its_type_and_data() -> None:
    assert parse_text_frame(encode_text_frame(ERROR, "Invalid message")) == TextFrame("error", "Invalid message")


@pytest.mark.parametrize("text", ["not json", "[1, 2]", "5", '"order"'])
def test_text_that_is_not_a_json_object_is_no_frame(text: str) -> None:
    assert parse_text_frame(text) is None


def test_a_frame_without_a_type_has_an_empty_type() -> None:
    assert parse_text_frame('{"data": 1}') == TextFrame("", 1)
