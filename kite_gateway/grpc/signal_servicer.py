"""SignalService: validate the request, resolve the strategy's accounts and check the caller may
trade (submit, approve, reject) or read (the rest) every one of them, call the signals use case
(kite_gateway/core/signals), map the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from kite_gateway_api.v1 import common_pb2, signal_pb2, signal_pb2_grpc

from kite_gateway.auth import authorize_read, authorize_trade, current_principal
from kite_gateway.core.accounts import AccountManager, SessionState
from kite_gateway.core.market import InstrumentMaster
from kite_gateway.core.signals import SignalFeed, SignalHeartbeat, Signals, SignalsReplayed, Strategy
from kite_gateway.errors import GatewayError, Reason, Status, invalid
from kite_gateway.grpc import signal_mapping
from kite_gateway.grpc.context import principal_of
from kite_gateway.grpc.heartbeats import heartbeat_seconds

DEFAULT_PAGE = 100
MAX_PAGE = 500


class SignalServicer(signal_pb2_grpc.SignalServiceServicer):
    def __init__(self, signals: Signals, feed: SignalFeed, accounts: AccountManager, master: InstrumentMaster) -> None:
        self.signals = signals
        self.feed = feed
        self.accounts = accounts
        self.master = master

    def _accounts(self, strategy: Strategy) -> tuple[str, ...]:
        return strategy.accounts_of(self.signals.members)

    def _trading(self, strategy_id: str, method: str) -> Strategy:
        if not strategy_id:
            raise invalid("strategy_id", "required: the configured strategy")
        strategy = self.signals.strategy(strategy_id)
        authorize_trade(current_principal.get(), list(self._accounts(strategy)), method)
        return strategy

    def _reading(self, strategy_id: str, method: str) -> Strategy:
        if not strategy_id:
            raise invalid("strategy_id", "required: the configured strategy")
        strategy = self.signals.strategy(strategy_id)
        authorize_read(current_principal.get(), list(self._accounts(strategy)), method)
        return strategy

    def _readable(self, strategy: Strategy) -> bool:
        principal = current_principal.get()
        try:
            accounts = self._accounts(strategy)
        except GatewayError:
            return False
        return principal is None or all(principal.may_read(account_id) for account_id in accounts)

    async def _load_master(self, strategy: Strategy) -> None:
        """The instrument master, through the first of the strategy's accounts that is logged in."""
        for account_id in self._accounts(strategy):
            session = self.accounts.sessions.get(account_id)
            if session is not None and session.state()[0] is SessionState.ACTIVE:
                await self.master.ensure(session)
                return
        if not self.master.by_symbol:
            raise GatewayError(Status.FAILED_PRECONDITION, Reason.ACCOUNT_NEEDS_LOGIN,
                               f"no account of strategy {strategy.id!r} is logged in, so its instruments cannot be "
                               "read: log one in (GetLoginUrl)", {"strategy_id": strategy.id})  # fmt: skip

    async def SubmitSignal(
        self, request: signal_pb2.SubmitSignalRequest, context: grpc.aio.ServicerContext
    ) -> signal_pb2.SubmitSignalResponse:
        strategy = self._trading(signal_mapping.strategy_id_of(request), "SubmitSignal")
        await self._load_master(strategy)
        signal = signal_mapping.signal_of(request, self.master)
        record = await self.signals.submit(signal, principal_of(context))
        return signal_pb2.SubmitSignalResponse(record=signal_mapping.record_pb(record), replayed=record.replayed)

    async def GetSignal(
        self, request: signal_pb2.GetSignalRequest, context: grpc.aio.ServicerContext
    ) -> signal_pb2.GetSignalResponse:
        self._reading(request.strategy_id, "GetSignal")
        if not request.signal_id:
            raise invalid("signal_id", "required")
        record = await self.signals.get(request.strategy_id, request.signal_id)
        fills = await self.signals.fills(record)
        return signal_pb2.GetSignalResponse(record=signal_mapping.record_pb(record, fills))

    async def ListSignals(
        self, request: signal_pb2.ListSignalsRequest, context: grpc.aio.ServicerContext
    ) -> signal_pb2.ListSignalsResponse:
        self._reading(request.strategy_id, "ListSignals")
        if not 0 <= request.page_size <= MAX_PAGE:
            raise invalid("page_size", f"1-{MAX_PAGE}, or unset for {DEFAULT_PAGE}")
        records = await self.signals.list(request.strategy_id, request.page_size or DEFAULT_PAGE)
        return signal_pb2.ListSignalsResponse(records=[signal_mapping.record_pb(r) for r in records])

    async def ApproveSignal(
        self, request: signal_pb2.ApproveSignalRequest, context: grpc.aio.ServicerContext
    ) -> signal_pb2.ApproveSignalResponse:
        self._trading(request.strategy_id, "ApproveSignal")
        if not request.signal_id:
            raise invalid("signal_id", "required")
        record = await self.signals.approve(request.strategy_id, request.signal_id, principal_of(context))
        return signal_pb2.ApproveSignalResponse(record=signal_mapping.record_pb(record))

    async def RejectSignal(
        self, request: signal_pb2.RejectSignalRequest, context: grpc.aio.ServicerContext
    ) -> signal_pb2.RejectSignalResponse:
        self._trading(request.strategy_id, "RejectSignal")
        if not request.signal_id:
            raise invalid("signal_id", "required")
        record = await self.signals.reject(request.strategy_id, request.signal_id, principal_of(context))
        return signal_pb2.RejectSignalResponse(record=signal_mapping.record_pb(record))

    async def ListStrategies(
        self, request: signal_pb2.ListStrategiesRequest, context: grpc.aio.ServicerContext
    ) -> signal_pb2.ListStrategiesResponse:
        found = []
        for strategy_id, strategy in sorted(self.signals.book.strategies.items()):
            if not self._readable(strategy):
                continue
            usage = await self.signals.usage(strategy_id)
            halted = None if self.signals.halted is None else await self.signals.halted(strategy_id)
            found.append(signal_mapping.strategy_pb(strategy, self._accounts(strategy), usage, halted))
        return signal_pb2.ListStrategiesResponse(strategies=found)

    async def StreamSignals(
        self, request: signal_pb2.StreamSignalsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[signal_pb2.StreamSignalsResponse]:
        interval = heartbeat_seconds(request)
        for strategy_id in request.strategy_ids:
            self._reading(strategy_id, "StreamSignals")
        wanted = set(request.strategy_ids) or None
        book = self.signals.book

        def readable(strategy_id: str) -> bool:
            strategy = book.get(strategy_id)
            return (wanted is None or strategy_id in wanted) and strategy is not None and self._readable(strategy)

        after = request.after_sequence if request.HasField("after_sequence") else None
        async for event in self.feed.events(after, interval, readable):
            if isinstance(event, SignalsReplayed):
                yield signal_pb2.StreamSignalsResponse(
                    replay_complete=signal_pb2.SignalReplayComplete(last_sequence=event.last_sequence)
                )
            elif isinstance(event, SignalHeartbeat):
                beat = common_pb2.Heartbeat()
                beat.server_time.FromDatetime(event.server_time)
                yield signal_pb2.StreamSignalsResponse(heartbeat=beat)
            else:
                yield signal_pb2.StreamSignalsResponse(signal_event=signal_mapping.event_pb(event))
