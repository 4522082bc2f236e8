"""Hypothesis strategies built from protobuf message descriptors, for fuzzing every RPC.

`requests(descriptor)` draws arbitrary messages of a type: every field may be set or not, scalars
lean towards their edges (0, -1, 2^31, 2^63-1, 2^64-1), strings towards the inputs that have broken
gateways (paths, non-Latin-1 text, control characters, very long text), enums towards numbers the
enum does not define, Timestamps and Durations towards values out of their range. String fields a
request names its account or instrument with are drawn partly from `known` values, so that calls
get past the first lookup and reach deeper code. `raw_payloads()` draws bytes that may not decode
as any message. Used by tests/e2e/test_fuzz.py and bench/fuzz_memory_bench.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.type.date_pb2 import Date
from google.type.decimal_pb2 import Decimal as Decimal_pb
from hypothesis import strategies as st
from kite_gateway_api.v1 import (
    account_pb2,
    alert_pb2,
    common_pb2,
    market_data_pb2,
    order_pb2,
    portfolio_pb2,
    report_pb2,
    signal_pb2,
)

INT32_EDGES = (0, 1, -1, 2**31 - 1, -(2**31), 60, 100, 1000)
UINT32_EDGES = (0, 1, 2**32 - 1, 408065, 2**31)
INT64_EDGES = (0, 1, -1, 2**62, 2**63 - 1, -(2**63), 10**12, 151220000000000)
UINT64_EDGES = (0, 1, 2**64 - 1, 2**63, 2**62)
NASTY_STRINGS = (
    "",
    " ",
    "1/../../portfolio/holdings",
    "../../user/profile",
    "%2e%2e%2fportfolio%2fholdings",
    "1?x=1",
    "1#frag",
    "regular/1",
    "NSE:INFY",
    "NSE:",
    ":",
    "é",
    "\u20ac\u0915\u093f\u091f",
    "\U0001f4b8",
    "\x00",
    "a\r\nX-Injected: 1",
    "\t",
    "9" * 40,
    "-1",
    "1e9",
    "NaN",
    "0x10",
)


# google.type.Decimal strings near the edges of the accepted grammar.
DECIMAL_TEXTS = ("1500", "1573.15", "-0.05", ".5", "5.", "+1", "1e3", "1E-8", "1e-9", "0.000000001", "1" * 21,
                 "9" * 19, "1e308", "-0", "1_000", "١٢٣", "inf", "sNaN")  # fmt: skip


# The strategies the fuzzed gateway has (every sizing mode, an account group, a budget, approval), so
# that SignalService calls get past the strategy lookup; FUZZ_PENDING_SIGNAL waits for approval.
FUZZ_STRATEGY, FUZZ_GATED_STRATEGY, FUZZ_PENDING_SIGNAL = "fuzz", "fuzz-gated", "fuzz-pending"
FUZZ_STRATEGIES = f"""
[account_groups]
fuzz-group = ["ZS0002"]

[strategies.{FUZZ_STRATEGY}]
accounts = ["ZS0001"]
groups = ["fuzz-group"]

[strategies.{FUZZ_STRATEGY}.sizing.accounts.ZS0002]
mode = "capital_share"
fraction = "0.01"

[strategies.{FUZZ_STRATEGY}.budget]
max_capital = "100000"

[strategies.{FUZZ_GATED_STRATEGY}]
accounts = ["ZS0001"]

[strategies.{FUZZ_GATED_STRATEGY}.sizing]
mode = "risk"
risk_amount = "100"
stop_distance = "10"

[strategies.{FUZZ_GATED_STRATEGY}.approval]
required = true
"""


@dataclass(frozen=True)
class Known:
    """Values that exist in the stack under test, so that fuzzed calls get past the first lookup."""

    account_ids: Sequence[str] = ("ZS0001", "ZS0002")
    symbols: Sequence[str] = ("NSE:INFY", "NSE:RELIANCE", "NSE:NIFTY 50")
    tokens: Sequence[int] = (408065,)
    order_ids: Sequence[str] = ()
    extra: Mapping[str, Sequence[str]] = field(default_factory=dict)


def long_text(most: int) -> st.SearchStrategy[str]:
    """Long strings made cheaply (hypothesis would take ages to draw them character by character)."""
    return st.tuples(st.sampled_from("x9é\u20ac/"), st.integers(min_value=100, max_value=most)).map(
        lambda pair: pair[0] * pair[1]
    )


def text(known: Sequence[str] = (), long_most: int = 70_000) -> st.SearchStrategy[str]:
    options: list[st.SearchStrategy[str]] = [
        st.sampled_from(NASTY_STRINGS),
        st.text(max_size=12),
        long_text(long_most),
    ]
    if known:
        options.insert(0, st.sampled_from(list(known)))
    return st.one_of(*options)


def _edges(values: Sequence[int], low: int, high: int) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(list(values)), st.integers(min_value=low, max_value=high))


def _scalar(fd: FieldDescriptor, known: Known, long_most: int) -> st.SearchStrategy[Any]:
    kind = fd.type
    if kind == FieldDescriptor.TYPE_STRING:
        name = fd.name
        if name in ("account_id", "account_ids"):
            return text(known.account_ids, long_most)
        if name == "symbol":
            return text(known.symbols, long_most)
        if name == "order_id":
            return text(known.order_ids, long_most)
        if fd.containing_type is not None and fd.containing_type.full_name == "google.type.Decimal":
            return text(DECIMAL_TEXTS, long_most)
        return text(known.extra.get(name, ()), long_most)
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_ENUM:
        enum: Any = fd.enum_type
        numbers = [v.number for v in enum.values]
        return st.one_of(st.sampled_from(numbers), st.sampled_from([-1, 99, 2**31 - 1]))
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32 if kind == FieldDescriptor.TYPE_FLOAT else 64)
    if kind in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        if fd.name == "instrument_token":
            return st.one_of(st.sampled_from(list(known.tokens)), _edges(UINT32_EDGES, 0, 2**32 - 1))
        return _edges(UINT32_EDGES, 0, 2**32 - 1)
    if kind in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return _edges(UINT64_EDGES, 0, 2**64 - 1)
    if kind in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64):
        return _edges(INT64_EDGES, -(2**63), 2**63 - 1)
    return _edges(INT32_EDGES, -(2**31), 2**31 - 1)


def _is_repeated(fd: FieldDescriptor) -> bool:
    return bool(fd.is_repeated)


def _is_map(fd: FieldDescriptor) -> bool:
    return bool(_is_repeated(fd) and fd.message_type is not None and fd.message_type.GetOptions().map_entry)


@st.composite
def _message(draw: st.DrawFn, descriptor: Descriptor, known: Known, depth: int, long_most: int) -> Message:
    message = message_factory.GetMessageClass(descriptor)()
    for fd in descriptor.fields:
        if not draw(st.booleans()):
            continue
        if _is_map(fd):
            entry: Any = fd.message_type
            key_fd, value_fd = entry.fields_by_name["key"], entry.fields_by_name["value"]
            target = getattr(message, fd.name)
            for _ in range(draw(st.integers(min_value=0, max_value=3))):
                key = draw(_scalar(key_fd, known, long_most))
                if value_fd.message_type is not None:
                    if depth < 3:
                        target[key].CopyFrom(draw(_message(value_fd.message_type, known, depth + 1, long_most)))
                else:
                    target[key] = draw(_scalar(value_fd, known, long_most))
            continue
        if fd.message_type is not None:
            if depth >= 3:
                continue
            if _is_repeated(fd):
                count = draw(st.integers(min_value=0, max_value=3))
                items = [draw(_message(fd.message_type, known, depth + 1, long_most)) for _ in range(count)]
                getattr(message, fd.name).extend(items)
            else:
                getattr(message, fd.name).CopyFrom(draw(_message(fd.message_type, known, depth + 1, long_most)))
            continue
        if _is_repeated(fd):
            many = fd.type == FieldDescriptor.TYPE_ENUM
            count = draw(st.sampled_from([0, 1, 2, 3, 5001]) if many else st.integers(0, 3))
            if count > 3:  # one value many times: cheap to draw, and past any count limit
                getattr(message, fd.name).extend([draw(_scalar(fd, known, long_most))] * count)
            else:
                getattr(message, fd.name).extend([draw(_scalar(fd, known, long_most)) for _ in range(count)])
            continue
        setattr(message, fd.name, draw(_scalar(fd, known, long_most)))
    return message


def requests(descriptor: Descriptor, known: Known | None = None, long_most: int = 70_000) -> st.SearchStrategy[Message]:
    """Arbitrary messages of `descriptor`'s type."""
    return _message(descriptor, known or Known(), 0, long_most)


# Bytes that are not a valid encoding of most messages: invalid UTF-8 in a string field, truncated
# varints and lengths, wrong wire types, group tags, and field numbers out of range.
BROKEN_PAYLOADS = (
    b"\x0a\x02\xff\xfe",
    b"\x0a\x05ab",
    b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
    b"\x08",
    b"\x0b",
    b"\x0c",
    b"\x00",
    b"\xff\xff\xff\xff\x0f",
    b"\x0f\x00",
    b"\x12\x80\x80\x80\x80\x10",
    b"\x12\x03\x0a\x01\xc3",
    b"\x1a\x04\x0a\x02\xed\xa0",
)


def raw_payloads() -> st.SearchStrategy[bytes]:
    return st.one_of(st.sampled_from(BROKEN_PAYLOADS), st.binary(max_size=48))


@st.composite
def _mutated(draw: st.DrawFn, template: Message, known: Known, depth: int, long_most: int) -> Message:
    message = type(template)()
    message.CopyFrom(template)
    descriptor: Any = message.DESCRIPTOR
    for fd in descriptor.fields:
        action = draw(st.integers(min_value=0, max_value=9))
        if action == 0:
            message.ClearField(fd.name)
        elif action == 1:
            message.ClearField(fd.name)
            if _is_map(fd) or fd.is_repeated or fd.message_type is not None:
                replacement = draw(_message(descriptor, known, max(depth, 2), long_most))
                getattr(message, fd.name).MergeFrom(getattr(replacement, fd.name))
            else:
                setattr(message, fd.name, draw(_scalar(fd, known, long_most)))
        elif action == 2 and fd.message_type is not None and depth < 3 and not _is_map(fd):
            if fd.is_repeated:
                items = list(getattr(message, fd.name))
                if items:
                    i = draw(st.integers(min_value=0, max_value=len(items) - 1))
                    items[i] = draw(_mutated(items[i], known, depth + 1, long_most))
                    message.ClearField(fd.name)
                    getattr(message, fd.name).extend(items)
            elif message.HasField(fd.name):
                getattr(message, fd.name).CopyFrom(draw(_mutated(getattr(message, fd.name), known, depth + 1,
                                                                 long_most)))  # fmt: skip
    return message


def mutations(template: Message, known: Known | None = None, long_most: int = 70_000) -> st.SearchStrategy[Message]:
    """A valid request with some of its fields cleared or replaced by arbitrary values (and some of
    its messages mutated in turn): calls that get past the first checks and reach deeper code."""
    return _mutated(template, known or Known(), 0, long_most)


def fuzzed(
    template: Message | None, descriptor: Descriptor, known: Known | None = None, long_most: int = 70_000
) -> st.SearchStrategy[Message]:
    """Mostly mutations of `template` (when there is one), sometimes wholly arbitrary messages."""
    arbitrary = requests(descriptor, known, long_most)
    if template is None:
        return arbitrary
    mutated = mutations(template, known, long_most)
    return st.one_of(mutated, mutated, mutated, arbitrary)


# Valid requests, for mutations to start from ------------------------------------------------------------


def ref(symbol: str) -> common_pb2.InstrumentRef:
    return common_pb2.InstrumentRef(symbol=symbol)


def _decimal(text: str) -> Decimal_pb:
    return Decimal_pb(value=text)


ALERT_ID = "00000000-0000-0000-0000-000000000000"  # names no alert


def templates(order_id: str, gtt_id: int, subscription_id: str) -> dict[str, Message]:
    """One valid request per method, for mutations to start from."""
    account = "ZS0001"
    days = report_pb2.DateRange(start=Date(year=2026, month=1, day=1), end=Date(year=2026, month=12, day=31))
    market = order_pb2.OrderParams(
        instrument=ref("NSE:INFY"), transaction_type=common_pb2.TRANSACTION_TYPE_BUY,
        variety=common_pb2.VARIETY_REGULAR, order_type=common_pb2.ORDER_TYPE_MARKET, product=common_pb2.PRODUCT_CNC,
        quantity=1,
    )  # fmt: skip
    limit = order_pb2.OrderParams()
    limit.CopyFrom(market)
    limit.order_type = common_pb2.ORDER_TYPE_LIMIT
    limit.price.CopyFrom(_decimal("1500"))
    alert = order_pb2.KiteAlertParams(
        name="fuzz", type=order_pb2.KITE_ALERT_TYPE_SIMPLE, instrument=ref("NSE:INFY"),
        attribute=order_pb2.KITE_ALERT_ATTRIBUTE_LAST_PRICE, operator=order_pb2.KITE_ALERT_OPERATOR_GREATER_EQUAL,
        constant=_decimal("100000"),
    )  # fmt: skip
    gtt = order_pb2.GttParams(
        type=order_pb2.GTT_TYPE_SINGLE,
        instrument=ref("NSE:INFY"),
        last_price=_decimal("1573.15"),
        trigger_values=[_decimal("1400")],
        legs=[order_pb2.GttLeg(transaction_type=common_pb2.TRANSACTION_TYPE_BUY, quantity=1,
                               product=common_pb2.PRODUCT_CNC, price=_decimal("1400"))],
    )  # fmt: skip
    start, end = Timestamp(seconds=1_795_000_000), Timestamp(seconds=1_795_500_000)
    target = order_pb2.OrderTarget(order_id=order_id)
    fill = order_pb2.ChargeableFill(
        order_id=order_id, instrument=ref("NSE:INFY"), transaction_type=common_pb2.TRANSACTION_TYPE_BUY,
        variety=common_pb2.VARIETY_REGULAR, product=common_pb2.PRODUCT_CNC, order_type=common_pb2.ORDER_TYPE_MARKET,
        quantity=1, average_price=_decimal("1573"),
    )  # fmt: skip
    refs = [ref("NSE:INFY"), common_pb2.InstrumentRef(instrument_token=408065)]
    signal = signal_pb2.Signal(
        signal_id="fuzz-sig-1", instrument=ref("NSE:INFY"),
        delta=signal_pb2.SignalDelta(side=common_pb2.TRANSACTION_TYPE_BUY, quantity=1), price_hint=_decimal("1500"),
        urgency=signal_pb2.SignalUrgency(limit_offset_ticks=2), validity=common_pb2.VALIDITY_DAY,
        product=common_pb2.PRODUCT_MIS, stop_distance=_decimal("5"),
    )  # fmt: skip
    pending = {"strategy_id": FUZZ_GATED_STRATEGY, "signal_id": FUZZ_PENDING_SIGNAL}
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
        "GetOrderMargins": order_pb2.GetOrderMarginsRequest(account_id=account, orders=[limit, market]),
        "GetOrderCharges": order_pb2.GetOrderChargesRequest(account_id=account, fills=[fill]),
        "PlaceGtt": order_pb2.PlaceGttRequest(account_id=account, client_order_id="fuzz-gtt", params=gtt),
        "ModifyGtt": order_pb2.ModifyGttRequest(account_id=account, gtt_id=gtt_id, params=gtt),
        "DeleteGtt": order_pb2.DeleteGttRequest(account_id=account, gtt_id=gtt_id),
        "ListGtts": order_pb2.ListGttsRequest(account_id=account),
        "GetGtt": order_pb2.GetGttRequest(account_id=account, gtt_id=gtt_id),
        "CreateKiteAlert": order_pb2.CreateKiteAlertRequest(account_id=account, params=alert),
        "ModifyKiteAlert": order_pb2.ModifyKiteAlertRequest(account_id=account, alert_id=ALERT_ID, params=alert),
        "DeleteKiteAlerts": order_pb2.DeleteKiteAlertsRequest(account_id=account, alert_ids=[ALERT_ID]),
        "ListKiteAlerts": order_pb2.ListKiteAlertsRequest(account_id=account),
        "GetKiteAlert": order_pb2.GetKiteAlertRequest(account_id=account, alert_id=ALERT_ID),
        "GetKiteAlertHistory": order_pb2.GetKiteAlertHistoryRequest(account_id=account, alert_id=ALERT_ID),
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
            instrument=ref("NSE:INFY"),
            transaction_type=common_pb2.TRANSACTION_TYPE_BUY,
            position_type=portfolio_pb2.POSITION_TYPE_DAY,
            quantity=1,
            old_product=common_pb2.PRODUCT_MIS,
            new_product=common_pb2.PRODUCT_CNC,
        ),
        "GetConsolidatedPortfolio": portfolio_pb2.GetConsolidatedPortfolioRequest(account_ids=["ZS0001", "ZS0002"]),
        "GetExitStatus": portfolio_pb2.GetExitStatusRequest(account_id=account),
        "GetQuote": market_data_pb2.GetQuoteRequest(account_id=account, instruments=refs),
        "GetLtp": market_data_pb2.GetLtpRequest(account_id=account, instruments=refs),
        "GetOhlc": market_data_pb2.GetOhlcRequest(account_id=account, instruments=refs),
        "GetHistoricalData": market_data_pb2.GetHistoricalDataRequest(
            account_id=account,
            instrument=ref("NSE:INFY"),
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
            expiry_from=Date(year=2026, month=12, day=1),
            expiry_to=Date(year=2027, month=3, day=31),
            strike_min=_decimal("1"),
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
            add=[ref("NSE:RELIANCE")],
            mode=market_data_pb2.TICK_MODE_FULL,
            remove=[ref("NSE:INFY")],
        ),
        "ListSubscriptions": market_data_pb2.ListSubscriptionsRequest(account_id=account),
        "ListAlerts": alert_pb2.ListAlertsRequest(
            page_size=10, kinds=[alert_pb2.ALERT_KIND_PRICE_CROSS], min_severity=alert_pb2.ALERT_SEVERITY_WARNING
        ),
        "StreamAlerts": alert_pb2.StreamAlertsRequest(after_sequence=0, heartbeat_interval=Duration(seconds=5)),
        "PutAlertRule": alert_pb2.PutAlertRuleRequest(
            rule=alert_pb2.AlertRule(
                rule_id="fuzz-rule",
                scope="NSE:INFY",
                price_cross=alert_pb2.PriceCrossRule(
                    direction=alert_pb2.PRICE_CROSS_DIRECTION_ABOVE, level=_decimal("100000")
                ),
            )
        ),
        "DeleteAlertRule": alert_pb2.DeleteAlertRuleRequest(rule_id="fuzz-rule"),
        "ListAlertDeadLetters": alert_pb2.ListAlertDeadLettersRequest(sink_id="ops", page_size=10),
        "SubmitSignal": signal_pb2.SubmitSignalRequest(strategy_id=FUZZ_STRATEGY, signal=signal),
        "GetSignal": signal_pb2.GetSignalRequest(strategy_id=FUZZ_STRATEGY, signal_id="fuzz-sig-1"),
        "ListSignals": signal_pb2.ListSignalsRequest(strategy_id=FUZZ_STRATEGY, page_size=10),
        "ApproveSignal": signal_pb2.ApproveSignalRequest(**pending),
        "RejectSignal": signal_pb2.RejectSignalRequest(**pending),
        "ListStrategies": signal_pb2.ListStrategiesRequest(),
        "StreamSignals": signal_pb2.StreamSignalsRequest(
            after_sequence=0, strategy_ids=[FUZZ_STRATEGY], heartbeat_interval=Duration(seconds=5)
        ),
        "GetTradebook": report_pb2.GetTradebookRequest(
            scope=report_pb2.ReportScope(account_ids=[account]),
            dates=days,
            symbol="NSE:INFY",
            page_size=10,
            transaction_type=common_pb2.TRANSACTION_TYPE_BUY,
            segment=report_pb2.REPORT_SEGMENT_EQUITY,
        ),
        "GetPnlStatement": report_pb2.GetPnlStatementRequest(
            scope=report_pb2.ReportScope(account_ids=[account]), dates=days
        ),
        "GetTaxPnl": report_pb2.GetTaxPnlRequest(
            scope=report_pb2.ReportScope(account_ids=[account]), financial_year=2026
        ),
        "GetDailyReport": report_pb2.GetDailyReportRequest(
            scope=report_pb2.ReportScope(account_ids=[account]), date=Date(year=2026, month=12, day=3)
        ),
    }
