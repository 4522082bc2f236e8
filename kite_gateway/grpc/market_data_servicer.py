"""MarketDataService: quotes, LTP and OHLC in bulk, historical candles, instrument search and
lookup, live ticks from the tick hub, and the exchanges' trading calendar. Requests are validated
here; the work is the core's (kite_gateway.core.market) and the hub's (kite_gateway.streaming.tick_streams)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal

import grpc
from kite_gateway_api.v1 import common_pb2, market_data_pb2, market_data_pb2_grpc

from kite_gateway.core.accounts import AccountManager
from kite_gateway.core.market import (
    InstrumentMaster,
    LastPrices,
    Listing,
    history,
    market_status,
    quotes,
    trading_calendar,
)
from kite_gateway.errors import GatewayError, Reason, Status, invalid
from kite_gateway.grpc import mapping, page_tokens
from kite_gateway.grpc.calendar_mapping import calendar_pb, exchange_status_pb
from kite_gateway.grpc.context import principal_of
from kite_gateway.grpc.heartbeats import heartbeat_seconds
from kite_gateway.grpc.mapping import instrument_ref
from kite_gateway.grpc.market_mapping import (
    candle_pb,
    connection_pb,
    level_of,
    listing_pb,
    ohlc_pb,
    quote_pb,
    statuses_pb,
)
from kite_gateway.grpc.tick_encoding import LEVELS, ticks_frame
from kite_gateway.kite import KiteMarket
from kite_gateway.streaming import AccountTicks, Mailbox, TickStreams

MAX_INSTRUMENTS = 5000
MAX_STREAM_INSTRUMENTS = 3000
INTERVALS = {
    market_data_pb2.CANDLE_INTERVAL_MINUTE: "minute",
    market_data_pb2.CANDLE_INTERVAL_3_MINUTE: "3minute",
    market_data_pb2.CANDLE_INTERVAL_5_MINUTE: "5minute",
    market_data_pb2.CANDLE_INTERVAL_10_MINUTE: "10minute",
    market_data_pb2.CANDLE_INTERVAL_15_MINUTE: "15minute",
    market_data_pb2.CANDLE_INTERVAL_30_MINUTE: "30minute",
    market_data_pb2.CANDLE_INTERVAL_60_MINUTE: "60minute",
    market_data_pb2.CANDLE_INTERVAL_DAY: "day",
}
REF_REQUIRED = "required: symbol (EXCHANGE:TRADINGSYMBOL) or instrument_token"


def _heartbeat(streams: AccountTicks) -> bytes:
    beat = common_pb2.Heartbeat(upstream_state=int(streams.state))  # type: ignore[arg-type]
    beat.server_time.GetCurrentTime()
    if streams.last_frame:
        beat.last_upstream_frame_time.FromNanoseconds(
            int((time.time() - (time.monotonic() - streams.last_frame)) * 1e9)
        )
    return market_data_pb2.StreamTicksResponse(heartbeat=beat).SerializeToString()


class MarketDataServicer(market_data_pb2_grpc.MarketDataServiceServicer):
    raw_responses = frozenset({"StreamTicks"})

    def __init__(
        self,
        accounts: AccountManager,
        master: InstrumentMaster,
        last_prices: LastPrices,
        tick_streams: TickStreams,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.accounts = accounts
        self.master = master
        self.last_prices = last_prices
        self.tick_streams = tick_streams
        self.clock = clock  # "now" of GetMarketStatus (tests pass the simulator's)

    async def _kite(self, account_id: str) -> KiteMarket:
        session = self.accounts.get(account_id)
        kite = KiteMarket(session.active())
        await self.master.ensure(session)
        return kite

    def _resolve(
        self, refs: Sequence[common_pb2.InstrumentRef]
    ) -> tuple[list[Listing], list[common_pb2.InstrumentRef]]:
        if not 1 <= len(refs) <= MAX_INSTRUMENTS:
            raise invalid("instruments", f"1 to {MAX_INSTRUMENTS} instruments")
        found, missing = [], []
        for i, ref in enumerate(refs):
            if ref.WhichOneof("ref") is None:
                raise invalid(f"instruments[{i}]", REF_REQUIRED)
            listing = self.master.find(instrument_ref(ref))
            if listing is None:
                missing.append(ref)
            else:
                found.append(listing)
        return found, missing

    async def GetQuote(
        self, request: market_data_pb2.GetQuoteRequest, context: grpc.aio.ServicerContext
    ) -> market_data_pb2.GetQuoteResponse:
        kite = await self._kite(request.account_id)
        found, missing = self._resolve(request.instruments)
        rows = await quotes.quotes(kite, [listing.symbol for listing in found])
        return market_data_pb2.GetQuoteResponse(
            quotes=[quote_pb(listing, rows[listing.symbol]) for listing in found if listing.symbol in rows],
            not_found=missing,
        )

    async def GetOhlc(
        self, request: market_data_pb2.GetOhlcRequest, context: grpc.aio.ServicerContext
    ) -> market_data_pb2.GetOhlcResponse:
        kite = await self._kite(request.account_id)
        found, missing = self._resolve(request.instruments)
        rows = await quotes.ohlc(kite, [listing.symbol for listing in found])
        return market_data_pb2.GetOhlcResponse(
            ohlc=[
                market_data_pb2.InstrumentOhlc(
                    symbol=listing.symbol,
                    instrument_token=listing.instrument_token,
                    last_price=mapping.decimal_pb(rows[listing.symbol].last_price),
                    ohlc=ohlc_pb(rows[listing.symbol].ohlc),
                )
                for listing in found
                if listing.symbol in rows
            ],
            not_found=missing,
        )

    async def GetLtp(
        self, request: market_data_pb2.GetLtpRequest, context: grpc.aio.ServicerContext
    ) -> market_data_pb2.GetLtpResponse:
        kite = await self._kite(request.account_id)
        found, missing = self._resolve(request.instruments)
        last = await self.last_prices.get(kite, [listing.symbol for listing in found])
        prices = [
            market_data_pb2.LastPrice(
                symbol=listing.symbol,
                instrument_token=listing.instrument_token,
                last_price=mapping.decimal_pb(last[listing.symbol]),
            )
            for listing in found
            if listing.symbol in last
        ]
        return market_data_pb2.GetLtpResponse(prices=prices, not_found=missing)

    async def GetHistoricalData(
        self, request: market_data_pb2.GetHistoricalDataRequest, context: grpc.aio.ServicerContext
    ) -> market_data_pb2.GetHistoricalDataResponse:
        kite = await self._kite(request.account_id)
        listing = self.master.resolve(instrument_ref(request.instrument), "instrument")
        interval = INTERVALS.get(request.interval)
        if interval is None:
            raise invalid("interval", "required: one of the CANDLE_INTERVAL values")
        if not request.HasField("start_time") or not request.HasField("end_time"):
            raise invalid("start_time", "start_time and end_time are required")
        start = mapping.ist_wall_clock(request.start_time, "start_time")
        end = mapping.ist_wall_clock(request.end_time, "end_time")
        candles = await history.candles(
            kite, listing.instrument_token, interval, start, end, request.continuous, request.include_oi
        )
        daily = request.interval == market_data_pb2.CANDLE_INTERVAL_DAY
        return market_data_pb2.GetHistoricalDataResponse(candles=[candle_pb(candle, daily) for candle in candles])

    async def SearchInstruments(
        self, request: market_data_pb2.SearchInstrumentsRequest, context: grpc.aio.ServicerContext
    ) -> market_data_pb2.SearchInstrumentsResponse:
        await self._kite(request.account_id)
        size = request.page_size or 50
        if not 1 <= size <= 1000:
            raise invalid("page_size", "1 to 1000")

        def day(field: Literal["expiry_from", "expiry_to"]) -> date | None:
            return mapping.calendar_date(getattr(request, field)) if request.HasField(field) else None

        def strike(field: Literal["strike_min", "strike_max"]) -> Decimal | None:
            return mapping.from_decimal_pb(getattr(request, field), field) if request.HasField(field) else None

        digest, generation = page_tokens.fingerprint(request, "page_token", "page_size"), repr(self.master.loaded_at)
        offset = page_tokens.decode(request.page_token, digest, generation)
        matches, total = self.master.search(
            request.query,
            {mapping.exchange_text(e, "exchanges") for e in request.exchanges},
            {common_pb2.InstrumentType.Name(t).removeprefix("INSTRUMENT_TYPE_") for t in request.instrument_types},
            set(request.segments),
            (day("expiry_from"), day("expiry_to")),
            (strike("strike_min"), strike("strike_max")),
            size,
            offset,
        )
        following = offset + len(matches)
        return market_data_pb2.SearchInstrumentsResponse(
            instruments=[listing_pb(m) for m in matches],
            total_matches=total,
            next_page_token=page_tokens.encode(following, digest, generation) if following < total else "",
        )

    async def GetInstruments(
        self, request: market_data_pb2.GetInstrumentsRequest, context: grpc.aio.ServicerContext
    ) -> market_data_pb2.GetInstrumentsResponse:
        await self._kite(request.account_id)
        found, missing = self._resolve(request.instruments)
        return market_data_pb2.GetInstrumentsResponse(instruments=[listing_pb(f) for f in found], not_found=missing)

    # Live ticks -------------------------------------------------------------------------------

    def _listings(self, refs: Sequence[common_pb2.InstrumentRef], field: str) -> list[Listing | None]:
        if len(refs) > MAX_STREAM_INSTRUMENTS:
            raise invalid(field, f"at most {MAX_STREAM_INSTRUMENTS} instruments per call")
        out = []
        for i, ref in enumerate(refs):
            if ref.WhichOneof("ref") is None:
                raise invalid(f"{field}[{i}]", REF_REQUIRED)
            out.append(self.master.find(instrument_ref(ref)))
        return out

    async def StreamTicks(  # type: ignore[override]  # yields serialized responses (raw_responses)
        self, request: market_data_pb2.StreamTicksRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        session = self.accounts.get(request.account_id)
        kite = session.active()
        await self.master.ensure(session)
        interval = heartbeat_seconds(request)
        level = level_of(request.mode or market_data_pb2.TICK_MODE_QUOTE)
        wanted = self._listings(request.instruments, "instruments")
        streams = await self.tick_streams.get(
            session.account_id, session.api_key, kite.client.access_token, self.master.symbols()
        )
        mailbox = streams.fanout.open(principal_of(context), prefix=session.account_id, level=level)
        try:
            statuses = statuses_pb(request.instruments, await streams.add(mailbox, wanted, level))
            started = market_data_pb2.SubscriptionStarted(subscription_id=mailbox.mailbox_id, statuses=statuses)
            yield market_data_pb2.StreamTicksResponse(started=started).SerializeToString()
            while not mailbox.closed:
                taken = await mailbox.take(interval)
                if taken is None:
                    yield _heartbeat(streams)
                    continue
                notes, payloads, conflated = taken
                for note in notes:
                    yield note
                if payloads:
                    yield ticks_frame(payloads, conflated)
        finally:
            await streams.close(mailbox)

    def _mailbox(
        self, account_id: str, subscription_id: str, context: grpc.aio.ServicerContext
    ) -> tuple[AccountTicks, Mailbox[int]]:
        streams = self.tick_streams.find(account_id)
        mailbox = streams.fanout.mailboxes.get(subscription_id) if streams else None
        if streams is None or mailbox is None or mailbox.principal != principal_of(context):
            raise GatewayError(
                Status.NOT_FOUND,
                Reason.INVALID_FIELD,
                f"no live subscription {subscription_id!r} of this caller on account {account_id} (it ends with its "
                "stream)",
                {"account_id": account_id},
            )
        return streams, mailbox

    async def UpdateSubscription(
        self, request: market_data_pb2.UpdateSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> market_data_pb2.UpdateSubscriptionResponse:
        self.accounts.get(request.account_id).active()
        streams, mailbox = self._mailbox(request.account_id, request.subscription_id, context)
        level = level_of(request.mode) if request.mode else mailbox.level
        added = await streams.add(mailbox, self._listings(request.add, "add"), level)  # type: ignore[arg-type]
        statuses = statuses_pb(request.add, added)
        removed = await streams.remove(mailbox, self._listings(request.remove, "remove"))
        statuses += statuses_pb(request.remove, removed)
        changed = market_data_pb2.SubscriptionChanged(statuses=statuses)
        mailbox.note(market_data_pb2.StreamTicksResponse(changed=changed).SerializeToString())
        return market_data_pb2.UpdateSubscriptionResponse(statuses=statuses)

    async def ListSubscriptions(
        self, request: market_data_pb2.ListSubscriptionsRequest, context: grpc.aio.ServicerContext
    ) -> market_data_pb2.ListSubscriptionsResponse:
        self.accounts.get(request.account_id)
        streams = self.tick_streams.find(request.account_id)
        response = market_data_pb2.ListSubscriptionsResponse()
        if streams is None:
            return response
        caller = principal_of(context)
        for mailbox in streams.fanout.mailboxes.values():
            if mailbox.principal != caller:
                continue
            subscription = response.subscriptions.add(
                subscription_id=mailbox.mailbox_id,
                principal=mailbox.principal,
                delivered_ticks=mailbox.delivered,
                conflated_ticks=mailbox.conflated_total,
                queue_depth=len(mailbox.pending),
            )
            subscription.start_time.FromNanoseconds(int(mailbox.created * 1e9))
            for token, level in mailbox.wants.items():
                subscription.instruments.add(
                    instrument_token=token, symbol=streams.symbols.get(token, ""), mode=LEVELS[level]
                )
        response.upstream.extend(connection_pb(c) for c in streams.connections())
        return response

    # The trading calendar -----------------------------------------------------------------------

    async def GetMarketStatus(
        self, request: market_data_pb2.GetMarketStatusRequest, context: grpc.aio.ServicerContext
    ) -> market_data_pb2.GetMarketStatusResponse:
        exchanges = [mapping.exchange_text(e, f"exchanges[{i}]") for i, e in enumerate(request.exchanges)]
        at = request.at.ToDatetime(UTC) if request.HasField("at") else self.clock()
        reply = market_data_pb2.GetMarketStatusResponse(
            statuses=[exchange_status_pb(s) for s in market_status(exchanges, at)]
        )
        reply.at.FromDatetime(at)
        return reply

    async def GetTradingCalendar(
        self, request: market_data_pb2.GetTradingCalendarRequest, context: grpc.aio.ServicerContext
    ) -> market_data_pb2.GetTradingCalendarResponse:
        exchanges = [mapping.exchange_text(e, f"exchanges[{i}]") for i, e in enumerate(request.exchanges)]
        first, last = mapping.calendar_date(request.start_date), mapping.calendar_date(request.end_date)
        if first is None:
            raise invalid("start_date", "required: the first day of the range")
        if last is None:
            raise invalid("end_date", "required: the last day of the range (inclusive)")
        calendars = trading_calendar(exchanges, first, last)
        return market_data_pb2.GetTradingCalendarResponse(
            calendars=[calendar_pb(exchange, days) for exchange, days in calendars.items()]
        )
