"""SignalService: strategy signals turned into orders, their approval, lineage and stream."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Sequence
from decimal import Decimal
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from kite_gateway_api.v1 import common_pb2, signal_pb2

from kite_gateway_client.calls import Connection
from kite_gateway_client.decimals import from_decimal
from kite_gateway_client.params import Instrument, instrument


class SignalMethods(Connection):
    """Every SignalService RPC. SubmitSignal is retried (its signal_id is the idempotency key: a
    retry never acts twice), as are the reads; approving and rejecting are not (a person's decision
    comes back as it was taken). Each method takes the request message as `request=` instead."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_signal_sequence: int | None = None  # the last signal event received (stream_signals)

    async def submit_signal(
        self,
        strategy_id: str = "",
        signal_id: str = "",
        symbol: Instrument = "",
        *,
        side: common_pb2.TransactionType.ValueType = common_pb2.TRANSACTION_TYPE_UNSPECIFIED,
        quantity: int = 0,
        target_position: int | None = None,
        price_hint: Decimal | None = None,
        limit_offset_ticks: int | None = None,
        at_price: Decimal | None = None,
        validity: common_pb2.Validity.ValueType = common_pb2.VALIDITY_UNSPECIFIED,
        product: common_pb2.Product.ValueType = common_pb2.PRODUCT_UNSPECIFIED,
        request: signal_pb2.SubmitSignalRequest | None = None,
        call_timeout: float | None = None,
    ) -> signal_pb2.SubmitSignalResponse:
        """A change (`side` and `quantity`) or a `target_position`; a market order unless
        `limit_offset_ticks` or `at_price`."""
        if request is None:
            signal = signal_pb2.Signal(
                signal_id=signal_id, instrument=instrument(symbol), validity=validity, product=product
            )
            if target_position is not None:
                signal.target_position = target_position
            else:
                signal.delta.CopyFrom(signal_pb2.SignalDelta(side=side, quantity=quantity))
            if price_hint is not None:
                signal.price_hint.CopyFrom(from_decimal(price_hint))
            if at_price is not None:
                signal.urgency.at_price.CopyFrom(from_decimal(at_price))
            elif limit_offset_ticks is not None:
                signal.urgency.limit_offset_ticks = limit_offset_ticks
            request = signal_pb2.SubmitSignalRequest(strategy_id=strategy_id, signal=signal)
        return await self._call(self.signals.SubmitSignal, request, retried=True, call_timeout=call_timeout)

    async def get_signal(
        self,
        strategy_id: str = "",
        signal_id: str = "",
        *,
        request: signal_pb2.GetSignalRequest | None = None,
        call_timeout: float | None = None,
    ) -> signal_pb2.GetSignalResponse:
        request = request or signal_pb2.GetSignalRequest(strategy_id=strategy_id, signal_id=signal_id)
        return await self._call(self.signals.GetSignal, request, retried=True, call_timeout=call_timeout)

    async def list_signals(
        self,
        strategy_id: str = "",
        page_size: int = 0,
        *,
        request: signal_pb2.ListSignalsRequest | None = None,
        call_timeout: float | None = None,
    ) -> signal_pb2.ListSignalsResponse:
        request = request or signal_pb2.ListSignalsRequest(strategy_id=strategy_id, page_size=page_size)
        return await self._call(self.signals.ListSignals, request, retried=True, call_timeout=call_timeout)

    async def approve_signal(
        self,
        strategy_id: str = "",
        signal_id: str = "",
        *,
        request: signal_pb2.ApproveSignalRequest | None = None,
        call_timeout: float | None = None,
    ) -> signal_pb2.ApproveSignalResponse:
        request = request or signal_pb2.ApproveSignalRequest(strategy_id=strategy_id, signal_id=signal_id)
        return await self._call(self.signals.ApproveSignal, request, retried=False, call_timeout=call_timeout)

    async def reject_signal(
        self,
        strategy_id: str = "",
        signal_id: str = "",
        *,
        request: signal_pb2.RejectSignalRequest | None = None,
        call_timeout: float | None = None,
    ) -> signal_pb2.RejectSignalResponse:
        request = request or signal_pb2.RejectSignalRequest(strategy_id=strategy_id, signal_id=signal_id)
        return await self._call(self.signals.RejectSignal, request, retried=False, call_timeout=call_timeout)

    async def list_strategies(
        self, *, request: signal_pb2.ListStrategiesRequest | None = None, call_timeout: float | None = None
    ) -> signal_pb2.ListStrategiesResponse:
        request = request or signal_pb2.ListStrategiesRequest()
        return await self._call(self.signals.ListStrategies, request, retried=True, call_timeout=call_timeout)

    async def stream_signals(
        self,
        strategy_ids: Sequence[str] = (),
        after_sequence: int | None = None,
        *,
        heartbeat_seconds: int = 5,
        request: signal_pb2.StreamSignalsRequest | None = None,
    ) -> AsyncGenerator[signal_pb2.StreamSignalsResponse, None]:
        """Every message of the signal stream, from after `after_sequence` (default: where this
        client left off, else from now), resumed after transient failures from the last sequence
        received, so no change is missed or repeated."""
        if request is None:
            request = signal_pb2.StreamSignalsRequest(
                strategy_ids=list(strategy_ids), heartbeat_interval=Duration(seconds=heartbeat_seconds)
            )
            if after_sequence is not None:
                request.after_sequence = after_sequence
        if request.HasField("after_sequence"):
            self.last_signal_sequence = request.after_sequence

        def resume() -> grpc.aio.UnaryStreamCall[signal_pb2.StreamSignalsRequest, signal_pb2.StreamSignalsResponse]:
            again = signal_pb2.StreamSignalsRequest()
            again.CopyFrom(request)
            if self.last_signal_sequence is not None:
                again.after_sequence = self.last_signal_sequence
            return self.signals.StreamSignals(again, metadata=self.metadata)

        messages: AsyncGenerator[signal_pb2.StreamSignalsResponse, None] = self._resumable(resume)
        async with contextlib.aclosing(messages):
            async for message in messages:
                kind = message.WhichOneof("event")
                if kind == "signal_event":
                    self.last_signal_sequence = message.signal_event.sequence
                elif kind == "replay_complete" and self.last_signal_sequence is None:
                    self.last_signal_sequence = message.replay_complete.last_sequence
                yield message
