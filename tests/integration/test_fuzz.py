"""Property: whatever a caller sends to any RPC, the answer is a clear status (never INTERNAL or
UNKNOWN) and the gateway keeps serving.

Every method of every service gets arbitrary messages built from its request descriptor (mostly
mutations of a valid request, so that calls reach deep code: Kite calls, storage, the audit trail)
and raw bytes that may not decode at all, through a real channel. After each call the gateway must
still answer a health check. Hypothesis runs derandomized with a bounded example count
(KITE_FUZZ_EXAMPLES per method, 20 by default: about a minute in all), no deadline, no example
database: the same examples every run.

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
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings

from kite_gateway.paper import log_in_demo_accounts
from kite_gateway.services import API_SERVICES
from kite_gateway.simulator import Simulator
from kite_gateway.storage.sealing import Sealer
from kite_gateway.v1 import (
    account_pb2,
    common_pb2,
    market_data_pb2,
    market_data_pb2_grpc,
    order_pb2,
    order_pb2_grpc,
    portfolio_pb2,
)
from tests.fuzzing import Known, fuzzed, raw_payloads
from tests.integration.conftest import Stack, market_buy, start_stack, stop_stack
from tests.simulator.conftest import regular_hours

EXAMPLES = int(os.environ.get("KITE_FUZZ_EXAMPLES", "20"))
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

    async def _start(self) -> tuple[Simulator, Stack]:
        sim = Simulator(regular_hours(tick_interval=0.05))
        await sim.start()
        # Client-side Kite limits lifted: the fuzz measures answers, not throttling.
        stack = await start_stack(self.tmp_path, sim, Sealer.generate_key(), rate_limit_per_second=100_000.0)
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


def _ref(symbol: str) -> common_pb2.InstrumentRef:
    return common_pb2.InstrumentRef(symbol=symbol)


def _decimal(units: int, nanos: int = 0) -> common_pb2.Decimal:
    return common_pb2.Decimal(units=units, nanos=nanos)


def templates(order_id: str, gtt_id: int, subscription_id: str) -> dict[str, Message]:
    """One valid request per method, for mutations to start from."""
    account = "ZS0001"
    limit = market_buy(order_type=common_pb2.ORDER_TYPE_LIMIT, price=_decimal(1500))
    gtt = order_pb2.GttParams(
        type=order_pb2.GTT_TYPE_SINGLE,
        instrument=_ref("NSE:INFY"),
        last_price=_decimal(1573, 150_000_000),
        trigger_values=[_decimal(1400)],
        legs=[order_pb2.GttLeg(transaction_type=common_pb2.TRANSACTION_TYPE_BUY, quantity=1,
                               product=common_pb2.PRODUCT_CNC, price=_decimal(1400))],
    )  # fmt: skip
    start, end = Timestamp(seconds=1_795_000_000), Timestamp(seconds=1_795_500_000)
    target = order_pb2.OrderTarget(order_id=order_id)
    fill = order_pb2.ChargeableFill(
        order_id=order_id, instrument=_ref("NSE:INFY"), transaction_type=common_pb2.TRANSACTION_TYPE_BUY,
        variety=common_pb2.VARIETY_REGULAR, product=common_pb2.PRODUCT_CNC, order_type=common_pb2.ORDER_TYPE_MARKET,
        quantity=1, average_price=_decimal(1573),
    )  # fmt: skip
    refs = [_ref("NSE:INFY"), common_pb2.InstrumentRef(instrument_token=408065)]
    return {
        "GetLoginUrl": account_pb2.GetLoginUrlRequest(api_key="sim_api_key", redirect_params={"a": "b"}),
        "CompleteLogin": account_pb2.CompleteLoginRequest(api_key="sim_api_key", request_token="abc", api_secret="s"),
        "AddAccount": account_pb2.AddAccountRequest(api_key="sim_api_key", access_token="abc"),
        "ListAccounts": account_pb2.ListAccountsRequest(),
        "GetAccount": account_pb2.GetAccountRequest(account_id=account),
        "RemoveAccount": account_pb2.RemoveAccountRequest(account_id="ZS0002"),
        "GetProfile": account_pb2.GetProfileRequest(account_id=account),
        "GetMargins": account_pb2.GetMarginsRequest(account_id=account, segment=account_pb2.MARGIN_SEGMENT_EQUITY),
        "PlaceOrder": order_pb2.PlaceOrderRequest(account_id=account, client_order_id="fuzz-1", params=limit),
        "ModifyOrder": order_pb2.ModifyOrderRequest(account_id=account, order=target, quantity=2),
        "CancelOrder": order_pb2.CancelOrderRequest(account_id=account, order=target),
        "ListOrders": order_pb2.ListOrdersRequest(account_id=account, statuses=[order_pb2.ORDER_STATUS_OPEN]),
        "GetOrderHistory": order_pb2.GetOrderHistoryRequest(account_id=account, order=target),
        "ListTrades": order_pb2.ListTradesRequest(account_id=account, order=target),
        "GetOrderMargins": order_pb2.GetOrderMarginsRequest(account_id=account, orders=[limit, market_buy()]),
        "GetOrderCharges": order_pb2.GetOrderChargesRequest(account_id=account, fills=[fill]),
        "PlaceGtt": order_pb2.PlaceGttRequest(account_id=account, client_order_id="fuzz-gtt", params=gtt),
        "ModifyGtt": order_pb2.ModifyGttRequest(account_id=account, gtt_id=gtt_id, params=gtt),
        "DeleteGtt": order_pb2.DeleteGttRequest(account_id=account, gtt_id=gtt_id),
        "ListGtts": order_pb2.ListGttsRequest(account_id=account),
        "GetGtt": order_pb2.GetGttRequest(account_id=account, gtt_id=gtt_id),
        "PlaceBulkOrders": order_pb2.PlaceBulkOrdersRequest(
            legs=[
                order_pb2.BulkOrderLeg(account_id=a, client_order_id="fuzz-bulk", params=limit)
                for a in ("ZS0001", "ZS0002")
            ]
        ),
        "StreamOrderUpdates": order_pb2.StreamOrderUpdatesRequest(
            account_id=account, after_sequence=0, heartbeat_interval=Duration(seconds=5)
        ),
        "ListAuditEvents": order_pb2.ListAuditEventsRequest(
            account_id=account, start_time=start, end_time=end, page_size=10, page_token="MQ=="
        ),
        "SetKillSwitch": order_pb2.SetKillSwitchRequest(account_id=account, engaged=True, reason="fuzz"),
        "GetKillSwitch": order_pb2.GetKillSwitchRequest(account_id=account),
        "GetPositions": portfolio_pb2.GetPositionsRequest(account_id=account),
        "GetHoldings": portfolio_pb2.GetHoldingsRequest(account_id=account),
        "ConvertPosition": portfolio_pb2.ConvertPositionRequest(
            account_id=account,
            instrument=_ref("NSE:INFY"),
            transaction_type=common_pb2.TRANSACTION_TYPE_BUY,
            position_type=portfolio_pb2.POSITION_TYPE_DAY,
            quantity=1,
            old_product=common_pb2.PRODUCT_MIS,
            new_product=common_pb2.PRODUCT_CNC,
        ),
        "GetConsolidatedPortfolio": portfolio_pb2.GetConsolidatedPortfolioRequest(account_ids=["ZS0001", "ZS0002"]),
        "GetQuote": market_data_pb2.GetQuoteRequest(account_id=account, instruments=refs),
        "GetLtp": market_data_pb2.GetLtpRequest(account_id=account, instruments=refs),
        "GetOhlc": market_data_pb2.GetOhlcRequest(account_id=account, instruments=refs),
        "GetHistoricalData": market_data_pb2.GetHistoricalDataRequest(
            account_id=account,
            instrument=_ref("NSE:INFY"),
            interval=market_data_pb2.CANDLE_INTERVAL_DAY,
            start_time=start,
            end_time=end,
        ),
        "SearchInstruments": market_data_pb2.SearchInstrumentsRequest(
            account_id=account,
            query="nifty",
            exchanges=[common_pb2.EXCHANGE_NFO],
            instrument_types=[common_pb2.INSTRUMENT_TYPE_FUT],
            segments=["NFO-FUT"],
            expiry_start=start,
            expiry_end=end,
            strike_min=_decimal(1),
            page_size=5,
        ),
        "GetInstruments": market_data_pb2.GetInstrumentsRequest(account_id=account, instruments=refs),
        "StreamTicks": market_data_pb2.StreamTicksRequest(
            account_id=account,
            instruments=refs,
            mode=market_data_pb2.TICK_MODE_LTP,
            heartbeat_interval=Duration(seconds=5),
        ),
        "UpdateSubscription": market_data_pb2.UpdateSubscriptionRequest(
            account_id=account,
            subscription_id=subscription_id,
            add=[_ref("NSE:RELIANCE")],
            mode=market_data_pb2.TICK_MODE_FULL,
            remove=[_ref("NSE:INFY")],
        ),
        "ListSubscriptions": market_data_pb2.ListSubscriptionsRequest(account_id=account),
    }


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
                market_data_pb2.StreamTicksRequest(account_id="ZS0001", instruments=[_ref("NSE:INFY")]), timeout=900
            )
            self.subscription_id = next(self.stream).started.subscription_id
        self.templates = templates(self.order_id, self.gtt_id, self.subscription_id)
        self.known = Known(order_ids=(self.order_id, "1/../../portfolio/holdings"), extra={
            "subscription_id": (self.subscription_id,), "api_key": ("sim_api_key",),
            "client_order_id": ("fuzz-setup", "fuzz-1"),
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
