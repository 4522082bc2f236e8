"""The v1 API contract: conventions every message obeys, checked on the compiled descriptors."""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor, FileDescriptor
from kite_gateway_api.v1 import (
    account_pb2,
    alert_pb2,
    common_pb2,
    errors_pb2,
    market_data_pb2,
    order_pb2,
    portfolio_pb2,
)

from kite_gateway.grpc.registry import API_SERVICES

FILES: tuple[FileDescriptor, ...] = tuple(
    module.DESCRIPTOR
    for module in (account_pb2, alert_pb2, common_pb2, errors_pb2, market_data_pb2, order_pb2, portfolio_pb2)
)

# Requests that act on no single account, and why.
NO_ACCOUNT_ID = {
    "GetLoginUrlRequest": "before login there is no account yet",
    "CompleteLoginRequest": "the account id comes from Kite's session exchange",
    "AddAccountRequest": "the account id comes from the token's profile",
    "ListAccountsRequest": "lists every account",
    "PlaceBulkOrdersRequest": "each leg names its account",
    "GetConsolidatedPortfolioRequest": "names several accounts in account_ids",
    "CancelAllOrdersRequest": "a scope: accounts in account_ids, groups, a strategy or an instrument",
    "SquareOffRequest": "a scope: accounts in account_ids, groups, a strategy or an instrument",
    "GetMarketStatusRequest": "the exchanges' calendar is the same for every account",
    "GetTradingCalendarRequest": "the exchanges' calendar is the same for every account",
    **{
        f"{name}Request": "a strategy's signals: the strategy names its accounts"
        for name in ("SubmitSignal", "GetSignal", "ListSignals", "ApproveSignal", "RejectSignal", "StreamSignals")
    },
    "ListStrategiesRequest": "lists every strategy the caller may read",
    **{
        f"{name}Request": "a report's scope: accounts, a group, or every account the caller may read"
        for name in ("GetTradebook", "GetPnlStatement", "GetTaxPnl", "GetDailyReport")
    },
    **{
        f"{name}Request": "the gateway's alerts: gateway-wide, of every account"
        for name in ("ListAlerts", "StreamAlerts", "ListAlertRules", "PutAlertRule", "DeleteAlertRule")
    },
    "ListAlertDeadLettersRequest": "the gateway's webhook deliveries: gateway-wide, of every account",
}


# google.type.Decimal, and messages whose money fields are checked as fields of their own.
MONEY_MESSAGES = {
    "google.type.Decimal",
    "kite_gateway.v1.LastPrice",
    "kite_gateway.v1.MarginBreakdown",
    "kite_gateway.v1.Charges",
    "kite_gateway.v1.BasketMarginPreview",  # amounts as google.type.Decimal
    # alert rules named after what they watch (price_cross, margin_utilisation, pnl_drawdown), their
    # levels, amounts and ceilings google.type.Decimal
    "kite_gateway.v1.PriceCrossRule",
    "kite_gateway.v1.MarginUtilisationRule",
    "kite_gateway.v1.PnlDrawdownRule",
}


def _messages(descriptor: FileDescriptor | Descriptor) -> Iterator[Descriptor]:
    for message in (
        descriptor.message_types_by_name.values()
        if isinstance(descriptor, FileDescriptor)
        else (descriptor.nested_types)
    ):
        yield message
        yield from _messages(message)


def _all_messages() -> list[Descriptor]:
    return [message for file in FILES for message in _messages(file)]


def _all_enums() -> list[EnumDescriptor]:
    return [enum for file in FILES for enum in file.enum_types_by_name.values()]


def test_no_price_or_amount_is_a_binary_float() -> None:
    floats = [
        f"{message.full_name}.{field.name}"
        for message in _all_messages()
        for field in message.fields
        if field.type in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE)
    ]
    assert floats == []


def test_every_request_names_the_account_it_acts_on() -> None:
    for service in API_SERVICES:
        for method in service.descriptor.methods:
            request = method.input_type
            if request.name in NO_ACCOUNT_ID:
                continue
            field = request.fields_by_name.get("account_id")
            assert field is not None, f"{request.name} has no account_id"
            assert field.type == FieldDescriptor.TYPE_STRING


def test_every_call_that_creates_an_order_carries_a_client_order_id() -> None:
    for name in ("PlaceOrderRequest", "PlaceGttRequest", "BulkOrderLeg"):
        assert "client_order_id" in order_pb2.DESCRIPTOR.message_types_by_name[name].fields_by_name, name


def test_every_enum_starts_with_an_unspecified_zero_value() -> None:
    for enum in _all_enums():
        zero = enum.values_by_number[0]
        assert zero.name.endswith("_UNSPECIFIED"), enum.full_name


def test_times_are_protobuf_timestamps() -> None:
    for message in _all_messages():
        for field in message.fields:
            if field.name.endswith(("_time", "_at")) or field.name in {"time", "as_of"}:
                assert field.message_type is not None, f"{message.full_name}.{field.name}"
                assert field.message_type.full_name == "google.protobuf.Timestamp", f"{message.full_name}.{field.name}"


def test_every_stream_carries_a_heartbeat() -> None:
    for service in API_SERVICES:
        for method in service.descriptor.methods:
            if method.server_streaming:
                events = {field.message_type.full_name for field in method.output_type.fields if field.message_type}
                assert "kite_gateway.v1.Heartbeat" in events, method.full_name
                assert "heartbeat_interval" in method.input_type.fields_by_name, method.full_name


def test_every_price_and_amount_is_a_google_type_decimal_string() -> None:
    money_words = ("price", "pnl", "margin", "cash", "charge", "premium", "strike", "tick_size", "turnover")
    wrong = [
        f"{message.full_name}.{field.name}"
        for message in _all_messages()
        for field in message.fields
        if any(word in field.name for word in money_words)
        and field.type not in (FieldDescriptor.TYPE_ENUM, FieldDescriptor.TYPE_BOOL)
        and (field.message_type is None or field.message_type.full_name not in MONEY_MESSAGES)
    ]
    assert wrong == []
    assert "Decimal" not in common_pb2.DESCRIPTOR.message_types_by_name


def test_expiries_are_calendar_dates() -> None:
    expiry = common_pb2.Instrument.DESCRIPTOR.fields_by_name["expiry"].message_type
    assert expiry is not None and expiry.full_name == "google.type.Date"


def test_every_kite_error_type_has_a_documented_reason() -> None:
    reasons = set(errors_pb2.ErrorReason.keys())
    for reason in (
        "ACCOUNT_NEEDS_LOGIN",
        "KITE_INPUT_REJECTED",
        "KITE_ORDER_REJECTED",
        "KITE_INSUFFICIENT_MARGIN",
        "KITE_INSUFFICIENT_HOLDINGS",
        "KITE_PERMISSION_DENIED",
        "KITE_UNAVAILABLE",
        "KITE_RATE_LIMITED",
        "KITE_GENERAL_ERROR",
        "IDEMPOTENCY_KEY_REUSED",
        "ORDER_OUTCOME_UNKNOWN",
    ):
        assert f"ERROR_REASON_{reason}" in reasons
