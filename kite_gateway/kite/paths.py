"""The formats of everything that goes into a Kite URL path, checked before any call to Kite.

The official client builds URLs by formatting its arguments into route templates such as
`/orders/{variety}/{order_id}`, unescaped: an order id of `1/../../portfolio/holdings` would make it
read another endpoint. `check_call` looks at every path parameter of a client method by its name
and refuses (INVALID_ARGUMENT) any value that is not of the strict form Kite issues, so nothing a
caller sends can change which Kite endpoint is called. The API layer checks the same formats on the
fields callers send (naming the field); this is the last line, in front of every Kite call.
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any

from kite_gateway.errors import invalid
from kite_gateway.kite.client import GatewayKiteConnect

# Kite's order ids are digits ("151220000000000"; 15 to 18 of them in practice).
ORDER_ID = re.compile(r"[0-9]{1,32}")
VARIETIES = frozenset({"regular", "amo", "co", "iceberg", "auction"})
EXCHANGES = frozenset({"NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX", "NCO", "NSEIX"})
INTERVALS = frozenset({"minute", "3minute", "5minute", "10minute", "15minute", "30minute", "60minute", "day"})
SEGMENTS = frozenset({"equity", "commodity"})
TRANSACTION_TYPES = frozenset({"BUY", "SELL"})
MAX_ID = 2**63 - 1
# Kite's alert ids are UUIDs ("f6b8a6d2-..."): hex digits and dashes.
ALERT_UUID = re.compile(r"[0-9A-Fa-f-]{1,64}")


def preview(value: object, most: int = 24) -> str:
    """A value as it may be quoted in an error message: its repr, cut to a short prefix."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= most:
        return repr(text)
    return f"{text[:most]!r}... ({len(text)} characters)"


def is_order_id(value: object) -> bool:
    return isinstance(value, str) and ORDER_ID.fullmatch(value) is not None


def is_positive_id(value: object) -> bool:
    """A GTT trigger id (or a SIP id): a positive integer, as an int or as its digits."""
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        return ORDER_ID.fullmatch(value) is not None and 0 < int(value) <= MAX_ID
    return isinstance(value, int) and 0 < value <= MAX_ID


def is_alert_uuid(value: object) -> bool:
    return isinstance(value, str) and ALERT_UUID.fullmatch(value) is not None


def _alert_uuids(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(is_alert_uuid(v) for v in value)


def _token(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**32


def _one_of(allowed: frozenset[str]) -> Any:
    return lambda value: isinstance(value, str) and value in allowed


# Every path parameter of the official client's routes, by parameter name, and what it must be.
PATH_PARAMETERS: dict[str, tuple[Any, str]] = {
    "order_id": (is_order_id, "a Kite order id (digits)"),
    "variety": (_one_of(VARIETIES), f"one of {', '.join(sorted(VARIETIES))}"),
    "trigger_id": (is_positive_id, "a GTT trigger id (a positive integer)"),
    "sip_id": (is_order_id, "a Kite SIP id (digits)"),
    "exchange": (_one_of(EXCHANGES), f"one of {', '.join(sorted(EXCHANGES))}"),
    "segment": (_one_of(SEGMENTS), f"one of {', '.join(sorted(SEGMENTS))}"),
    "instrument_token": (_token, "an instrument token (a positive 32-bit integer)"),
    "interval": (_one_of(INTERVALS), f"one of {', '.join(sorted(INTERVALS))}"),
    "transaction_type": (_one_of(TRANSACTION_TYPES), "BUY or SELL"),
    "alert_uuid": (is_alert_uuid, "a Kite alert id (a UUID)"),
    "alert_uuids": (_alert_uuids, "Kite alert ids (UUIDs, at least one)"),
}


@functools.cache
def _signature(method: str) -> inspect.Signature:
    return inspect.signature(getattr(GatewayKiteConnect, method))


def check_call(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a client call whose path parameters are not of Kite's forms (None: not given)."""
    try:
        bound = _signature(method).bind(None, *args, **kwargs)
    except TypeError as exc:
        raise invalid("request", f"cannot call Kite's {method} with these arguments ({exc})") from None
    for name, value in bound.arguments.items():
        rule = PATH_PARAMETERS.get(name)
        if rule is None or value is None:
            continue
        valid, form = rule
        if not valid(value):
            raise invalid(name, f"{preview(value)} is not {form}; nothing was sent to Kite")
