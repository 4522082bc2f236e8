"""Strategy signals by webhook (TradingView-style alerts): a JSON body, authenticated with the
strategy's own webhook secret, fresh, and mapped onto a Signal. Pure: no HTTP here (the route is
kite_gateway/http/signal_webhook.py), no storage (the nonces are kite_gateway/storage/webhook_nonces.py).

Secrets: one per strategy, so a leaked secret trades one strategy only. They live in their own TOML
file (KITE_GATEWAY_WEBHOOK_SECRETS_FILE), never in the strategies file, which is shared and reviewed:

    momentum = "a random string of at least 16 bytes"   # strategy id = its webhook secret
    reversal = "another one"

The file must be readable by its owner only (mode 0600 or 0400) and every secret at least 16 bytes;
otherwise, or when it names a strategy the strategies file does not have, the gateway refuses to
start. A strategy without a secret takes no webhooks (404, as an unknown one). Secrets are never
logged, nor is a body (which may carry one).

Two ways to authenticate, both compared in constant time:

- Signed: headers `X-Kite-Gateway-Timestamp: <unix seconds>` and `X-Kite-Gateway-Signature:
  sha256=<hex>`, the HMAC-SHA256 under the secret of `f"{timestamp}.{raw_body}"` (`sign`).
- In the body, for senders that cannot sign (TradingView): `"secret": "<the secret>"` and
  `"timestamp"`: unix seconds or ISO-8601 with its offset (TradingView's `{{timenow}}`).

A wrong secret and a wrong signature get the same answer. The timestamp (the header's, and the
body's when it has one) must be within the window (KITE_GATEWAY_WEBHOOK_WINDOW, 300 s) of the
gateway's clock; and `signal_id` is the body's nonce: the route accepts each (strategy, signal_id)
once and refuses a second delivery as a replay (TradingView can template one, e.g.
"{{strategy.order.id}}-{{timenow}}").

The body's fields: strategy_id, signal_id, the instrument (exchange and tradingsymbol, or symbol
"NSE:INFY"), side ("buy"/"sell", any case) and quantity, or target_position; optionally price_hint and
stop_distance (numbers or strings, read as exact decimals from the JSON text, never through float),
urgency ("market", {"limit_offset_ticks": n} or {"at_price": "1500.5"}), validity ("DAY"/"IOC") and
product. Any other field is refused by name.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import stat
import tomllib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from kite_gateway.core.signals.model import STRATEGY_ID, Side, Signal, Urgency, Validity, validate
from kite_gateway.errors import GatewayError, Reason, Status, invalid

SIGNATURE_HEADER = "X-Kite-Gateway-Signature"
TIMESTAMP_HEADER = "X-Kite-Gateway-Timestamp"
SIGNATURE_PREFIX = "sha256="
DEFAULT_WINDOW = 300.0  # seconds
MIN_SECRET_BYTES = 16
MAX_WEBHOOK_BYTES = 16 * 1024  # a TradingView alert's message is at most a few KiB
MAX_QUANTITY = 10**9
MAX_PRICE = Decimal(10) ** 12
MIN_PRICE_EXPONENT = -8  # at most 8 decimal places
_SMALLEST_STEP = Decimal(1).scaleb(MIN_PRICE_EXPONENT)
SIGNAL_FIELDS = frozenset(
    {"strategy_id", "signal_id", "exchange", "tradingsymbol", "symbol", "side", "quantity", "target_position",
     "price_hint", "stop_distance", "urgency", "validity", "product"}
)  # fmt: skip
AUTH_FIELDS = frozenset({"secret", "timestamp"})
WEBHOOK_FIELDS = SIGNAL_FIELDS | AUTH_FIELDS
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")
SecretOf = Callable[[str], bytes | None]  # strategy id -> its webhook secret; None: it takes no webhooks
_NOT_AUTHENTICATED = (
    f"not authenticated: the {SIGNATURE_HEADER} or the body's secret does not match the strategy's webhook secret"
)


class WebhookConfigError(ValueError):
    """The webhook secrets file is invalid; the message names the file, the strategy and the fix (the
    gateway refuses to start with it). It never holds a secret."""


@dataclass(frozen=True)
class WebhookSecrets:
    """Each strategy's webhook secret (bytes, never in a repr or a message)."""

    secrets: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    def secret_of(self, strategy_id: str) -> bytes | None:
        return self.secrets.get(strategy_id)

    @property
    def strategies(self) -> frozenset[str]:
        return frozenset(self.secrets)

    def __repr__(self) -> str:
        return f"WebhookSecrets(strategies={sorted(self.secrets)})"

    @classmethod
    def from_toml(cls, text: str, source: str, known: Collection[str] | None = None) -> WebhookSecrets:
        """`known`: the configured strategies' ids; a secret for any other strategy is refused (a typo
        would otherwise leave the intended strategy without webhooks, silently)."""
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:  # its message quotes no value
            raise WebhookConfigError(f"{source}: not valid TOML: {exc}") from None
        secrets = {}
        for strategy_id, secret in document.items():
            where = f"{source}: {strategy_id}"
            if not STRATEGY_ID.fullmatch(strategy_id):
                raise WebhookConfigError(f"{where}: a strategy id is 1-64 letters, digits and _ . -")
            if not isinstance(secret, str):
                raise WebhookConfigError(f'{where}: the secret must be a string: {strategy_id} = "<secret>"')
            raw = secret.encode()
            if len(raw) < MIN_SECRET_BYTES:
                raise WebhookConfigError(
                    f"{where}: the webhook secret is shorter than {MIN_SECRET_BYTES} bytes; "
                    "use a random one, e.g. the output of `openssl rand -hex 32`"
                )
            if known is not None and strategy_id not in known:
                raise WebhookConfigError(
                    f"{where}: no such strategy in the strategies file (configured: {sorted(known)})"
                )
            secrets[strategy_id] = raw
        return cls(secrets)

    @classmethod
    def load(cls, path: Path | None, known: Collection[str] | None = None) -> WebhookSecrets:
        """The secrets file (blocking: call it at start, or off the loop); None: no strategy takes
        webhooks. Refused when group or others may read or write it."""
        if path is None:
            return cls()
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
            text = path.read_text()
        except OSError as exc:
            raise WebhookConfigError(f"{path}: cannot read it ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise WebhookConfigError(f"{path}: not UTF-8 text") from None
        if mode & 0o077:
            raise WebhookConfigError(
                f"{path}: it holds secrets but its mode is {oct(mode)}: make it readable by the gateway's user "
                f"only (chmod 600 {path})"
            )
        return cls.from_toml(text, str(path), known)


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The X-Kite-Gateway-Signature of a body sent at `timestamp` (unix seconds, as in its header)."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def unauthenticated(message: str) -> GatewayError:
    return GatewayError(Status.UNAUTHENTICATED, Reason.CALLER_UNAUTHENTICATED, message)


def unknown_strategy(strategy_id: str) -> GatewayError:
    return GatewayError(Status.NOT_FOUND, Reason.UNSPECIFIED,
                        f"strategy {strategy_id!r} takes no webhook signals: it is not configured or has no webhook "
                        "secret", {"strategy_id": strategy_id})  # fmt: skip


def replayed(strategy_id: str, signal_id: str) -> GatewayError:
    return GatewayError(Status.ALREADY_EXISTS, Reason.UNSPECIFIED,
                        f"replay: signal {signal_id!r} of strategy {strategy_id!r} was delivered before; a webhook is "
                        "taken once (give each alert its own signal_id)",
                        {"strategy_id": strategy_id, "signal_id": signal_id})  # fmt: skip


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise invalid(key, "given twice in one object")
        found[key] = value
    return found


def parse_body(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, its numbers with a fraction or an exponent as exact Decimals."""
    try:
        body = json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, NaN, a 5000-digit integer, deep nesting
        raise invalid("body", "must be a JSON object of the signal's fields") from None
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object of the signal's fields")
    return body


def strategy_of(body: Mapping[str, Any]) -> str:
    strategy_id = body.get("strategy_id")
    if not isinstance(strategy_id, str) or not STRATEGY_ID.fullmatch(strategy_id):
        raise invalid("strategy_id", "required: 1-64 letters, digits and _ . - (a configured strategy)")
    return strategy_id


def _epoch(seconds: int | Decimal, field_name: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(seconds), UTC)  # a time, not money: a float will do
    except (OverflowError, OSError, ValueError):
        raise invalid(field_name, "is not a time: give unix seconds, or ISO-8601 with its offset") from None


def header_time(text: str) -> datetime:
    """The X-Kite-Gateway-Timestamp: whole unix seconds (the text that was signed)."""
    if text.isascii() and text.isdigit() and len(text) <= 12:
        try:
            return datetime.fromtimestamp(int(text), UTC)
        except (OverflowError, OSError, ValueError):  # past the year 9999
            pass
    raise unauthenticated(f"{TIMESTAMP_HEADER}: must be whole unix seconds, e.g. 1764737400")


def body_time(value: object) -> datetime:
    """The body's timestamp: unix seconds (a number or a string of one) or ISO-8601 with an offset."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise invalid("timestamp", "must be unix seconds or ISO-8601 with its offset, e.g. 2026-12-03T04:00:00Z")
    if isinstance(value, int | Decimal):
        return _epoch(value, "timestamp")
    if _UNIX_SECONDS.fullmatch(value):
        return _epoch(Decimal(value), "timestamp")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise invalid(
            "timestamp", "must be unix seconds or ISO-8601 with its offset, e.g. 2026-12-03T04:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise invalid("timestamp", "ISO-8601 needs its offset (Z for UTC), e.g. 2026-12-03T04:00:00Z")
    return moment


def _digest(secret: bytes) -> bytes:
    return hashlib.sha256(secret).digest()


def authenticate(secret: bytes, raw: bytes, body: Mapping[str, Any], signature: str | None,
                 timestamp: str | None) -> list[datetime]:  # fmt: skip
    """Check the signature (or the body's secret) under the strategy's secret; the times the delivery
    claims (the signed header's, then the body's if it has one), to be checked for freshness.
    UNAUTHENTICATED, with one message for every wrong secret or signature."""
    if signature is not None or timestamp is not None:
        if signature is None or timestamp is None:
            raise unauthenticated(f"a signed webhook carries both {SIGNATURE_HEADER} and {TIMESTAMP_HEADER}")
        signed_at = header_time(timestamp)
        given = signature.strip().lower().encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(sign(secret, timestamp, raw).encode(), given):
            raise unauthenticated(_NOT_AUTHENTICATED)
        if "secret" in body:
            raise invalid("secret", "a signed webhook carries no secret in its body")
        times = [signed_at]
    else:
        given_secret = body.get("secret")
        if given_secret is None:
            raise unauthenticated(
                f"unsigned: sign the body ({SIGNATURE_HEADER}, {TIMESTAMP_HEADER}) or give the strategy's webhook "
                'secret as "secret" in it'
            )
        if not isinstance(given_secret, str) or not hmac.compare_digest(
            _digest(given_secret.encode("utf-8", "surrogatepass")), _digest(secret)
        ):
            raise unauthenticated(_NOT_AUTHENTICATED)
        if body.get("timestamp") is None:
            raise invalid("timestamp", "required with a secret in the body: unix seconds or ISO-8601 with its offset")
        times = []
    if body.get("timestamp") is not None:
        times.append(body_time(body["timestamp"]))
    return times


def check_fresh(times: list[datetime], now: datetime, window: float) -> None:
    """UNAUTHENTICATED when a time is more than `window` seconds from `now`, either way."""
    for moment in times:
        skew = (now - moment).total_seconds()
        if abs(skew) > window:
            raise GatewayError(Status.UNAUTHENTICATED, Reason.CALLER_UNAUTHENTICATED,
                               f"timestamp: {moment.isoformat()} is {abs(skew):.0f} s "
                               f"{'before' if skew > 0 else 'after'} the gateway's clock; a webhook is taken within "
                               f"{window:.0f} s of its timestamp (a late delivery, a replay, or a clock to fix)",
                               field_violations=[("timestamp", "outside the window")])  # fmt: skip


def _string(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid(name, "must be a string")
    return value


def _whole(value: object, name: str) -> int:
    """A whole number: a JSON integer, or a number or string that is one (a template's "10" or 10.0)."""
    if isinstance(value, bool):
        raise invalid(name, "must be a whole number")
    try:
        number = Decimal(value) if isinstance(value, int | Decimal | str) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number != number.to_integral_value():
        raise invalid(name, "must be a whole number")
    if abs(number) > MAX_QUANTITY:
        raise invalid(name, f"must be at most {MAX_QUANTITY} in size")
    return int(number)


def _decimal(value: object, name: str) -> Decimal:
    """An exact amount: a JSON number (read from its text) or a string like "1500.50"."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise invalid(name, 'must be a number or a string like "1500.50"')
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise invalid(name, 'must be a number or a string like "1500.50"') from None
    if not number.is_finite() or abs(number) >= MAX_PRICE:
        raise invalid(name, f"must be a finite amount below {MAX_PRICE:,}")
    if number.quantize(_SMALLEST_STEP) != number:  # exact comparison: "1500.5000000000" is 1500.5, one place
        raise invalid(name, f"has more than {-MIN_PRICE_EXPONENT} decimal places")
    return number


def _urgency(value: object) -> Urgency:
    if isinstance(value, str):
        if value.lower() != "market":
            raise invalid("urgency", 'must be "market", {"limit_offset_ticks": n} or {"at_price": "1500.5"}')
        return Urgency.market()
    if not isinstance(value, dict) or len(value) != 1:
        raise invalid("urgency", 'must be "market", {"limit_offset_ticks": n} or {"at_price": "1500.5"}')
    ((kind, argument),) = value.items()
    if kind == "limit_offset_ticks":
        return Urgency.limit_offset(_whole(argument, "urgency.limit_offset_ticks"))
    if kind == "at_price":
        return Urgency.at_price(_decimal(argument, "urgency.at_price"))
    raise invalid(
        f"urgency.{kind}", 'unknown: urgency is "market", {"limit_offset_ticks": n} or {"at_price": "1500.5"}'
    )


def _instrument(body: Mapping[str, Any]) -> tuple[str, str]:
    symbol = _string(body, "symbol")
    exchange, tradingsymbol = _string(body, "exchange"), _string(body, "tradingsymbol")
    if symbol is not None:
        if exchange is not None or tradingsymbol is not None:
            raise invalid("symbol", "give either symbol or exchange and tradingsymbol, not both")
        exchange, sep, tradingsymbol = symbol.partition(":")
        if not sep or not exchange or not tradingsymbol:
            raise invalid("symbol", 'must be EXCHANGE:TRADINGSYMBOL, e.g. "NSE:INFY"')
    if not exchange or not tradingsymbol:
        raise invalid("instrument", 'name the exchange and the tradingsymbol, or symbol "NSE:INFY"')
    return exchange.upper(), tradingsymbol


def _choice(body: Mapping[str, Any], name: str, choices: tuple[str, ...]) -> str | None:
    value = _string(body, name)
    if value is None:
        return None
    if value.upper() not in choices:
        raise invalid(name, f"must be one of {list(choices)} (any case)")
    return value.upper()


def signal_of(body: Mapping[str, Any]) -> Signal:
    """The signal a webhook's body asks for; INVALID_ARGUMENT naming the field that is wrong. JSON
    null is an optional field not given."""
    unknown = sorted(set(body) - WEBHOOK_FIELDS)
    if unknown:
        raise GatewayError(Status.INVALID_ARGUMENT, Reason.INVALID_FIELD,
                           f"unknown fields {unknown}; a webhook takes {sorted(WEBHOOK_FIELDS)}",
                           field_violations=[(name, "unknown field") for name in unknown])  # fmt: skip
    exchange, tradingsymbol = _instrument(body)
    side = _choice(body, "side", ("BUY", "SELL"))
    validity = _choice(body, "validity", ("DAY", "IOC"))
    present = {name: body[name] for name in body if body[name] is not None}
    signal = Signal(
        strategy_id=strategy_of(body),
        signal_id=_string(body, "signal_id") or "",
        exchange=exchange,
        tradingsymbol=tradingsymbol,
        side=None if side is None else Side(side),
        quantity=_whole(present["quantity"], "quantity") if "quantity" in present else None,
        target_position=_whole(present["target_position"], "target_position") if "target_position" in present else None,
        price_hint=_decimal(present["price_hint"], "price_hint") if "price_hint" in present else None,
        urgency=_urgency(present["urgency"]) if "urgency" in present else Urgency.market(),
        validity=Validity.DAY if validity is None else Validity(validity),
        product=(_string(body, "product") or "").upper(),
        stop_distance=_decimal(present["stop_distance"], "stop_distance") if "stop_distance" in present else None,
    )
    validate(signal)
    return signal


def verify(raw: bytes, signature: str | None, timestamp: str | None, secret_of: SecretOf, now: datetime,
           window: float = DEFAULT_WINDOW) -> Signal:  # fmt: skip
    """A webhook delivery, checked in this order: a JSON object naming a valid strategy_id (400), a
    strategy that takes webhooks (`secret_of(strategy_id)` is its secret, or None: 404), authentic
    (401), fresh (401), a valid signal (400). The nonce (its signal_id) is the caller's to claim."""
    body = parse_body(raw)
    strategy_id = strategy_of(body)
    secret = secret_of(strategy_id)
    if secret is None:
        raise unknown_strategy(strategy_id)
    times = authenticate(secret, raw, body, signature, timestamp)
    check_fresh(times, now, window)
    return signal_of(body)
