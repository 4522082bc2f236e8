"""Structured logging: one JSON object per line (or a readable console form), secrets redacted.

Everything goes through structlog, including the standard-library loggers of grpc and other
libraries, so every line has the same shape and passes the same redaction.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

REDACTED = "[REDACTED]"

# Keys whose values are credentials, wherever they appear in a log event (nested too).
SECRET_KEYS = frozenset(
    {
        "access_token",
        "api_secret",
        "authorization",
        "checksum",
        "enctoken",
        "password",
        "public_token",
        "refresh_token",
        "request_token",
        "secret",
        "token",
    }
)

# Credentials embedded in free text: Kite's "token key:access_token" header, and query strings.
_SECRET_PATTERNS = (
    re.compile(r"(?i)(token\s+[^\s:]+:)\S+"),
    re.compile(r"(?i)((?:access_token|api_secret|request_token|refresh_token|checksum)[=:]\s*)[^&\s,'\"]+"),
)


def redact_text(text: str) -> str:
    """Replace credentials found in free text."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: REDACTED if str(k).lower() in SECRET_KEYS else _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def redact_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: redact secret keys and secrets inside strings (including tracebacks)."""
    for key, value in list(event.items()):
        event[key] = REDACTED if key.lower() in SECRET_KEYS else _redact(value)
    return event


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Route structlog and the standard library's logging to stderr in one format."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
