"""GetMarketStatus and GetTradingCalendar through the gateway: the calendar as a caller sees it,
with the gateway's clock (here the simulator's) as "now", and bad requests refused with the field."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.type.date_pb2 import Date
from kite_gateway_api.v1 import common_pb2, market_data_pb2

from kite_wire import IST
from tests.e2e.conftest import Stack, status_of
from tests.simulator.conftest import MORNING


def stamp(moment: datetime) -> Timestamp:
    message = Timestamp()
    message.FromDatetime(moment)
    return message


async def test_market_status_now_is_the_gateways_clock_and_every_exchange_is_reported(stack: Stack) -> None:
    reply = await stack.market.GetMarketStatus(market_data_pb2.GetMarketStatusRequest())
    assert reply.at.ToDatetime(UTC) == MORNING
    by_exchange = {common_pb2.Exchange.Name(s.exchange): s for s in reply.statuses}
    assert set(by_exchange) == {f"EXCHANGE_{e}" for e in ("NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX")}
    nse = by_exchange["EXCHANGE_NSE"]
    assert nse.open and nse.today.trading_day and nse.today.confirmed and nse.today.reason == ""
    assert nse.current_session.close_time.ToDatetime().hour == 10  # 15:30 IST is 10:00 UTC
    assert nse.next_session.open_time.ToDatetime().day == 26  # Thursday 26 November, 09:15 IST


async def test_market_status_on_a_holiday_gives_the_reason_and_mcx_evening(stack: Stack) -> None:
    at = stamp(datetime(2026, 11, 24, 20, 0, tzinfo=IST))  # Guru Nanak Jayanti, 8 pm
    reply = await stack.market.GetMarketStatus(
        market_data_pb2.GetMarketStatusRequest(exchanges=[common_pb2.EXCHANGE_NSE, common_pb2.EXCHANGE_MCX], at=at)
    )
    nse, mcx = reply.statuses
    assert (nse.exchange, nse.open, nse.today.trading_day) == (common_pb2.EXCHANGE_NSE, False, False)
    assert nse.today.reason == "Prakash Gurpurb Sri Guru Nanak Dev" and nse.today.holiday
    assert not nse.HasField("current_session") and nse.HasField("next_session")
    assert mcx.open and mcx.today.holiday and "morning session closed" in mcx.today.reason


async def test_the_trading_calendar_lists_every_day_with_its_reason(stack: Stack) -> None:
    reply = await stack.market.GetTradingCalendar(
        market_data_pb2.GetTradingCalendarRequest(
            exchanges=[common_pb2.EXCHANGE_NFO],
            start_date=Date(year=2026, month=11, day=6),
            end_date=Date(year=2026, month=11, day=10),
        )
    )
    (nfo,) = reply.calendars
    assert nfo.exchange == common_pb2.EXCHANGE_NFO
    assert [(d.date.day, d.trading_day, d.reason) for d in nfo.days] == [
        (6, True, ""),
        (7, False, "Saturday"),
        (8, True, "Muhurat trading (Diwali Laxmi Pujan)"),
        (9, True, ""),
        (10, False, "Diwali Balipratipada"),
    ]
    assert not nfo.days[2].confirmed and nfo.days[2].session.HasField("open_time")


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"end_date": Date(year=2026, month=12, day=1)}, "start_date"),
        ({"start_date": Date(year=2026, month=1, day=1), "end_date": Date(year=2028, month=6, day=1)}, "end_date"),
        ({"start_date": Date(year=2026, month=2, day=30), "end_date": Date(year=2026, month=3, day=1)}, "start_date"),
        (
            {
                "exchanges": [0],
                "start_date": Date(year=2026, month=1, day=1),
                "end_date": Date(year=2026, month=1, day=2),
            },
            "exchanges[0]",
        ),
    ],
)
async def test_a_bad_calendar_request_is_invalid_argument_naming_the_field(
    stack: Stack, request_fields: dict[str, object], field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.market.GetTradingCalendar(market_data_pb2.GetTradingCalendarRequest(**request_fields))  # type: ignore[arg-type]
    code, _reason, _metadata, violations = status_of(caught.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert violations and violations[0][0].startswith(field), violations


async def test_market_status_at_a_moment_whose_ist_day_is_past_9999_is_invalid_argument_naming_at(
    stack: Stack,
) -> None:
    at = stamp(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))  # the last Timestamp: 1 January 10000 in IST
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.market.GetMarketStatus(market_data_pb2.GetMarketStatusRequest(at=at))
    code, _reason, _metadata, violations = status_of(caught.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations[0][0] == "at", (code, violations)


async def test_market_status_after_the_last_session_of_the_calendar_has_no_next_session(stack: Stack) -> None:
    at = stamp(datetime(9999, 12, 31, 12, 0, tzinfo=UTC))  # Friday 31 December 9999, 17:30 IST
    reply = await stack.market.GetMarketStatus(
        market_data_pb2.GetMarketStatusRequest(exchanges=[common_pb2.EXCHANGE_NSE], at=at)
    )
    (nse,) = reply.statuses
    assert not nse.open and not nse.HasField("current_session") and not nse.HasField("next_session")
