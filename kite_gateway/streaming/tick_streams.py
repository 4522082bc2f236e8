"""Live ticks of an account: one AccountTicker upstream (holding the union of every subscriber's
instruments, each in the richest mode anyone asked for), fanned out to subscriber mailboxes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import structlog
from google.protobuf.timestamp_pb2 import Timestamp
from kite_gateway_api.v1 import common_pb2, market_data_pb2

from kite_gateway.core.market.instruments import Listing
from kite_gateway.core.market.sessions import SESSIONS, MarketHours
from kite_gateway.streaming.connection_budget import ConnectionBudget
from kite_gateway.streaming.fanout import Fanout, Mailbox
from kite_gateway.streaming.recorder import FrameRecorder
from kite_gateway.streaming.ticks import KITE_MODE, LEVELS, RANK, WIRE_MODE, tick_entry, tick_message
from kite_gateway.streaming.upstream import AccountTicker, Callbacks, OverLimit
from kite_wire.ticker_packets import Tick

log = structlog.get_logger(__name__)


def note(**event: Any) -> bytes:
    return market_data_pb2.StreamTicksResponse(**event).SerializeToString()


class AccountTicks:
    def __init__(
        self,
        account_id: str,
        websocket_endpoint: str,
        api_key: str,
        access_token: str,
        symbols: dict[int, str],
        stale_after: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        recorder: FrameRecorder | None = None,
        budget: ConnectionBudget | None = None,
        **connection_options: Any,
    ) -> None:
        self.account_id = account_id
        self.access_token = access_token
        self.symbols = symbols
        self.fanout: Fanout[int] = Fanout()
        self.state: Any = common_pb2.UPSTREAM_STATE_UNSPECIFIED
        url = f"{websocket_endpoint}?{urlencode({'api_key': api_key, 'access_token': access_token})}"
        self.recorder = recorder
        callbacks = Callbacks(self._on_ticks, self._on_text, self._on_state, recorder.record if recorder else None)
        self.ticker = AccountTicker(url, callbacks, api_key, account_id, budget, **connection_options)
        self.ticks_in = 0
        self.stale_after = stale_after
        self.clock = clock
        self.hours = MarketHours()
        self.last_tick = time.monotonic()
        self._watchdog = asyncio.create_task(self._watch_staleness())
        self.order_listeners: list[Callable[[dict[str, Any]], None]] = []
        self.state_listeners: list[Callable[[Any, Any, str], None]] = []

    # Upstream events --------------------------------------------------------------------------

    def _on_ticks(self, raws: list[Tick]) -> None:
        received = Timestamp()
        received.GetCurrentTime()
        self.ticks_in += len(raws)
        self.last_tick = time.monotonic()
        if self.state == common_pb2.UPSTREAM_STATE_STALE and raws:
            self._on_state(0, common_pb2.UPSTREAM_STATE_CONNECTED, "ticks are flowing again")
        for raw in raws:
            symbol = self.symbols.get(raw.instrument_token, "")

            def payload(level: int, raw: Tick = raw, symbol: str = symbol) -> bytes:
                return tick_entry(tick_message(raw, level, symbol, received))

            self.fanout.publish(raw.instrument_token, payload)

    def _on_text(self, message: dict[str, Any]) -> None:
        if message.get("type") == "order" and isinstance(message.get("data"), dict):
            for listener in self.order_listeners:
                listener(message["data"])
        elif message.get("type") == "error":
            log.warning("ticker.error", account_id=self.account_id, message=str(message.get("data"))[:300])

    def _on_state(self, index: int, state: Any, message: str) -> None:
        previous, self.state = self.state, state
        for listener in self.state_listeners:
            listener(previous, state, message)
        status = common_pb2.UpstreamStatus(state=state, message=message)
        status.time.GetCurrentTime()
        self.fanout.note_all(note(upstream_status=status))
        log.info(
            "ticker.state",
            account_id=self.account_id,
            connection=index,
            state=common_pb2.UpstreamState.Name(state),
            message=message,
        )

    async def _watch_staleness(self) -> None:
        """Flag the feed STALE when subscribed instruments stay silent while their exchange is open."""
        while True:
            await asyncio.sleep(min(1.0, self.stale_after / 2))
            if self.state != common_pb2.UPSTREAM_STATE_CONNECTED or not self.fanout.holders:
                continue
            quiet = time.monotonic() - self.last_tick
            if quiet < self.stale_after:
                continue
            now = self.clock()
            exchanges = {self.symbols.get(token, ":").split(":")[0] for token in self.fanout.holders}
            open_now = sorted(e for e in exchanges if e in SESSIONS and self.hours.is_open(e, now))
            if open_now:
                self._on_state(
                    0, common_pb2.UPSTREAM_STATE_STALE, f"no ticks for {quiet:.0f}s while {', '.join(open_now)} is open"
                )

    @property
    def last_frame(self) -> float:
        return max((c.last_frame for c in self.ticker.connections), default=0.0)

    # Subscriptions ----------------------------------------------------------------------------

    async def _apply(self, token: int, before: int, after: int) -> None:
        if after == before:
            return
        if after < 0:
            await self.ticker.unsubscribe([token])
        else:
            await self.ticker.subscribe({token: KITE_MODE[LEVELS[after]]})

    async def add(
        self, mailbox: Mailbox[int], wanted: list[tuple[common_pb2.InstrumentRef, Listing | None]], mode: int
    ) -> list[market_data_pb2.SubscriptionStatus]:
        level = LEVELS.index(mode)
        statuses = []
        for ref, listing in wanted:
            status = market_data_pb2.SubscriptionStatus(instrument=ref)
            if listing is None:
                status.state = market_data_pb2.SUBSCRIPTION_STATE_UNKNOWN_INSTRUMENT
                status.message = "not in today's instrument master"
            else:
                status.instrument_token, status.symbol = listing.instrument_token, listing.symbol
                before, after = self.fanout.hold(mailbox, listing.instrument_token, level)
                try:
                    await self._apply(listing.instrument_token, before, after)
                    mailbox.pending.pop(listing.instrument_token, None)
                    status.state, status.mode = market_data_pb2.SUBSCRIPTION_STATE_ACCEPTED, mode  # type: ignore[assignment]
                except OverLimit as exc:
                    self.fanout.release(mailbox, listing.instrument_token)
                    status.state = market_data_pb2.SUBSCRIPTION_STATE_OVER_LIMIT
                    status.message = str(exc)
            statuses.append(status)
        return statuses

    async def remove(
        self, mailbox: Mailbox[int], wanted: list[tuple[common_pb2.InstrumentRef, Listing | None]]
    ) -> list[market_data_pb2.SubscriptionStatus]:
        statuses = []
        for ref, listing in wanted:
            status = market_data_pb2.SubscriptionStatus(instrument=ref)
            if listing is None or listing.instrument_token not in mailbox.wants:
                status.state = market_data_pb2.SUBSCRIPTION_STATE_NOT_SUBSCRIBED
                status.message = "not in this subscription"
            else:
                status.instrument_token, status.symbol = listing.instrument_token, listing.symbol
                await self._apply(listing.instrument_token, *self.fanout.release(mailbox, listing.instrument_token))
                mailbox.pending.pop(listing.instrument_token, None)
                status.state = market_data_pb2.SUBSCRIPTION_STATE_REMOVED
            statuses.append(status)
        return statuses

    async def close(self, mailbox: Mailbox[int]) -> None:
        """End a subscription: instruments nobody else holds are unsubscribed in one message per
        connection; those others hold at a lower mode are downgraded."""
        gone, lower = [], {}
        for token, before, after in self.fanout.close(mailbox):
            if after < 0:
                gone.append(token)
            elif after < before:
                lower[token] = KITE_MODE[LEVELS[after]]
        if gone:
            await self.ticker.unsubscribe(gone)
        if lower:
            await self.ticker.subscribe(lower)

    def connections(self) -> list[market_data_pb2.UpstreamConnection]:
        out = []
        now, wall = time.monotonic(), time.time()
        for connection in self.ticker.connections:
            modes = [RANK[WIRE_MODE[mode]] for mode in connection.wanted.values()]
            item = market_data_pb2.UpstreamConnection(
                index=connection.index,
                state=connection.state,  # type: ignore[arg-type]
                ltp_instruments=modes.count(0),
                quote_instruments=modes.count(1),
                full_instruments=modes.count(2),
                reconnects=connection.reconnects,
            )
            if connection.last_frame:
                item.last_frame_time.FromNanoseconds(int((wall - (now - connection.last_frame)) * 1e9))
            if connection.connect_time:
                item.connect_time.FromNanoseconds(int((wall - (now - connection.connect_time)) * 1e9))
            out.append(item)
        return out

    async def stop(self) -> None:
        self._watchdog.cancel()
        for mailbox in list(self.fanout.mailboxes.values()):
            mailbox.close()
        await self.ticker.stop()
        if self.recorder is not None:
            await self.recorder.close()


class TickStreams:
    """Every account's live ticks, created on first use and rebuilt when the account logs in anew."""

    def __init__(self, websocket_endpoint: str, record_dir: Path | None = None, **connection_options: Any) -> None:
        self.websocket_endpoint = websocket_endpoint
        self.record_dir = record_dir
        self.options = connection_options
        self.accounts: dict[str, AccountTicks] = {}
        self.budget = ConnectionBudget()  # Kite's ticker connections per api_key, shared by its accounts

    async def get(self, account_id: str, api_key: str, access_token: str, symbols: dict[int, str]) -> AccountTicks:
        current = self.accounts.get(account_id)
        if current is not None and current.access_token != access_token:
            await current.stop()
            current = None
        if current is None:
            recorder = await FrameRecorder.create(self.record_dir, account_id) if self.record_dir else None
            current = AccountTicks(
                account_id,
                self.websocket_endpoint,
                api_key,
                access_token,
                symbols,
                recorder=recorder,
                budget=self.budget,
                **self.options,
            )
            self.accounts[account_id] = current
        return current

    def find(self, account_id: str) -> AccountTicks | None:
        return self.accounts.get(account_id)

    async def stop(self) -> None:
        for streams in self.accounts.values():
            await streams.stop()
