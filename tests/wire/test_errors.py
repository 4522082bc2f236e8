"""Kite's error types as data, and which failures leave a write's outcome unknown."""

from __future__ import annotations

import pytest

from kite_wire.errors import HTTP_STATUS, KiteErrorType, error_body, outcome_unknown, refine_general, retryable


def test_every_error_type_has_an_http_status() -> None:
    assert set(HTTP_STATUS) == set(KiteErrorType)
    assert HTTP_STATUS[KiteErrorType.TOKEN] == 403 and HTTP_STATUS[KiteErrorType.INPUT] == 400


def test_the_error_types_are_the_official_clients_exception_names() -> None:
    from kiteconnect import exceptions

    for kind in KiteErrorType:
        if kind not in (KiteErrorType.MARGIN, KiteErrorType.HOLDING, KiteErrorType.USER):
            assert issubclass(getattr(exceptions, kind.value), exceptions.KiteException)


def test_the_error_envelope_is_kites() -> None:
    assert error_body("InputException", "bad", None) == {
        "status": "error", "message": "bad", "data": None, "error_type": "InputException",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "status", "unknown"),
    [
        ("NetworkException", 503, True),
        ("DataException", 502, True),
        ("GeneralException", 500, True),
        ("NetworkException", 0, True),
        ("NetworkException", 429, False),
        ("InputException", 400, False),
        ("OrderException", 400, False),
        ("TokenException", 403, False),
    ],
)
def test_only_kites_own_failures_leave_a_writes_outcome_unknown(kind: str, status: int, unknown: bool) -> None:
    assert outcome_unknown(kind, status) is unknown


@pytest.mark.parametrize(
    ("kind", "status", "worth"),
    [("NetworkException", 429, True), ("GeneralException", 502, True), ("DataException", 200, True),
     ("InputException", 400, False), ("TokenException", 403, False)],
)  # fmt: skip
def test_rate_limits_and_kites_failures_are_worth_retrying_a_read(kind: str, status: int, worth: bool) -> None:
    assert retryable(kind, status) is worth


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("Insufficient funds. Required margin is 100", KiteErrorType.MARGIN),
        ("Margin shortfall", KiteErrorType.MARGIN),
        ("Insufficient holdings", KiteErrorType.HOLDING),
        ("Something broke", KiteErrorType.GENERAL),
    ],
)
def test_a_general_exception_is_refined_by_its_message(message: str, kind: KiteErrorType) -> None:
    assert refine_general(message) is kind
