"""What every request must satisfy before any handler sees it: sizes, formats and ranges.

`check_request` walks a decoded request by its descriptor, once, before authorization and before
anything reaches Kite or storage, and answers INVALID_ARGUMENT naming the first bad field:

- every string is at most its field's length (STRING_LIMITS, else DEFAULT_STRING) and every
  repeated field or map at most its count (REPEATED_LIMITS, else DEFAULT_REPEATED);
- ids and credentials have Kite's forms (FORMATS): an order id is digits, an account id letters and
  digits, an api_key or token printable ASCII without separators, an auction number digits;
- enum fields hold numbers the enum defines; Timestamps and Durations are within their documented
  ranges; Decimals follow the documented grammar (grpc/decimal_text.py) and are below MAX_DECIMAL; Dates are
  calendar dates; quantities at most MAX_QUANTITY
  (so that price times quantity stays within an int64 of units);
- GTT ids that name a trigger are positive.

Fields the API documents as ignored in requests (OUTPUT_ONLY) are cleared, and unknown fields are
discarded, so neither reaches the audit trail or an idempotency fingerprint. Error messages quote
at most a short prefix of what was sent.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from kite_gateway.core.orders import CLIENT_ORDER_ID
from kite_gateway.errors import invalid
from kite_gateway.grpc import decimal_text
from kite_gateway.kite import ORDER_ID, preview

MAX_REQUEST_BYTES = 1024 * 1024  # the largest valid request (5000 instruments by symbol) is ~350 KiB
DEFAULT_STRING = 256
DEFAULT_REPEATED = 100
MAX_DECIMAL = 10**9  # one billion rupees: far above any price, percentage or strike
MAX_QUANTITY = 10**9

# Longest string of each field, by "Message.field" (characters).
STRING_LIMITS: dict[str, int] = {
    "SetKillSwitchRequest.reason": 500,
    "SearchInstrumentsRequest.query": 200,
    "SearchInstrumentsRequest.segments": 32,
    "InstrumentRef.symbol": 64,
    "KiteAlertParams.name": 200,
    "OrderTarget.order_id": 32,
    "ListAuditEventsRequest.order_id": 32,
    "ChargeableFill.order_id": 32,
    "ListAuditEventsRequest.page_token": 32,
    "UpdateSubscriptionRequest.subscription_id": 64,
    "OrderParams.auction_number": 10,
}
# Most items of each repeated field or map, by "Message.field".
REPEATED_LIMITS: dict[str, int] = {
    "GetQuoteRequest.instruments": 5000,
    "GetLtpRequest.instruments": 5000,
    "GetOhlcRequest.instruments": 5000,
    "GetInstrumentsRequest.instruments": 1000,
    "StreamTicksRequest.instruments": 3000,
    "UpdateSubscriptionRequest.add": 3000,
    "UpdateSubscriptionRequest.remove": 3000,
    "PlaceBulkOrdersRequest.legs": 500,
    "GetOrderMarginsRequest.orders": 200,
    "GetOrderChargesRequest.fills": 200,
    "GetConsolidatedPortfolioRequest.account_ids": 1000,
    "GttParams.trigger_values": 2,
    "GttParams.legs": 2,
    "KiteAlertParams.basket": 20,
    "DeleteKiteAlertsRequest.alert_ids": 100,
    "GetLoginUrlRequest.redirect_params": 16,
}

ACCOUNT_ID = re.compile(r"[A-Za-z0-9]{1,32}")
CREDENTIAL = re.compile(r"[A-Za-z0-9._~+/=-]{1,256}")  # printable ASCII: safe in an HTTP header
AUCTION_NUMBER = re.compile(r"[0-9]{1,10}")
_ACCOUNT = (ACCOUNT_ID, "a Kite user id: 1-32 letters and digits, e.g. AB1234", 32)
_CREDENTIAL = (CREDENTIAL, "1-256 characters of letters, digits and . _ ~ + / = -, as Kite issues them", 256)
_ALERT_ID = (
    re.compile(r"[0-9A-Fa-f-]{1,64}"),
    "a Kite alert id: a UUID, e.g. 550e8400-e29b-41d4-a716-446655440000",
    64,
)
_CLIENT_ORDER_ID = (CLIENT_ORDER_ID, "1-64 characters of letters, digits and . _ : - (the idempotency key)", 64)
# Fields with a format, by field name (any message) or "Message.field": (pattern, in words, length).
FORMATS: dict[str, tuple[re.Pattern[str], str, int]] = {
    "account_id": _ACCOUNT,
    "account_ids": _ACCOUNT,
    "client_order_id": _CLIENT_ORDER_ID,
    "api_key": _CREDENTIAL,
    "access_token": _CREDENTIAL,
    "api_secret": _CREDENTIAL,
    "request_token": _CREDENTIAL,
    "alert_id": _ALERT_ID,
    "alert_ids": _ALERT_ID,
    "OrderTarget.order_id": (ORDER_ID, "a Kite order id: digits, e.g. 151220000000000", 32),
    "OrderParams.auction_number": (AUCTION_NUMBER, "Kite's auction number: 1-10 digits", 10),
}
# GTT ids that name an existing trigger.
POSITIVE_IDS = frozenset({"ModifyGttRequest.gtt_id", "DeleteGttRequest.gtt_id", "GetGttRequest.gtt_id"})
# Fields documented as ignored in requests: cleared before anything reads the request.
OUTPUT_ONLY = frozenset({"kite_gateway.v1.GttLeg.result"})

TIMESTAMP_SECONDS = (-62_135_596_800, 253_402_300_799)  # 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z
DURATION_SECONDS = 315_576_000_000  # 10,000 years, as google.protobuf.Duration documents
NANOS = 999_999_999


def _short(descriptor: Any, fd: FieldDescriptor) -> str:
    return f"{descriptor.name}.{fd.name}"


def _check_string(key: str, fd: FieldDescriptor, value: str, path: str) -> None:
    rule = FORMATS.get(key) or FORMATS.get(fd.name)
    most = rule[2] if rule else STRING_LIMITS.get(key, DEFAULT_STRING)
    if len(value) > most:
        raise invalid(path, f"at most {most} characters (got {len(value)})")
    if rule and value and rule[0].fullmatch(value) is None:
        raise invalid(path, f"{preview(value)} is not {rule[1]}")


def _check_scalar(descriptor: Any, fd: FieldDescriptor, value: Any, path: str) -> None:
    key = _short(descriptor, fd)
    if fd.type == FieldDescriptor.TYPE_STRING:
        _check_string(key, fd, value, path)
    elif fd.type == FieldDescriptor.TYPE_BYTES:
        if len(value) > STRING_LIMITS.get(key, DEFAULT_STRING):
            raise invalid(path, f"at most {STRING_LIMITS.get(key, DEFAULT_STRING)} bytes (got {len(value)})")
    elif fd.type == FieldDescriptor.TYPE_ENUM:
        enum: Any = fd.enum_type
        if enum.values_by_number.get(value) is None:
            known = ", ".join(v.name for v in enum.values)
            raise invalid(path, f"{value} is not a {enum.name} value (one of {known})")
    elif fd.cpp_type in (FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64):
        if fd.name.endswith("quantity") and abs(value) > MAX_QUANTITY:
            raise invalid(path, f"{value} is out of range: at most {MAX_QUANTITY:,} in absolute value")
        if key in POSITIVE_IDS and value <= 0:
            raise invalid(path, f"required: a GTT id from PlaceGtt or ListGtts (a positive integer), not {value}")


def _check_well_known(message: Message, path: str) -> bool:
    """Range checks of Timestamp, Duration and Decimal; True when `message` is one of them."""
    name = message.DESCRIPTOR.full_name
    if name == "google.protobuf.Timestamp":
        seconds, nanos = message.seconds, message.nanos  # type: ignore[attr-defined]
        if not TIMESTAMP_SECONDS[0] <= seconds <= TIMESTAMP_SECONDS[1] or not 0 <= nanos <= NANOS:
            raise invalid(
                path, "not a valid Timestamp: seconds must be within years 0001-9999 and nanos within 0-999999999"
            )
        return True
    if name == "google.protobuf.Duration":
        seconds, nanos = message.seconds, message.nanos  # type: ignore[attr-defined]
        mixed = seconds and nanos and (seconds > 0) != (nanos > 0)
        if abs(seconds) > DURATION_SECONDS or abs(nanos) > NANOS or mixed:
            raise invalid(path, "not a valid Duration: at most 10,000 years, nanos with the sign of seconds")
        return True
    if name == "google.type.Decimal":
        number = decimal_text.parse(message.value, path)  # type: ignore[attr-defined]
        if abs(number) >= MAX_DECIMAL:
            raise invalid(path, f"out of range: less than {MAX_DECIMAL:,} in absolute value")
        return True
    if name == "google.type.Date":
        year, month, day = message.year, message.month, message.day  # type: ignore[attr-defined]
        if (year, month, day) != (0, 0, 0):
            try:
                date(year, month, day)
            except ValueError:
                raise invalid(
                    path, f"{year:04d}-{month:02d}-{day:02d} is not a calendar date: give year, month and day"
                ) from None
        return True
    return False


def _walk(message: Message, path: str) -> None:
    if _check_well_known(message, path):
        return
    descriptor = message.DESCRIPTOR
    for fd, value in message.ListFields():
        if fd.full_name in OUTPUT_ONLY:
            message.ClearField(fd.name)
            continue
        key = _short(descriptor, fd)
        here = f"{path}.{fd.name}" if path else fd.name
        if fd.is_repeated:
            most = REPEATED_LIMITS.get(key, DEFAULT_REPEATED)
            if len(value) > most:
                raise invalid(here, f"at most {most} items (got {len(value)})")
            if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
                key_fd, value_fd = fd.message_type.fields_by_name["key"], fd.message_type.fields_by_name["value"]
                for entry_key, entry_value in value.items():
                    _check_scalar(fd.message_type, key_fd, entry_key, f"{here}.key")
                    if value_fd.message_type is not None:
                        _walk(entry_value, f"{here}[{preview(entry_key)}]")
                    else:
                        _check_scalar(fd.message_type, value_fd, entry_value, f"{here}[{preview(entry_key)}]")
                continue
            for i, item in enumerate(value):
                if fd.message_type is not None:
                    _walk(item, f"{here}[{i}]")
                else:
                    _check_scalar(descriptor, fd, item, f"{here}[{i}]")
        elif fd.message_type is not None:
            _walk(value, here)
        else:
            _check_scalar(descriptor, fd, value, here)


def check_request(request: Message) -> None:
    """Raise INVALID_ARGUMENT for the first field out of bounds; clear output-only and unknown fields."""
    request.DiscardUnknownFields()
    _walk(request, "")
    descriptor: Any = request.DESCRIPTOR
    for key in POSITIVE_IDS:  # unset is zero, which ListFields does not show
        message, _, field = key.partition(".")
        if message == descriptor.name and getattr(request, field) <= 0:
            _check_scalar(descriptor, descriptor.fields_by_name[field], getattr(request, field), field)
