"""MarketDataService's calendar messages from the trading calendar's types (kite_wire via the core):
trading days, sessions and exchange statuses."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from kite_gateway_api.v1 import market_data_pb2

from kite_gateway.grpc.mapping import date_pb, exchange_pb
from kite_wire import MarketStatus, TradingDay, TradingSession


def _stamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def session_pb(session: TradingSession | None) -> market_data_pb2.TradingSession | None:
    if session is None:
        return None
    return market_data_pb2.TradingSession(open_time=_stamp(session.opens), close_time=_stamp(session.closes))


def trading_day_pb(day: TradingDay) -> market_data_pb2.TradingDay:
    session = TradingSession(day.opens, day.closes) if day.opens is not None and day.closes is not None else None
    return market_data_pb2.TradingDay(
        date=date_pb(day.day),
        trading_day=day.is_trading_day,
        session=session_pb(session),
        reason=day.reason,
        holiday=day.holiday,
        confirmed=day.confirmed,
    )


def exchange_status_pb(status: MarketStatus) -> market_data_pb2.ExchangeStatus:
    return market_data_pb2.ExchangeStatus(
        exchange=exchange_pb(status.exchange),
        open=status.open_now,
        today=trading_day_pb(status.today),
        current_session=session_pb(status.current),
        next_session=session_pb(status.next),
    )


def calendar_pb(exchange: str, days: list[TradingDay]) -> market_data_pb2.ExchangeCalendar:
    return market_data_pb2.ExchangeCalendar(exchange=exchange_pb(exchange), days=[trading_day_pb(d) for d in days])
