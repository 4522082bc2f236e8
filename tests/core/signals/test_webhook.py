"""A signal webhook: authentic only with its strategy's secret (an HMAC of timestamp and body, or the
secret in the body), with one answer for every wrong secret; fresh only within the window; mapped
field by field onto a Signal, prices exact from the JSON text, anything unknown refused by name; and
the secrets file refuses what would make a weak or misplaced secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kite_gateway.core.signals import Side, Signal, Urgency, Validity
from kite_gateway.core.signals.webhook import WebhookConfigError, WebhookSecrets, sign, verify
from kite_gateway.errors import GatewayError, Status

NOW = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)
STAMP = str(int(NOW.timestamp()))
SECRET = b"momentum-secret-0123456789"
SECRETS = WebhookSecrets({"momentum": SECRET, "reversal": b"reversal-secret-0123456789"})
BASE = {"strategy_id": "momentum", "signal_id": "ord-1", "symbol": "NSE:INFY", "side": "buy", "quantity": 10}


def _raw(body: dict[str, Any] | str) -> bytes:
    return (body if isinstance(body, str) else json.dumps(body)).encode()


def signed(body: dict[str, Any] | str, secret: bytes = SECRET, stamp: str = STAMP, now: datetime = NOW,
           window: float = 300) -> Signal:  # fmt: skip
    raw = _raw(body)
    return verify(raw, sign(secret, stamp, raw), stamp, SECRETS.secret_of, now, window)


def in_body(body: dict[str, Any], secret: str = SECRET.decode(), timestamp: object = STAMP,
            now: datetime = NOW) -> Signal:  # fmt: skip
    return verify(_raw({**body, "secret": secret, "timestamp": timestamp}), None, None, SECRETS.secret_of, now)


def refusal(call: Any, *args: Any, **kwargs: Any) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        call(*args, **kwargs)
    return caught.value


def field_of(error: GatewayError) -> str:
    assert error.code is Status.INVALID_ARGUMENT, error
    return error.field_violations[0][0]


# Authentication


def test_a_body_signed_with_the_strategys_secret_is_its_signal() -> None:
    signal = signed(BASE)
    assert signal == Signal("momentum", "ord-1", "NSE", "INFY", side=Side.BUY, quantity=10)


def test_a_signature_in_upper_case_hex_is_the_same_signature() -> None:
    raw = _raw(BASE)
    signature = "sha256=" + sign(SECRET, STAMP, raw).removeprefix("sha256=").upper()
    assert verify(raw, signature, STAMP, SECRETS.secret_of, NOW).signal_id == "ord-1"


def test_a_signature_under_another_strategys_secret_is_refused() -> None:
    error = refusal(signed, BASE, secret=SECRETS.secret_of("reversal") or b"")
    assert error.code is Status.UNAUTHENTICATED and "does not match" in error.message


def test_a_body_changed_after_it_was_signed_is_refused() -> None:
    raw = _raw(BASE)
    signature = sign(SECRET, STAMP, raw)
    tampered = raw.replace(b"10", b"99")
    assert refusal(verify, tampered, signature, STAMP, SECRETS.secret_of, NOW).code is Status.UNAUTHENTICATED


def test_a_signature_of_another_timestamp_is_refused() -> None:
    raw = _raw(BASE)
    signature = sign(SECRET, str(int(STAMP) - 1), raw)
    assert refusal(verify, raw, signature, STAMP, SECRETS.secret_of, NOW).code is Status.UNAUTHENTICATED


@pytest.mark.parametrize("signature", ["", "sha256=", "sha1=abc", "sha256=zz", "sha256=\udcff", "sha256=é"])
def test_a_malformed_signature_is_refused_as_unauthenticated_not_a_crash(signature: str) -> None:
    error = refusal(verify, _raw(BASE), signature, STAMP, SECRETS.secret_of, NOW)
    assert error.code is Status.UNAUTHENTICATED


@pytest.mark.parametrize("which", ["signature", "timestamp"])
def test_a_signed_webhook_missing_one_of_its_two_headers_is_refused(which: str) -> None:
    raw = _raw(BASE)
    signature, stamp = sign(SECRET, STAMP, raw), STAMP
    args = (None, stamp) if which == "signature" else (signature, None)
    error = refusal(verify, raw, *args, SECRETS.secret_of, NOW)
    assert error.code is Status.UNAUTHENTICATED and "both" in error.message


@pytest.mark.parametrize("stamp", ["-1", "1764734400.5", "now", "9" * 12, "1" * 13, "١٧٦٤٧٣٤٤٠٠"])
def test_a_timestamp_header_that_is_not_unix_seconds_is_refused(stamp: str) -> None:
    raw = _raw(BASE)
    error = refusal(verify, raw, sign(SECRET, stamp, raw), stamp, SECRETS.secret_of, NOW)
    assert error.code is Status.UNAUTHENTICATED and "X-Kite-Gateway-Timestamp" in error.message


def test_a_body_neither_signed_nor_carrying_a_secret_is_refused_as_unsigned() -> None:
    error = refusal(verify, _raw({**BASE, "timestamp": STAMP}), None, None, SECRETS.secret_of, NOW)
    assert error.code is Status.UNAUTHENTICATED and error.message.startswith("unsigned")


def test_the_secret_in_the_body_authenticates_a_tradingview_alert() -> None:
    assert in_body(BASE) == signed(BASE)


@pytest.mark.parametrize("secret", ["reversal-secret-0123456789", "momentum-secret-012345678", "", 12345, ["x"]])
def test_a_wrong_secret_in_the_body_gets_the_same_answer_as_a_wrong_signature(secret: Any) -> None:
    wrong_secret = refusal(verify, _raw({**BASE, "secret": secret, "timestamp": STAMP}), None, None,
                           SECRETS.secret_of, NOW)  # fmt: skip
    wrong_signature = refusal(signed, BASE, secret=b"reversal-secret-0123456789")
    assert wrong_secret.code is wrong_signature.code is Status.UNAUTHENTICATED
    assert wrong_secret.message == wrong_signature.message
    assert str(secret) not in wrong_secret.message or secret == ""


def test_a_secret_in_the_body_needs_a_timestamp_in_the_body() -> None:
    for timestamp in (None, "absent"):
        body = {**BASE, "secret": SECRET.decode()}
        if timestamp is None:
            body["timestamp"] = None
        assert field_of(refusal(verify, _raw(body), None, None, SECRETS.secret_of, NOW)) == "timestamp"


def test_a_signed_body_may_not_also_carry_the_secret() -> None:
    assert field_of(refusal(signed, {**BASE, "secret": SECRET.decode()})) == "secret"


def test_a_strategy_without_a_webhook_secret_is_not_found_before_anything_is_checked() -> None:
    error = refusal(verify, _raw({**BASE, "strategy_id": "breakout"}), None, None, SECRETS.secret_of, NOW)
    assert error.code is Status.NOT_FOUND and "breakout" in error.message


# Freshness


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_a_timestamp_up_to_the_window_from_the_clock_either_way_is_fresh(offset: int) -> None:
    assert signed(BASE, now=NOW + timedelta(seconds=offset)).signal_id == "ord-1"


@pytest.mark.parametrize("offset", [-301, 301, 86_400])
def test_a_signed_timestamp_beyond_the_window_is_refused_naming_the_timestamp(offset: int) -> None:
    error = refusal(signed, BASE, now=NOW + timedelta(seconds=offset))
    assert error.code is Status.UNAUTHENTICATED and error.field_violations[0][0] == "timestamp"
    assert f"{abs(offset)} s {'before' if offset > 0 else 'after'}" in error.message and "300 s" in error.message


def test_the_window_is_the_one_given() -> None:
    assert signed(BASE, now=NOW + timedelta(seconds=59), window=60).signal_id == "ord-1"
    assert refusal(signed, BASE, now=NOW + timedelta(seconds=61), window=60).code is Status.UNAUTHENTICATED


@pytest.mark.parametrize(
    "timestamp",
    [int(NOW.timestamp()), STAMP, STAMP + ".25", "2026-12-03T04:00:00Z", "2026-12-03T09:30:00+05:30",
     "2026-12-03T04:00:00.123456+00:00"],
)  # fmt: skip
def test_the_body_timestamp_is_unix_seconds_or_iso_8601_with_an_offset(timestamp: object) -> None:
    assert in_body(BASE, timestamp=timestamp).signal_id == "ord-1"


def test_a_body_timestamp_as_a_json_number_with_a_fraction_is_unix_seconds() -> None:
    raw = json.dumps({**BASE, "secret": SECRET.decode()})[:-1] + f', "timestamp": {STAMP}.25}}'
    assert verify(raw.encode(), None, None, SECRETS.secret_of, NOW).signal_id == "ord-1"


@pytest.mark.parametrize("timestamp", ["2026-12-03T04:00:00", "yesterday", True, [1], "1e9", 10**20, "1.5.5"])
def test_a_body_timestamp_that_is_not_a_time_with_an_offset_is_refused(timestamp: object) -> None:
    assert field_of(refusal(in_body, BASE, timestamp=timestamp)) == "timestamp"


def test_a_stale_body_timestamp_is_refused_even_with_the_right_secret() -> None:
    error = refusal(in_body, BASE, timestamp="2026-12-03T03:54:59Z")
    assert error.code is Status.UNAUTHENTICATED and "301 s before" in error.message


def test_a_signed_body_whose_own_timestamp_is_stale_is_refused_too() -> None:
    error = refusal(signed, {**BASE, "timestamp": int(STAMP) - 3600})
    assert error.code is Status.UNAUTHENTICATED and "3600 s before" in error.message


# Mapping


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe{}", b'{"quantity": NaN}', b"[" * 20_000 + b"]" * 20_000,
     b'{"quantity": ' + b"9" * 5000 + b"}"],
)  # fmt: skip
def test_a_body_that_is_not_a_json_object_is_refused_naming_the_body(raw: bytes) -> None:
    assert field_of(refusal(verify, raw, None, None, SECRETS.secret_of, NOW)) == "body"


def test_a_field_given_twice_is_refused_by_name() -> None:
    raw = '{"strategy_id": "momentum", "side": "buy", "side": "sell"}'
    assert field_of(refusal(verify, raw.encode(), None, None, SECRETS.secret_of, NOW)) == "side"


@pytest.mark.parametrize("strategy_id", [None, 7, "", "bad strategy"])
def test_a_missing_or_malformed_strategy_id_is_refused_by_name(strategy_id: object) -> None:
    body = {**BASE, "strategy_id": strategy_id}
    assert field_of(refusal(verify, _raw(body), None, None, SECRETS.secret_of, NOW)) == "strategy_id"


def test_unknown_fields_are_refused_naming_every_one() -> None:
    error = refusal(signed, {**BASE, "qty": 1, "ticker": "INFY"})
    assert error.code is Status.INVALID_ARGUMENT and "['qty', 'ticker']" in error.message
    assert [name for name, _ in error.field_violations] == ["qty", "ticker"]


def test_a_price_hint_is_exact_from_the_json_text_never_through_a_float() -> None:
    raw = '{"strategy_id": "momentum", "signal_id": "s", "symbol": "NSE:INFY", "side": "BUY", "quantity": 1, '
    signal = signed(raw + '"price_hint": 99999999999.99999999}')
    assert signal.price_hint == Decimal("99999999999.99999999")  # as a float: 100000000000.0
    assert str(signed(raw + '"price_hint": 2500.10}').price_hint) == "2500.10"  # its trailing zero kept
    assert signed(raw + '"price_hint": "1500.05"}').price_hint == Decimal("1500.05")
    assert signed(raw + '"price_hint": 1500}').price_hint == Decimal(1500)
    assert signed(raw + '"price_hint": 1500.50000000000000}').price_hint == Decimal("1500.5")  # zeros: no places
    assert signed(raw + '"stop_distance": 12.35}').stop_distance == Decimal("12.35")


@pytest.mark.parametrize(
    "price", ["abc", "NaN", "sNaN", "Infinity", "1e12", "0.000000001", "0.100000000000000000000000000000001", True,
              [1], "-5", 0],
)  # fmt: skip
def test_a_price_hint_that_is_not_an_exact_price_above_zero_is_refused_by_name(price: object) -> None:
    assert field_of(refusal(signed, {**BASE, "price_hint": price})) == "price_hint"


@pytest.mark.parametrize(
    ("urgency", "expected"),
    [("market", Urgency.market()), ("MARKET", Urgency.market()), ({"limit_offset_ticks": 3}, Urgency.limit_offset(3)),
     ({"limit_offset_ticks": -2}, Urgency.limit_offset(-2)), ({"limit_offset_ticks": "4"}, Urgency.limit_offset(4)),
     ({"at_price": "1500.5"}, Urgency.at_price(Decimal("1500.5"))),
     (None, Urgency.market())],
)  # fmt: skip
def test_every_urgency_form_maps_onto_its_urgency(urgency: object, expected: Urgency) -> None:
    assert signed({**BASE, "urgency": urgency}).urgency == expected


def test_an_at_price_given_as_a_json_number_is_exact() -> None:
    raw = json.dumps(BASE)[:-1] + ', "urgency": {"at_price": 1500.50}}'
    assert str(signed(raw).urgency.price) == "1500.50"


@pytest.mark.parametrize(
    ("urgency", "field"),
    [("fast", "urgency"), ({}, "urgency"), ({"at_price": "1", "limit_offset_ticks": 1}, "urgency"),
     ({"slippage": 1}, "urgency.slippage"), ({"limit_offset_ticks": 1.5}, "urgency.limit_offset_ticks"),
     ({"at_price": "x"}, "urgency.at_price"), ({"at_price": "-1"}, "urgency.price"), (5, "urgency")],
)  # fmt: skip
def test_a_malformed_urgency_is_refused_naming_the_field(urgency: object, field: str) -> None:
    assert field_of(refusal(signed, {**BASE, "urgency": urgency})) == field


def test_the_instrument_is_a_symbol_or_an_exchange_and_a_tradingsymbol() -> None:
    by_parts = {k: v for k, v in BASE.items() if k != "symbol"} | {"exchange": "nfo", "tradingsymbol": "NIFTY26DECFUT"}
    signal = signed(by_parts)
    assert (signal.exchange, signal.tradingsymbol) == ("NFO", "NIFTY26DECFUT")
    assert field_of(refusal(signed, {**BASE, "exchange": "NSE"})) == "symbol"
    assert field_of(refusal(signed, {**BASE, "symbol": "INFY"})) == "symbol"
    assert field_of(refusal(signed, {**BASE, "symbol": 5})) == "symbol"
    assert field_of(refusal(signed, {k: v for k, v in BASE.items() if k != "symbol"})) == "instrument"


def test_side_is_case_insensitive_and_a_whole_quantity_may_come_as_text() -> None:
    assert signed({**BASE, "side": "Sell", "quantity": "25"}).side is Side.SELL
    assert signed({**BASE, "quantity": "25"}).quantity == 25
    assert signed(json.dumps(BASE).replace('"quantity": 10', '"quantity": 10.0')).quantity == 10


@pytest.mark.parametrize(
    ("change", "field"),
    [({"side": "long"}, "side"), ({"quantity": 2.5}, "quantity"), ({"quantity": True}, "quantity"),
     ({"quantity": 0}, "quantity"), ({"quantity": 10**10}, "quantity"), ({"side": None}, "side"),
     ({"target_position": 5}, "target_position"), ({"signal_id": "has space"}, "signal_id"),
     ({"signal_id": None}, "signal_id"), ({"validity": "GTC"}, "validity"), ({"product": "BO"}, "product"),
     ({"product": 1}, "product")],
)  # fmt: skip
def test_each_wrong_field_is_refused_by_name(change: dict[str, Any], field: str) -> None:
    assert field_of(refusal(signed, {**BASE, **change})) == field


def test_a_target_position_with_the_optional_fields_maps_onto_the_signal() -> None:
    body = {"strategy_id": "momentum", "signal_id": "TV-123-2026-12-03T04:00:00Z", "exchange": "NSE",
            "tradingsymbol": "INFY", "target_position": -50, "validity": "ioc", "product": "cnc"}  # fmt: skip
    signal = signed(body)
    assert signal.target_position == -50 and signal.side is None and signal.quantity is None
    assert signal.validity is Validity.IOC and signal.product == "CNC"


# The secrets file


def test_the_secrets_file_maps_each_strategy_to_its_secret_and_never_shows_one(tmp_path: Path) -> None:
    path = tmp_path / "webhooks.toml"
    path.write_text('momentum = "momentum-secret-0123456789"\n')
    path.chmod(0o600)
    secrets = WebhookSecrets.load(path, known={"momentum", "reversal"})
    assert secrets.secret_of("momentum") == SECRET and secrets.secret_of("reversal") is None
    assert secrets.strategies == {"momentum"}
    assert "momentum-secret" not in repr(secrets) and "momentum-secret" not in str(secrets)
    assert WebhookSecrets.load(None).strategies == frozenset()


@pytest.mark.parametrize(
    ("text", "expected"),
    [('momentum = "short-secret"', "shorter than 16 bytes"), ('momentum = ""', "shorter than 16 bytes"),
     ("momentum = 1234567890123456789", "must be a string"), ('"bad id" = "0123456789abcdef0"', "strategy id"),
     ('breakout = "0123456789abcdef0"', "no such strategy"), ("momentum = ", "not valid TOML")],
)  # fmt: skip
def test_a_secrets_file_with_a_weak_or_misplaced_secret_is_refused_without_showing_it(text: str, expected: str) -> None:
    with pytest.raises(WebhookConfigError) as caught:
        WebhookSecrets.from_toml(text, "webhooks.toml", known={"momentum"})
    assert expected in str(caught.value) and "webhooks.toml" in str(caught.value)
    assert "short-secret" not in str(caught.value) and "0123456789abcdef0" not in str(caught.value)


def test_a_secrets_file_others_may_read_is_refused_naming_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "webhooks.toml"
    path.write_text('momentum = "momentum-secret-0123456789"\n')
    path.chmod(0o644)
    with pytest.raises(WebhookConfigError) as caught:
        WebhookSecrets.load(path)
    assert "0o644" in str(caught.value) and "chmod 600" in str(caught.value)
    path.chmod(0o400)
    assert WebhookSecrets.load(path).strategies == {"momentum"}


def test_a_missing_secrets_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(WebhookConfigError) as caught:
        WebhookSecrets.load(tmp_path / "absent.toml")
    assert "absent.toml" in str(caught.value)
