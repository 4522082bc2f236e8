"""Logs are structured and never carry credentials, whichever logger wrote them."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from kite_gateway.structured_logs import REDACTED, configure_logging, redact_text


def _read(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def test_secret_fields_are_redacted_even_when_nested(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    structlog.get_logger("t").info(
        "login",
        api_key="kitekey",
        access_token="at-123",
        request={"api_secret": "s3cr3t", "params": [{"request_token": "rt-9"}], "quantity": 5},
    )
    (line,) = _read(capsys)
    assert line["access_token"] == REDACTED
    assert line["request"] == {"api_secret": REDACTED, "params": [{"request_token": REDACTED}], "quantity": 5}
    assert line["api_key"] == "kitekey"
    assert "at-123" not in json.dumps(line) and "s3cr3t" not in json.dumps(line)


def test_credentials_inside_messages_and_tracebacks_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    log = structlog.get_logger("t")
    try:
        raise RuntimeError("upgrade failed for wss://ws?api_key=k&access_token=leaked1 header token k:leaked2")
    except RuntimeError:
        log.exception("ticker.failed")
    text = capsys.readouterr().err
    assert "leaked1" not in text and "leaked2" not in text
    assert "access_token=" + REDACTED in text


def test_standard_library_loggers_go_through_the_same_redaction(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    logging.getLogger("urllib3").warning("POST /session/token checksum=abcdef0123 failed")
    (line,) = _read(capsys)
    assert line["logger"] == "urllib3"
    assert line["level"] == "warning"
    assert "abcdef0123" not in str(line["event"])


def test_the_log_level_filters(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING", "json")
    structlog.get_logger("t").info("quiet")
    structlog.get_logger("t").warning("loud")
    assert [line["event"] for line in _read(capsys)] == ["loud"]


def test_redact_text_keeps_everything_but_the_secret() -> None:
    assert redact_text("Authorization: token abc:def123 sent") == f"Authorization: token abc:{REDACTED} sent"
    assert redact_text("quantity=5&access_token=xyz&i=NSE:INFY") == f"quantity=5&access_token={REDACTED}&i=NSE:INFY"
