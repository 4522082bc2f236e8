"""Property: whatever a caller sends to any RPC, the answer is a clear status (never INTERNAL or
UNKNOWN) and the gateway keeps serving.

Every method of every service gets arbitrary messages built from its request descriptor (mostly
mutations of a valid request, so that calls reach deep code: Kite calls, storage, the audit trail)
and raw bytes that may not decode at all, through a real channel. After each call the gateway must
still answer a health check. Hypothesis runs derandomized with a bounded example count
(KITE_FUZZ_EXAMPLES per method, 60 by default: about 20 s on a 2-core machine), no deadline, no
example database: the same examples every run.

The stack runs on its own thread's event loop so that hypothesis (synchronous) drives it through a
blocking channel; state a call may change (removed accounts, an engaged kill switch) is put back
after each example so that the next one starts from the same place.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory, text_format
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from kite_gateway_api.v1 import (
    market_data_pb2,
    market_data_pb2_grpc,
    order_pb2,
    order_pb2_grpc,
    signal_pb2,
    signal_pb2_grpc,
)

from kite_gateway.grpc.registry import API_SERVICES
from kite_gateway.paper import log_in_demo_accounts
from kite_gateway.storage.sealing import Sealer
from kite_simulator import ThreadedSimulator
from tests.e2e.conftest import Stack, market_buy, start_stack, stop_stack, strategies_file
from tests.fuzzing import (
    FUZZ_GATED_STRATEGY,
    FUZZ_PENDING_SIGNAL,
    FUZZ_STRATEGIES,
    Known,
    fuzzed,
    raw_payloads,
    ref,
    templates,
)
from tests.simulator.conftest import regular_hours

EXAMPLES = int(os.environ.get("KITE_FUZZ_EXAMPLES", "60"))
RAW_EXAMPLES = max(4, EXAMPLES // 3)
NEVER = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED)
HANG_GUARD = 60.0  # seconds: only a hung call takes this long (it fails as DEADLINE_EXCEEDED)
METHODS: list[MethodDescriptor] = [m for service in API_SERVICES for m in service.descriptor.methods]


class ThreadedStack:
    """The integration stack on a background event loop, with a blocking channel to it."""

    def __init__(self, tmp_path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzzed-gateway", daemon=True)
        self.thread.start()
        self.tmp_path = tmp_path
        self.sim, self.stack = self.run(self._start())
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.stack.gateway.port}")
        self.health = health_pb2_grpc.HealthStub(self.channel)

    async def _start(self) -> tuple[ThreadedSimulator, Stack]:
        sim = ThreadedSimulator(regular_hours(tick_interval=0.05))
        await sim.start()
        # Client-side Kite limits lifted: the fuzz measures answers, not throttling.
        stack = await start_stack(self.tmp_path, sim, Sealer.generate_key(), rate_limit_per_second=100_000.0,
                                  gateway_strategies_file=strategies_file(self.tmp_path, FUZZ_STRATEGIES))  # fmt: skip
        return sim, stack

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=120)

    async def restore(self) -> None:
        """Undo what a fuzzed call may have changed that later examples rely on."""
        runtime = self.stack.runtime
        if set(runtime.accounts.sessions) < {"ZS0001", "ZS0002"}:
            await log_in_demo_accounts(self.sim, runtime.accounts)
        switches = runtime.risk.kill_switches
        for account_id in ("", "ZS0001", "ZS0002"):
            if switches.state(account_id).engaged:
                await switches.set(account_id, False, "fuzz: released", "fuzz")

    def close(self) -> None:
        self.channel.close()
        self.run(stop_stack(self.stack))
        self.run(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class Fuzzing:
    def __init__(self, threaded: ThreadedStack) -> None:
        self.threaded = threaded
        channel = threaded.channel
        placed = order_pb2_grpc.OrderServiceStub(channel).PlaceOrder(
            order_pb2.PlaceOrderRequest(account_id="ZS0001", client_order_id="fuzz-setup", params=market_buy()),
            timeout=30,
        )
        template = templates("0", 0, "")["PlaceGtt"]
        assert isinstance(template, order_pb2.PlaceGttRequest)
        self.order_id = placed.order_id
        self.gtt_id = order_pb2_grpc.OrderServiceStub(channel).PlaceGtt(template, timeout=30).gtt_id
        pending = templates("0", 0, "")["SubmitSignal"]
        assert isinstance(pending, signal_pb2.SubmitSignalRequest)
        pending.strategy_id, pending.signal.signal_id = FUZZ_GATED_STRATEGY, FUZZ_PENDING_SIGNAL
        signal_pb2_grpc.SignalServiceStub(channel).SubmitSignal(pending, timeout=30)  # waits for approval
        self.stream: Any = None
        self.subscription_id = ""
        self.refresh()

    def refresh(self) -> None:
        """(Re)open a live tick stream of this channel, so that UpdateSubscription finds its
        subscription (a fuzzed RemoveAccount ends the account's streams), and the templates with it."""
        ticks = self.threaded.stack.runtime.tick_streams.find("ZS0001")
        if self.stream is None or ticks is None or self.subscription_id not in ticks.fanout.mailboxes:
            if self.stream is not None:
                self.stream.cancel()
            self.stream = market_data_pb2_grpc.MarketDataServiceStub(self.threaded.channel).StreamTicks(
                market_data_pb2.StreamTicksRequest(account_id="ZS0001", instruments=[ref("NSE:INFY")]), timeout=900
            )
            self.subscription_id = next(self.stream).started.subscription_id
        self.templates = templates(self.order_id, self.gtt_id, self.subscription_id)
        self.known = Known(order_ids=(self.order_id, "1/../../portfolio/holdings"), extra={
            "subscription_id": (self.subscription_id,), "api_key": ("sim_api_key",),
            "client_order_id": ("fuzz-setup", "fuzz-1"), "strategy_id": ("fuzz", FUZZ_GATED_STRATEGY),
            "strategy_ids": ("fuzz", FUZZ_GATED_STRATEGY), "signal_id": ("fuzz-sig-1", FUZZ_PENDING_SIGNAL),
        })  # fmt: skip

    def call(self, method: MethodDescriptor, payload: bytes) -> tuple[grpc.StatusCode, str]:
        path = f"/{method.containing_service.full_name}/{method.name}"
        kind = self.threaded.channel.unary_stream if method.server_streaming else self.threaded.channel.unary_unary
        stub = kind(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        try:
            if method.server_streaming:
                stream = stub(payload, timeout=HANG_GUARD)
                with contextlib.suppress(StopIteration):
                    next(stream)
                stream.cancel()
            else:
                stub(payload, timeout=HANG_GUARD)
        except grpc.RpcError as error:
            return error.code(), error.details() or ""
        return grpc.StatusCode.OK, ""

    def check(self, method: MethodDescriptor, payload: bytes, shown: str) -> tuple[grpc.StatusCode, str]:
        """Call, put state back, and assert the property; returns the status for further checks."""
        code, details = self.call(method, payload)
        self.threaded.run(self.threaded.restore())
        assert code not in NEVER, f"{method.full_name} answered {code.name} ({details[:300]}) to {shown[:600]}"
        health = self.threaded.health.Check(health_pb2.HealthCheckRequest(), timeout=HANG_GUARD)
        assert health.status == health_pb2.HealthCheckResponse.SERVING, f"not serving after {method.full_name}"
        return code, details

    def close(self) -> None:
        self.stream.cancel()


@pytest.fixture(scope="module")
def fuzzing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzing]:
    threaded = ThreadedStack(tmp_path_factory.mktemp("fuzz"))
    harness = Fuzzing(threaded)
    yield harness
    harness.close()
    threaded.close()


SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("method", METHODS, ids=[m.name for m in METHODS])
def test_no_message_sent_to_any_rpc_gets_internal_or_unknown_and_the_gateway_keeps_serving(
    fuzzing: Fuzzing, method: MethodDescriptor
) -> None:
    fuzzing.refresh()
    strategy = fuzzed(fuzzing.templates.get(method.name), method.input_type, fuzzing.known)

    @settings(SETTINGS, max_examples=EXAMPLES)
    @given(strategy)
    def property_(request: Message) -> None:
        fuzzing.check(method, request.SerializeToString(), text_format.MessageToString(request, as_one_line=True))

    property_()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("method", METHODS, ids=[m.name for m in METHODS])
def test_bytes_that_are_not_a_request_get_invalid_argument_from_any_rpc(
    fuzzing: Fuzzing, method: MethodDescriptor
) -> None:
    request_class = message_factory.GetMessageClass(method.input_type)

    @settings(SETTINGS, max_examples=RAW_EXAMPLES)
    @given(raw_payloads())
    def property_(payload: bytes) -> None:
        code, details = fuzzing.check(method, payload, repr(payload))
        try:
            request_class.FromString(payload)
        except DecodeError:
            assert code == grpc.StatusCode.INVALID_ARGUMENT, f"{method.full_name}: {code.name} {details[:200]}"

    property_()
