"""MarketDataService: quotes, candles, the instrument master, and live ticks whose subscription
survives reconnects."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from kite_gateway_api.v1 import common_pb2, market_data_pb2

from kite_gateway_client.calls import Connection
from kite_gateway_client.params import (
    Instrument,
    Price,
    date_message,
    instrument,
    instruments,
    set_price,
    timestamp,
)


@dataclass
class TickSubscription:
    """What one resumable tick stream asked for: reopened with these instruments after a reconnect,
    as updated through update_subscription. `ids` are every subscription_id it has had."""

    request: market_data_pb2.StreamTicksRequest
    current_id: str = ""
    ids: set[str] = field(default_factory=set)

    def changed(self, add: Sequence[common_pb2.InstrumentRef], remove: Sequence[common_pb2.InstrumentRef]) -> None:
        gone = {r.SerializeToString(deterministic=True) for r in remove}
        have = {r.SerializeToString(deterministic=True) for r in self.request.instruments}
        kept = [r for r in self.request.instruments if r.SerializeToString(deterministic=True) not in gone]
        kept += [r for r in add if r.SerializeToString(deterministic=True) not in have]
        del self.request.instruments[:]
        self.request.instruments.extend(kept)


class MarketDataMethods(Connection):
    """Every MarketDataService RPC. Reads are retried, UpdateSubscription is not. Instruments are
    `EXCHANGE:TRADINGSYMBOL` strings, tokens or InstrumentRefs. Each method takes the request
    message as `request=` instead of the other arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tick_subscriptions: dict[str, TickSubscription] = {}  # any id a stream had -> its state

    async def get_quote(
        self,
        account_id: str = "",
        symbols: Sequence[Instrument] = (),
        *,
        request: market_data_pb2.GetQuoteRequest | None = None,
        call_timeout: float | None = None,
    ) -> market_data_pb2.GetQuoteResponse:
        request = request or market_data_pb2.GetQuoteRequest(account_id=account_id, instruments=instruments(symbols))
        return await self._call(self.market.GetQuote, request, retried=True, call_timeout=call_timeout)

    async def get_ltp(
        self,
        account_id: str = "",
        symbols: Sequence[Instrument] = (),
        *,
        request: market_data_pb2.GetLtpRequest | None = None,
        call_timeout: float | None = None,
    ) -> market_data_pb2.GetLtpResponse:
        request = request or market_data_pb2.GetLtpRequest(account_id=account_id, instruments=instruments(symbols))
        return await self._call(self.market.GetLtp, request, retried=True, call_timeout=call_timeout)

    async def get_ohlc(
        self,
        account_id: str = "",
        symbols: Sequence[Instrument] = (),
        *,
        request: market_data_pb2.GetOhlcRequest | None = None,
        call_timeout: float | None = None,
    ) -> market_data_pb2.GetOhlcResponse:
        request = request or market_data_pb2.GetOhlcRequest(account_id=account_id, instruments=instruments(symbols))
        return await self._call(self.market.GetOhlc, request, retried=True, call_timeout=call_timeout)

    async def get_historical_data(
        self,
        account_id: str = "",
        symbol: Instrument = "",
        interval: market_data_pb2.CandleInterval.ValueType = market_data_pb2.CANDLE_INTERVAL_DAY,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        continuous: bool = False,
        include_oi: bool = False,
        request: market_data_pb2.GetHistoricalDataRequest | None = None,
        call_timeout: float | None = None,
    ) -> market_data_pb2.GetHistoricalDataResponse:
        """Candles from `start` to `end` (aware datetimes). Long ranges are fetched in pieces by the
        gateway: pass a larger `call_timeout` than the client's `timeout` for years of minute candles."""
        if request is None:
            request = market_data_pb2.GetHistoricalDataRequest(
                account_id=account_id,
                instrument=instrument(symbol),
                interval=interval,
                continuous=continuous,
                include_oi=include_oi,
            )
            if start is not None:
                request.start_time.CopyFrom(timestamp(start))
            if end is not None:
                request.end_time.CopyFrom(timestamp(end))
        return await self._call(self.market.GetHistoricalData, request, retried=True, call_timeout=call_timeout)

    async def search_instruments(
        self,
        account_id: str = "",
        query: str = "",
        *,
        exchanges: Sequence[common_pb2.Exchange.ValueType] = (),
        instrument_types: Sequence[common_pb2.InstrumentType.ValueType] = (),
        segments: Sequence[str] = (),
        expiry_from: date | None = None,
        expiry_to: date | None = None,
        strike_min: Price | None = None,
        strike_max: Price | None = None,
        page_size: int = 0,
        page_token: str = "",
        request: market_data_pb2.SearchInstrumentsRequest | None = None,
        call_timeout: float | None = None,
    ) -> market_data_pb2.SearchInstrumentsResponse:
        """One page of matches, best first; pass its next_page_token as `page_token` for the next
        (same query and filters). Expiries are dates (inclusive), strikes exact prices."""
        if request is None:
            request = market_data_pb2.SearchInstrumentsRequest(
                account_id=account_id,
                query=query,
                exchanges=exchanges,
                instrument_types=instrument_types,
                segments=segments,
                page_size=page_size,
                page_token=page_token,
            )
            if expiry_from is not None:
                request.expiry_from.CopyFrom(date_message(expiry_from))
            if expiry_to is not None:
                request.expiry_to.CopyFrom(date_message(expiry_to))
            set_price(request, "strike_min", strike_min)
            set_price(request, "strike_max", strike_max)
        return await self._call(self.market.SearchInstruments, request, retried=True, call_timeout=call_timeout)

    async def get_market_status(
        self,
        exchanges: Sequence[common_pb2.Exchange.ValueType] = (),
        *,
        at: datetime | None = None,
        request: market_data_pb2.GetMarketStatusRequest | None = None,
        call_timeout: float | None = None,
    ) -> market_data_pb2.GetMarketStatusResponse:
        """Whether each exchange is open at `at` (now by default), its session and the next one."""
        if request is None:
            request = market_data_pb2.GetMarketStatusRequest(exchanges=exchanges)
            if at is not None:
                request.at.CopyFrom(timestamp(at))
        return await self._call(self.market.GetMarketStatus, request, retried=True, call_timeout=call_timeout)

    async def get_trading_calendar(
        self,
        start_date: date | None = None,
        end_date: date | None = None,
        exchanges: Sequence[common_pb2.Exchange.ValueType] = (),
        *,
        request: market_data_pb2.GetTradingCalendarRequest | None = None,
        call_timeout: float | None = None,
    ) -> market_data_pb2.GetTradingCalendarResponse:
        """Every day from `start_date` to `end_date` (inclusive) per exchange: trading or why not."""
        if request is None:
            request = market_data_pb2.GetTradingCalendarRequest(exchanges=exchanges)
            if start_date is not None:
                request.start_date.CopyFrom(date_message(start_date))
            if end_date is not None:
                request.end_date.CopyFrom(date_message(end_date))
        return await self._call(self.market.GetTradingCalendar, request, retried=True, call_timeout=call_timeout)

    async def get_instruments(
        self,
        account_id: str = "",
        symbols: Sequence[Instrument] = (),
        *,
        request: market_data_pb2.GetInstrumentsRequest | None = None,
        call_timeout: float | None = None,
    ) -> market_data_pb2.GetInstrumentsResponse:
        request = request or market_data_pb2.GetInstrumentsRequest(
            account_id=account_id, instruments=instruments(symbols)
        )
        return await self._call(self.market.GetInstruments, request, retried=True, call_timeout=call_timeout)

    async def stream_ticks(
        self,
        account_id: str = "",
        symbols: Sequence[Instrument] = (),
        mode: market_data_pb2.TickMode.ValueType = market_data_pb2.TICK_MODE_QUOTE,
        *,
        heartbeat_seconds: int = 0,
        request: market_data_pb2.StreamTicksRequest | None = None,
    ) -> AsyncGenerator[market_data_pb2.StreamTicksResponse, None]:
        """Every message of a live tick stream (started, ticks, heartbeats, changes, upstream status).
        After a transient failure it subscribes again, with the instruments as changed by
        update_subscription since: a new `started` (with a new subscription_id, though the old ids
        still work with update_subscription) and each instrument's current tick follow; ticks in
        between are not replayed."""
        if request is None:
            request = market_data_pb2.StreamTicksRequest(
                account_id=account_id, instruments=instruments(symbols), mode=mode
            )
            if heartbeat_seconds:
                request.heartbeat_interval.CopyFrom(Duration(seconds=heartbeat_seconds))
        state = TickSubscription(market_data_pb2.StreamTicksRequest())
        state.request.CopyFrom(request)

        def open_call() -> grpc.aio.UnaryStreamCall[
            market_data_pb2.StreamTicksRequest, market_data_pb2.StreamTicksResponse
        ]:
            return self.market.StreamTicks(state.request, metadata=self.metadata)

        messages: AsyncGenerator[market_data_pb2.StreamTicksResponse, None] = self._resumable(open_call)
        try:
            async with contextlib.aclosing(messages):
                async for message in messages:
                    if message.WhichOneof("event") == "started":
                        state.current_id = message.started.subscription_id
                        state.ids.add(state.current_id)
                        self.tick_subscriptions[state.current_id] = state
                    yield message
        finally:
            for old in state.ids:
                self.tick_subscriptions.pop(old, None)

    async def ticks(
        self,
        account_id: str,
        symbols: Sequence[Instrument],
        mode: market_data_pb2.TickMode.ValueType = market_data_pb2.TICK_MODE_QUOTE,
    ) -> AsyncGenerator[market_data_pb2.Tick, None]:
        """Just the ticks of stream_ticks, one at a time (re-subscribing after a transient failure)."""
        async with contextlib.aclosing(self.stream_ticks(account_id, symbols, mode)) as messages:
            async for message in messages:
                if message.WhichOneof("event") == "ticks":
                    for tick in message.ticks.ticks:
                        yield tick

    async def update_subscription(
        self,
        account_id: str = "",
        subscription_id: str = "",
        add: Sequence[Instrument] = (),
        remove: Sequence[Instrument] = (),
        mode: market_data_pb2.TickMode.ValueType = market_data_pb2.TICK_MODE_UNSPECIFIED,
        *,
        request: market_data_pb2.UpdateSubscriptionRequest | None = None,
        call_timeout: float | None = None,
    ) -> market_data_pb2.UpdateSubscriptionResponse:
        """Changes a live stream_ticks subscription (`mode` for `add`: the stream's when unset). For a
        stream of this client, any id it has had names it, and the change is kept across its
        reconnects. Not retried."""
        request = request or market_data_pb2.UpdateSubscriptionRequest(
            account_id=account_id,
            subscription_id=subscription_id,
            add=instruments(add),
            remove=instruments(remove),
            mode=mode,
        )
        state = self.tick_subscriptions.get(request.subscription_id)
        if state is not None:
            request.subscription_id = state.current_id
        reply: market_data_pb2.UpdateSubscriptionResponse = await self._call(
            self.market.UpdateSubscription, request, retried=False, call_timeout=call_timeout
        )
        if state is not None:
            state.changed(request.add, request.remove)
        return reply

    async def list_subscriptions(
        self,
        account_id: str = "",
        *,
        request: market_data_pb2.ListSubscriptionsRequest | None = None,
        call_timeout: float | None = None,
    ) -> market_data_pb2.ListSubscriptionsResponse:
        request = request or market_data_pb2.ListSubscriptionsRequest(account_id=account_id)
        return await self._call(self.market.ListSubscriptions, request, retried=True, call_timeout=call_timeout)
