"""grpc/mapping.py on its own: Kite's JSON numbers, times and words to the API's messages and back,
exactly, with INVALID_ARGUMENT naming the field for what a request cannot mean."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.type.decimal_pb2 import Decimal as Decimal_pb
from kite_gateway_api.v1 import common_pb2

from kite_gateway.core.market.instruments import InstrumentRef
from kite_gateway.errors import GatewayError, Status
from kite_gateway.grpc import mapping


@pytest.mark.parametrize(
    ("kite", "text"),
    [(1562.55, "1562.55"), (-10.60, "-10.6"), (0, "0"), ("0.05", "0.05"), (None, "0"), (0.1 + 0.2, "0.3")],
)
def test_a_kite_number_becomes_the_decimal_string_it_was_written_as_never_its_binary_float(
    kite: object, text: str
) -> None:
    assert mapping.decimal_pb(kite).value == text


def test_a_computed_decimal_is_sent_in_plain_notation_to_nine_places() -> None:
    assert mapping.decimal_pb(Decimal("1E+3")).value == "1000"
    assert mapping.decimal_pb(Decimal("-0.00")).value == "0"
    assert mapping.decimal_pb(Decimal(1) / Decimal(3)).value == "0.333333333"


@pytest.mark.parametrize("text", ["1562.55", "-10.60", "0.00000001", "-0.5", "123456789012.98765432"])
def test_a_decimal_survives_the_trip_through_the_message_unchanged(text: str) -> None:
    assert mapping.from_decimal_pb(mapping.decimal_pb(Decimal(text)), "price") == Decimal(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1562.55", "1562.55"), ("+2", "2"), (".5", "0.5"), ("5.", "5"), ("1.5e3", "1500"), ("-0", "0"), ("", "0")],
)
def test_every_form_of_google_type_decimal_grammar_is_accepted(text: str, value: str) -> None:
    assert mapping.from_decimal_pb(Decimal_pb(value=text), "price") == Decimal(value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("abc", "is not a decimal number"),
        ("1,000", "is not a decimal number"),
        ("NaN", "is not a decimal number"),
        ("Infinity", "is not a decimal number"),
        (" 1", "is not a decimal number"),
        ("1.2.3", "is not a decimal number"),
        ("12.345678901", "more than 8 digits after the decimal point"),
        ("1e-9", "more than 8 digits after the decimal point"),
        ("1e30", "more than 20 significant digits"),
        ("1" * 65, "is not a decimal number"),
    ],
)
def test_a_malformed_or_over_precise_decimal_is_refused_naming_the_field(text: str, problem: str) -> None:
    with pytest.raises(GatewayError) as caught:
        mapping.from_decimal_pb(Decimal_pb(value=text), "params.price")
    assert caught.value.code is Status.INVALID_ARGUMENT
    assert caught.value.field_violations[0][0] == "params.price" and problem in caught.value.message


def test_an_unset_enum_is_refused_listing_the_values_a_caller_may_send() -> None:
    with pytest.raises(GatewayError) as caught:
        mapping.variety_text(common_pb2.VARIETY_UNSPECIFIED, "params.variety")
    assert caught.value.field_violations[0][0] == "params.variety"
    assert "REGULAR" in caught.value.message and "ICEBERG" in caught.value.message
    assert mapping.variety_text(common_pb2.VARIETY_ICEBERG, "params.variety") == "iceberg"


def test_a_word_kite_sends_that_the_api_does_not_know_maps_to_unspecified_not_an_error() -> None:
    assert mapping.exchange_pb("NSE") == common_pb2.EXCHANGE_NSE
    assert mapping.exchange_pb("NOT-AN-EXCHANGE") == 0 and mapping.exchange_pb(None) == 0


def test_an_instrument_is_named_by_symbol_or_token_or_not_at_all() -> None:
    assert mapping.instrument_ref(common_pb2.InstrumentRef(symbol="NSE:INFY")) == InstrumentRef(symbol="NSE:INFY")
    assert mapping.instrument_ref(common_pb2.InstrumentRef(instrument_token=408065)) == InstrumentRef(
        instrument_token=408065
    )
    assert not mapping.instrument_ref(common_pb2.InstrumentRef()).named


def test_kites_ist_wall_clock_becomes_the_right_instant_and_back() -> None:
    stamp = mapping.timestamp_pb("2026-12-01 09:15:00")
    assert stamp is not None and stamp.ToDatetime(UTC) == datetime(2026, 12, 1, 3, 45, tzinfo=UTC)
    assert mapping.ist_wall_clock(stamp, "from_time") == datetime(2026, 12, 1, 9, 15)
    assert mapping.timestamp_pb("not a time") is None and mapping.timestamp_pb(None) is None


def test_a_time_at_the_end_of_the_calendar_is_refused_not_an_internal_error() -> None:
    stamp = Timestamp(seconds=253402300799)  # 9999-12-31T23:59:59Z: past the calendar in IST
    with pytest.raises(GatewayError) as caught:
        mapping.ist_wall_clock(stamp, "to_time")
    assert caught.value.code is Status.INVALID_ARGUMENT and caught.value.field_violations[0][0] == "to_time"
