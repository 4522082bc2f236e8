"""Who is told when the risk controls refuse an order (a kill switch engaged, a limit breached):
the gateway alerts count them (RISK_REFUSAL_RATE). A listener is called synchronously where the
refusal is raised, so it must be quick and must not block; a kill switch's last check runs in Kite's
worker thread (kite_gateway.kite LAST_CHECK), so a listener may be called off the event loop. One
that fails is logged and never changes the refusal."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import structlog

log = structlog.get_logger(__name__)

Refused = Callable[[str, str], None]  # (account id, the refusal's message)


def tell_refused(listeners: Iterable[Refused], account_id: str, reason: str) -> None:
    for listener in listeners:
        try:
            listener(account_id, reason)
        except Exception:  # a failing listener must not turn a refusal into another error
            log.exception("risk.refusal_listener_failed", account_id=account_id)
