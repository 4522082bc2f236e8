"""OrderService.ListAuditEvents: a page of the account's audit trail, oldest first, with an opaque
token for the next page (the last event id shown, base64)."""

from __future__ import annotations

import base64
from datetime import UTC

from kite_gateway_api.v1 import order_pb2

from kite_gateway.core.accounts import AccountManager
from kite_gateway.errors import invalid
from kite_gateway.storage import AuditEntry, AuditLog

DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_EVENT_ID = 2**63 - 1  # SQLite's largest integer


def page_token(event_id: int) -> str:
    return base64.urlsafe_b64encode(str(event_id).encode()).decode()


def after_event_id(token: str) -> int:
    """The event id a page token continues after (0: the first page); INVALID_ARGUMENT for a token
    this gateway did not hand out."""
    if not token:
        return 0
    try:
        after = int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError:
        after = -1
    if not 0 <= after <= MAX_EVENT_ID:
        raise invalid("page_token", "not a token from a previous response") from None
    return after


def audit_event_pb(entry: AuditEntry, event: order_pb2.AuditEvent) -> None:
    """Fill `event` from a stored entry."""
    event.event_id = entry.event_id
    event.principal = entry.principal
    event.account_id = entry.account_id
    event.action = entry.action  # type: ignore[assignment]  # an AuditAction number
    event.client_order_id = entry.client_order_id
    event.order_id = entry.order_id
    event.request_json = entry.request_json
    event.status_code = entry.status_code
    event.outcome = entry.outcome
    event.time.FromDatetime(entry.time)
    event.latency.FromMilliseconds(int(entry.latency_ms))


class AuditRpcs:
    def __init__(self, accounts: AccountManager, audit: AuditLog) -> None:
        self.accounts = accounts
        self.audit = audit

    async def list(self, request: order_pb2.ListAuditEventsRequest) -> order_pb2.ListAuditEventsResponse:
        self.accounts.get(request.account_id)  # NOT_FOUND for an unknown account
        size = request.page_size or DEFAULT_PAGE
        if not 1 <= size <= MAX_PAGE:
            raise invalid("page_size", f"1 to {MAX_PAGE}")
        after = after_event_id(request.page_token)
        start = request.start_time.ToDatetime(UTC) if request.HasField("start_time") else None
        end = request.end_time.ToDatetime(UTC) if request.HasField("end_time") else None
        entries = await self.audit.query(
            request.account_id, start, end, request.client_order_id, request.order_id, after, size + 1
        )
        response = order_pb2.ListAuditEventsResponse()
        for entry in entries[:size]:
            audit_event_pb(entry, response.events.add())
        if len(entries) > size:
            response.next_page_token = page_token(entries[size - 1].event_id)
        return response
