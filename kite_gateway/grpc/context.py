"""What every servicer needs from a call's context: who is calling, and an audited action."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format

from kite_gateway.auth import current_principal
from kite_gateway.errors import GatewayError, Status
from kite_gateway.storage import AuditLog

T = TypeVar("T")


def principal_of(context: grpc.aio.ServicerContext) -> str:
    """Who is calling: the authenticated principal's name (the peer's address when authentication is off)."""
    principal = current_principal.get()
    return principal.name if principal is not None else str(context.peer())


async def audited(
    audit: AuditLog,
    context: grpc.aio.ServicerContext,
    action: int,
    account_id: str,
    client_order_id: str,
    request: Any,
    call: Callable[[], Awaitable[T]],
    order_id_of: Callable[[T], str],
    order_id: str = "",
    outcome_of: Callable[[T], str] | None = None,
) -> T:
    """Run an order action and append it to the audit trail, whatever its outcome (`outcome_of`
    describes a success, "ok" by default)."""
    started = time.perf_counter()
    code, outcome = 0, "ok"
    try:
        result = await call()
        order_id = order_id_of(result) or order_id
        outcome = outcome_of(result) if outcome_of is not None else outcome
        return result
    except GatewayError as exc:
        code, outcome = int(exc.code), exc.message
        raise
    except Exception as exc:
        code, outcome = int(Status.INTERNAL), type(exc).__name__
        raise
    finally:
        await audit.append(
            audit.now(), principal_of(context), account_id, action, client_order_id, order_id,
            json_format.MessageToJson(request, indent=None), code, outcome, (time.perf_counter() - started) * 1000,
        )  # fmt: skip
