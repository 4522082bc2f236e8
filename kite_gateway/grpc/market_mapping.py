"""MarketDataService messages to and from the core's market types: instrument refs and listings,
quotes and candles, subscription outcomes and upstream connections."""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.timestamp_pb2 import Timestamp
from kite_gateway_api.v1 import common_pb2, market_data_pb2

from kite_gateway.core.market import Listing
from kite_gateway.grpc.mapping import date_pb, decimal_pb, exchange_pb, instrument_type_pb, set_time
from kite_gateway.grpc.tick_encoding import LEVELS
from kite_gateway.kite import Candle, DepthLevel, Ohlc, Quote
from kite_gateway.streaming import ConnectionStats, SubscriptionOutcome, TickLevel
from kite_wire import IST


def level_of(mode: int) -> TickLevel:
    """A TickMode as the hub's level (ValueError for an unknown one, as before)."""
    return TickLevel(LEVELS.index(mode))


def listing_pb(listing: Listing) -> common_pb2.Instrument:
    message = common_pb2.Instrument(
        instrument_token=listing.instrument_token,
        exchange_token=listing.exchange_token,
        tradingsymbol=listing.tradingsymbol,
        name=listing.name,
        exchange=exchange_pb(listing.exchange),
        segment=listing.segment,
        instrument_type=instrument_type_pb(listing.instrument_type),
        strike=decimal_pb(listing.strike),
        tick_size=decimal_pb(listing.tick_size),
        lot_size=listing.lot_size,
        last_price=decimal_pb(listing.last_price),
        symbol=listing.symbol,
    )
    if listing.expiry is not None:
        message.expiry.CopyFrom(date_pb(listing.expiry))
    return message


def ohlc_pb(ohlc: Ohlc) -> market_data_pb2.Ohlc:
    return market_data_pb2.Ohlc(
        open=decimal_pb(ohlc.open), high=decimal_pb(ohlc.high), low=decimal_pb(ohlc.low), close=decimal_pb(ohlc.close)
    )


def _side(levels: Iterable[DepthLevel]) -> list[market_data_pb2.DepthLevel]:
    return [
        market_data_pb2.DepthLevel(price=decimal_pb(level.price), quantity=level.quantity, orders=level.orders)
        for level in levels
    ]


def quote_pb(listing: Listing, quote: Quote) -> market_data_pb2.Quote:
    message = market_data_pb2.Quote(
        symbol=listing.symbol,
        instrument_token=listing.instrument_token,
        last_price=decimal_pb(quote.last_price),
        last_quantity=quote.last_quantity,
        average_price=decimal_pb(quote.average_price),
        volume=quote.volume,
        buy_quantity=quote.buy_quantity,
        sell_quantity=quote.sell_quantity,
        ohlc=ohlc_pb(quote.ohlc),
        net_change=decimal_pb(quote.net_change),
        oi=quote.oi,
        oi_day_high=quote.oi_day_high,
        oi_day_low=quote.oi_day_low,
        lower_circuit_limit=decimal_pb(quote.lower_circuit_limit),
        upper_circuit_limit=decimal_pb(quote.upper_circuit_limit),
        depth=market_data_pb2.MarketDepth(buy=_side(quote.bids), sell=_side(quote.offers)),
    )
    set_time(message, "last_trade_time", quote.last_trade_time)
    set_time(message, "exchange_time", quote.exchange_time)
    return message


def candle_pb(candle: Candle, daily: bool = False) -> market_data_pb2.Candle:
    message = market_data_pb2.Candle(ohlc=ohlc_pb(candle.ohlc), volume=candle.volume, oi=candle.oi)
    set_time(message, "time", candle.time)
    if daily:  # Kite stamps a day candle 00:00 IST of its trading date
        moment = candle.time if candle.time.tzinfo else candle.time.replace(tzinfo=IST)
        message.trading_date.CopyFrom(date_pb(moment.astimezone(IST).date()))
    return message


def status_pb(ref: common_pb2.InstrumentRef, outcome: SubscriptionOutcome) -> market_data_pb2.SubscriptionStatus:
    status = market_data_pb2.SubscriptionStatus(
        instrument=ref,
        instrument_token=outcome.instrument_token,
        symbol=outcome.symbol,
        state=int(outcome.state),  # type: ignore[arg-type]
        message=outcome.message,
    )
    if outcome.level is not None:
        status.mode = LEVELS[outcome.level]
    return status


def statuses_pb(
    refs: Iterable[common_pb2.InstrumentRef], outcomes: Iterable[SubscriptionOutcome]
) -> list[market_data_pb2.SubscriptionStatus]:
    return [status_pb(ref, outcome) for ref, outcome in zip(refs, outcomes, strict=True)]


def _stamp_at(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def connection_pb(stats: ConnectionStats) -> market_data_pb2.UpstreamConnection:
    ltp, quote, full = stats.instruments_by_level
    item = market_data_pb2.UpstreamConnection(
        index=stats.index,
        state=int(stats.state),  # type: ignore[arg-type]
        ltp_instruments=ltp,
        quote_instruments=quote,
        full_instruments=full,
        reconnects=stats.reconnects,
    )
    if stats.last_frame_time is not None:
        item.last_frame_time.CopyFrom(_stamp_at(stats.last_frame_time))
    if stats.connect_time is not None:
        item.connect_time.CopyFrom(_stamp_at(stats.connect_time))
    return item
