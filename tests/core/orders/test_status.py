"""The one rule of which order states are final."""

from __future__ import annotations

import pytest

from kite_gateway.core.orders.status import is_final


@pytest.mark.parametrize("status", ["COMPLETE", "CANCELLED", "REJECTED"])
def test_filled_cancelled_and_rejected_orders_are_final(status: str) -> None:
    assert is_final(status)


@pytest.mark.parametrize("status", ["OPEN", "TRIGGER PENDING", "AMO REQ RECEIVED", "PUT ORDER REQ RECEIVED", "", None])
def test_open_pending_and_unknown_states_are_not_final(status: str | None) -> None:
    assert not is_final(status)
