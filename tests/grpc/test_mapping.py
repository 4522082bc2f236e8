"""grpc/mapping.py on its own: Kite's JSON numbers, times and words to the API's messages and back,
exactly, with INVALID_ARGUMENT naming the field for what a request cannot mean."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from kite_gateway_api.v1 import common_pb2

from kite_gateway.core.market.instruments import InstrumentRef
from kite_gateway.errors import GatewayError, Status
from kite_gateway.grpc import mapping


@pytest.mark.parametrize(
    ("kite", "units", "nanos"),
    [(1562.55, 1562, 550_000_000), (-10.6, -10, -600_000_000), (0, 0, 0), ("0.05", 0, 50_000_000), (None, 0, 0)],
)
def test_a_kite_number_becomes_the_decimal_it_was_written_as_never_its_binary_float(
    kite: object, units: int, nanos: int
) -> None:
    message = mapping.decimal_pb(kite)
    assert (message.units, message.nanos) == (units, nanos)


@pytest.mark.parametrize("text", ["1562.55", "-10.60", "0.000000001", "-0.5", "123456789.987654321"])
def test_a_decimal_survives_the_trip_through_the_message_unchanged(text: str) -> None:
    assert mapping.from_decimal_pb(mapping.decimal_pb(Decimal(text)), "price") == Decimal(text)


@pytest.mark.parametrize(
    ("units", "nanos", "problem"),
    [(1, -5, "same sign"), (-1, 5, "same sign"), (0, 1_000_000_000, "nanos must be between")],
)
def test_a_malformed_decimal_is_refused_naming_the_field(units: int, nanos: int, problem: str) -> None:
    with pytest.raises(GatewayError) as caught:
        mapping.from_decimal_pb(common_pb2.Decimal(units=units, nanos=nanos), "params.price")
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
