"""MarketDataService: quotes, LTP and OHLC in bulk, historical candles, instrument search and
lookup. (Live ticks are served by the streaming hub.)"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import grpc
from kite_gateway_api.v1 import common_pb2, market_data_pb2, market_data_pb2_grpc

from kite_gateway.core.market import history
from kite_gateway.core.market.instruments import Listing, listing_pb
from kite_gateway.core.market.quotes import fetch
from kite_gateway.errors import GatewayError, Reason, Status, invalid
from kite_gateway.grpc import mapping
from kite_gateway.grpc.context import principal_of
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.streaming.ticks import LEVELS, ticks_frame

if TYPE_CHECKING:
    from kite_gateway.app import Runtime

MAX_INSTRUMENTS = 5000
DEFAULT_HEARTBEAT = 5.0
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


def _ohlc(row: dict[str, Any]) -> market_data_pb2.Ohlc:
    return market_data_pb2.Ohlc(**{k: mapping.decimal_pb(row.get(k)) for k in ("open", "high", "low", "close")})


def _depth(row: dict[str, Any]) -> market_data_pb2.MarketDepth:
    def side(levels: list[dict[str, Any]]) -> list[market_data_pb2.DepthLevel]:
        return [
            market_data_pb2.DepthLevel(
                price=mapping.decimal_pb(level.get("price")),
                quantity=int(level.get("quantity") or 0),
                orders=int(level.get("orders") or 0),
            )
            for level in levels
        ]

    return market_data_pb2.MarketDepth(buy=side(row.get("buy") or []), sell=side(row.get("sell") or []))


def quote_pb(listing: Listing, row: dict[str, Any]) -> market_data_pb2.Quote:
    message = market_data_pb2.Quote(
        symbol=listing.symbol,
        instrument_token=listing.instrument_token,
        last_price=mapping.decimal_pb(row.get("last_price")),
        last_quantity=int(row.get("last_quantity") or 0),
        average_price=mapping.decimal_pb(row.get("average_price")),
        volume=int(row.get("volume") or 0),
        buy_quantity=int(row.get("buy_quantity") or 0),
        sell_quantity=int(row.get("sell_quantity") or 0),
        ohlc=_ohlc(row.get("ohlc") or {}),
        net_change=mapping.decimal_pb(row.get("net_change")),
        oi=int(row.get("oi") or 0),
        oi_day_high=int(row.get("oi_day_high") or 0),
        oi_day_low=int(row.get("oi_day_low") or 0),
        lower_circuit_limit=mapping.decimal_pb(row.get("lower_circuit_limit")),
        upper_circuit_limit=mapping.decimal_pb(row.get("upper_circuit_limit")),
        depth=_depth(row.get("depth") or {}),
    )
    mapping.set_time(message, "last_trade_time", row.get("last_trade_time"))
    mapping.set_time(message, "exchange_time", row.get("timestamp"))
    return message


def _heartbeat_seconds(request: Any, field: str = "heartbeat_interval") -> float:
    """The request's heartbeat interval (5 s when unset; an explicit 0 is out of range)."""
    seconds = getattr(request, field).ToTimedelta().total_seconds() if request.HasField(field) else DEFAULT_HEARTBEAT
    if not 1 <= seconds <= 60:
        raise invalid(field, "1 s to 60 s")
    return float(seconds)


class MarketDataServicer(market_data_pb2_grpc.MarketDataServiceServicer):
    raw_responses = frozenset({"StreamTicks"})

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.accounts = runtime.accounts
        self.master = runtime.instruments

    async def _kite(self, account_id: str) -> KiteCaller:
        session = self.accounts.get(account_id)
        kite = session.active()
        await self.master.ensure(session)
        return kite

    def _resolve(self, refs: Any) -> tuple[list[Listing], list[common_pb2.InstrumentRef]]:
        if not 1 <= len(refs) <= MAX_INSTRUMENTS:
            raise invalid("instruments", f"1 to {MAX_INSTRUMENTS} instruments")
        found, missing = [], []
        for i, ref in enumerate(refs):
            if ref.WhichOneof("ref") is None:
                raise invalid(f"instruments[{i}]", "required: symbol (EXCHANGE:TRADINGSYMBOL) or instrument_token")
            listing = self.master.find(ref)
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
        rows = await fetch(kite, "quote", [listing.symbol for listing in found])
        return market_data_pb2.GetQuoteResponse(
            quotes=[quote_pb(listing, rows[listing.symbol]) for listing in found if listing.symbol in rows],
            not_found=missing,
        )

    async def GetOhlc(
        self, request: market_data_pb2.GetOhlcRequest, context: grpc.aio.ServicerContext
    ) -> market_data_pb2.GetOhlcResponse:
        kite = await self._kite(request.account_id)
        found, missing = self._resolve(request.instruments)
        rows = await fetch(kite, "ohlc", [listing.symbol for listing in found])
        return market_data_pb2.GetOhlcResponse(
            ohlc=[
                market_data_pb2.InstrumentOhlc(
                    symbol=listing.symbol,
                    instrument_token=listing.instrument_token,
                    last_price=mapping.decimal_pb(rows[listing.symbol].get("last_price")),
                    ohlc=_ohlc(rows[listing.symbol].get("ohlc") or {}),
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
        last = await self.runtime.last_prices.get(kite, [listing.symbol for listing in found])
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
        listing = self.master.resolve(request.instrument, "instrument")
        interval = INTERVALS.get(request.interval)
        if interval is None:
            raise invalid("interval", "required: one of the CANDLE_INTERVAL values")
        if not request.HasField("start_time") or not request.HasField("end_time"):
            raise invalid("start_time", "start_time and end_time are required")
        start = mapping.ist_wall_clock(request.start_time, "start_time")
        end = mapping.ist_wall_clock(request.end_time, "end_time")
        if end < start:
            raise invalid("end_time", "must not be before start_time")
        if len(history.windows(start, end, interval, most=history.MAX_CALLS + 1)) > history.MAX_CALLS:
            days = history.MAX_CALLS * history.MAX_SPAN_DAYS[interval]
            raise invalid("end_time", f"a range of at most {days} days of {interval} candles per call")
        rows = await history.candles(
            kite, listing.instrument_token, interval, start, end, request.continuous, request.include_oi
        )
        response = market_data_pb2.GetHistoricalDataResponse()
        for row in rows:
            candle = response.candles.add(
                ohlc=_ohlc(row), volume=int(row.get("volume") or 0), oi=int(row.get("oi") or 0)
            )
            mapping.set_time(candle, "time", row["date"])
        return response

    async def SearchInstruments(
        self, request: market_data_pb2.SearchInstrumentsRequest, context: grpc.aio.ServicerContext
    ) -> market_data_pb2.SearchInstrumentsResponse:
        await self._kite(request.account_id)
        size = request.page_size or 50
        if not 1 <= size <= 1000:
            raise invalid("page_size", "1 to 1000")

        def day(field: Literal["expiry_start", "expiry_end"]) -> Any:
            return mapping.ist_wall_clock(getattr(request, field), field).date() if request.HasField(field) else None

        def strike(field: Literal["strike_min", "strike_max"]) -> Decimal | None:
            return mapping.from_decimal_pb(getattr(request, field), field) if request.HasField(field) else None

        matches, total = self.master.search(
            request.query,
            {mapping.exchange_text(e, "exchanges") for e in request.exchanges},
            {common_pb2.InstrumentType.Name(t).removeprefix("INSTRUMENT_TYPE_") for t in request.instrument_types},
            set(request.segments),
            (day("expiry_start"), day("expiry_end")),
            (strike("strike_min"), strike("strike_max")),
            size,
        )
        return market_data_pb2.SearchInstrumentsResponse(
            instruments=[listing_pb(m) for m in matches], total_matches=total
        )

    async def GetInstruments(
        self, request: market_data_pb2.GetInstrumentsRequest, context: grpc.aio.ServicerContext
    ) -> market_data_pb2.GetInstrumentsResponse:
        await self._kite(request.account_id)
        found, missing = self._resolve(request.instruments)
        return market_data_pb2.GetInstrumentsResponse(instruments=[listing_pb(f) for f in found], not_found=missing)

    # Live ticks -------------------------------------------------------------------------------

    def _refs(self, refs: Any, field: str) -> list[tuple[common_pb2.InstrumentRef, Listing | None]]:
        if len(refs) > MAX_STREAM_INSTRUMENTS:
            raise invalid(field, f"at most {MAX_STREAM_INSTRUMENTS} instruments per call")
        out = []
        for i, ref in enumerate(refs):
            if ref.WhichOneof("ref") is None:
                raise invalid(f"{field}[{i}]", "required: symbol (EXCHANGE:TRADINGSYMBOL) or instrument_token")
            out.append((ref, self.master.find(ref)))
        return out

    async def StreamTicks(  # type: ignore[override]  # yields serialized responses (raw_responses)
        self, request: market_data_pb2.StreamTicksRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        session = self.accounts.get(request.account_id)
        kite = session.active()
        await self.master.ensure(session)
        interval = _heartbeat_seconds(request)
        mode = request.mode or market_data_pb2.TICK_MODE_QUOTE
        wanted = self._refs(request.instruments, "instruments")
        symbols = self.master.symbols()
        streams = await self.runtime.tick_streams.get(
            session.account_id, session.api_key, kite.client.access_token, symbols
        )
        mailbox = streams.fanout.open(principal_of(context), prefix=session.account_id, level=LEVELS.index(mode))
        try:
            statuses = await streams.add(mailbox, wanted, mode)
            started = market_data_pb2.SubscriptionStarted(subscription_id=mailbox.mailbox_id, statuses=statuses)
            yield market_data_pb2.StreamTicksResponse(started=started).SerializeToString()
            while not mailbox.closed:
                taken = await mailbox.take(interval)
                if taken is None:
                    beat = common_pb2.Heartbeat(upstream_state=streams.state)
                    beat.server_time.GetCurrentTime()
                    if streams.last_frame:
                        beat.last_upstream_frame_time.FromNanoseconds(
                            int((time.time() - (time.monotonic() - streams.last_frame)) * 1e9)
                        )
                    yield market_data_pb2.StreamTicksResponse(heartbeat=beat).SerializeToString()
                    continue
                notes, payloads, conflated = taken
                for note in notes:
                    yield note
                if payloads:
                    yield ticks_frame(payloads, conflated)
        finally:
            await streams.close(mailbox)

    def _mailbox(self, account_id: str, subscription_id: str, context: grpc.aio.ServicerContext) -> tuple[Any, Any]:
        streams = self.runtime.tick_streams.find(account_id)
        mailbox = streams.fanout.mailboxes.get(subscription_id) if streams else None
        if mailbox is None or mailbox.principal != principal_of(context):
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
        statuses = await streams.add(mailbox, self._refs(request.add, "add"), request.mode or LEVELS[mailbox.level])
        statuses += await streams.remove(mailbox, self._refs(request.remove, "remove"))
        changed = market_data_pb2.SubscriptionChanged(statuses=statuses)
        mailbox.note(market_data_pb2.StreamTicksResponse(changed=changed).SerializeToString())
        return market_data_pb2.UpdateSubscriptionResponse(statuses=statuses)

    async def ListSubscriptions(
        self, request: market_data_pb2.ListSubscriptionsRequest, context: grpc.aio.ServicerContext
    ) -> market_data_pb2.ListSubscriptionsResponse:
        self.accounts.get(request.account_id)
        streams = self.runtime.tick_streams.find(request.account_id)
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
        response.upstream.extend(streams.connections())
        return response
