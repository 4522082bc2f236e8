"""The heartbeat interval a stream's request asks for, the same rule for every stream of the API."""

from __future__ import annotations

from typing import Any

from kite_gateway.errors import invalid

DEFAULT_HEARTBEAT = 5.0
HEARTBEATS = (1.0, 60.0)  # the seconds a caller may ask for


def heartbeat_seconds(request: Any, field: str = "heartbeat_interval") -> float:
    """The request's heartbeat interval (5 s when unset; an explicit 0 is out of range)."""
    seconds = getattr(request, field).ToTimedelta().total_seconds() if request.HasField(field) else DEFAULT_HEARTBEAT
    if not HEARTBEATS[0] <= seconds <= HEARTBEATS[1]:
        raise invalid(field, "1 s to 60 s")
    return float(seconds)
