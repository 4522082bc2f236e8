"""Webhook sinks: where alerts are POSTed, from the same alerts file as the rules.

    [[alerts.sinks]]
    id = "ops"
    url = "https://hooks.example.com/kite-gateway"
    secret_env = "KITE_GATEWAY_ALERTS_OPS_SECRET"   # the environment variable holding the signing secret
    max_attempts = 8                                 # optional (8): then the delivery is a dead letter
    kinds = ["ORDER_STATUS", "DUPLICATE_DETECTED"]   # optional: only these kinds (default: every kind)
    min_severity = "warning"                         # optional: only alerts this severe or more (default: info)

The secret is read from the environment when the file is loaded (a missing one refuses the file,
naming the variable, never a value) and is kept out of every repr and log. delivery.py signs each
POST with it."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kite_gateway.core.alerts.events import Alert
from kite_gateway.core.alerts.rules import AlertConfigError, AlertKind, Severity

DEFAULT_MAX_ATTEMPTS = 8
SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
_KEYS = {"id", "url", "secret_env", "max_attempts", "kinds", "min_severity"}


@dataclass(frozen=True)
class WebhookSink:
    id: str
    url: str
    secret_env: str  # the variable's name, safe to show
    secret: str = field(repr=False)  # its value: never shown
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    kinds: frozenset[AlertKind] = frozenset()  # empty: every kind
    min_severity: Severity = Severity.INFO

    def accepts(self, alert: Alert) -> bool:
        """Whether the alert is one this sink is sent."""
        if self.kinds and alert.kind not in self.kinds:
            return False
        return SEVERITY_RANK[Severity(alert.severity)] >= SEVERITY_RANK[self.min_severity]


def sink_from_table(raw: object, where: str, environ: Mapping[str, str]) -> WebhookSink:
    if not isinstance(raw, Mapping):
        raise AlertConfigError(f"{where}: must be a table")
    sink_id = raw.get("id")
    if not isinstance(sink_id, str) or not sink_id:
        raise AlertConfigError(f"{where}: id must be a non-empty string")
    where = f"{where} (id {sink_id!r})"
    unknown = set(raw) - _KEYS
    if unknown:
        raise AlertConfigError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(_KEYS)}")
    url = raw.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise AlertConfigError(f'{where}: url must be an http:// or https:// URL, like "https://hooks.example.com/x"')
    secret_env = raw.get("secret_env")
    if not isinstance(secret_env, str) or not secret_env:
        raise AlertConfigError(f"{where}: secret_env must name the environment variable holding the signing secret")
    secret = environ.get(secret_env, "")
    if not secret:
        raise AlertConfigError(f"{where}: the environment variable {secret_env} (its secret_env) is not set or empty")
    max_attempts = raw.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or not 1 <= max_attempts <= 100:
        raise AlertConfigError(f"{where}: max_attempts must be a whole number from 1 to 100")
    kinds = raw.get("kinds", [])
    names = [k.value for k in AlertKind]
    if not isinstance(kinds, list) or not all(isinstance(k, str) and k in names for k in kinds):
        raise AlertConfigError(f"{where}: kinds must be a list among {names}")
    severity = raw.get("min_severity", Severity.INFO.value)
    if severity not in [s.value for s in Severity]:
        raise AlertConfigError(f"{where}: min_severity must be one of {[s.value for s in Severity]}, not {severity!r}")
    return WebhookSink(sink_id, str(url), secret_env, secret, max_attempts,
                       frozenset(AlertKind(k) for k in kinds), Severity(severity))  # fmt: skip


def sinks_from_document(
    document: Mapping[str, Any], source: str, environ: Mapping[str, str]
) -> tuple[WebhookSink, ...]:
    """The [[alerts.sinks]] of a parsed alerts file (rules.rules_from_document checks the rest); ids unique."""
    alerts = document.get("alerts", {})
    tables = alerts.get("sinks", []) if isinstance(alerts, Mapping) else []
    if not isinstance(tables, list):
        raise AlertConfigError(f"{source}: alerts.sinks must be [[alerts.sinks]] tables")
    sinks = tuple(sink_from_table(t, f"{source} [[alerts.sinks]] #{n}", environ) for n, t in enumerate(tables, 1))
    seen: set[str] = set()
    for sink in sinks:
        if sink.id in seen:
            raise AlertConfigError(f"{source}: sink id {sink.id!r} is used by two sinks")
        seen.add(sink.id)
    return sinks


def load_sinks(path: Path | None, environ: Mapping[str, str] | None = None) -> tuple[WebhookSink, ...]:
    """The sinks of the alerts file (KITE_GATEWAY_ALERTS_FILE), their secrets from `environ`
    (the process's by default); no file: no sinks."""
    if path is None:
        return ()
    try:
        text = path.read_text()
    except OSError as exc:
        raise AlertConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AlertConfigError(f"{path}: not valid TOML: {exc}") from None
    return sinks_from_document(document, str(path), os.environ if environ is None else environ)
