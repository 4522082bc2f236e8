"""Which order states are final: an order in one of them is not open, cannot be cancelled or
modified, and is left alone by the kill switch and the duplicate handler."""

from __future__ import annotations

FINAL = frozenset({"COMPLETE", "CANCELLED", "REJECTED"})


def is_final(status: object) -> bool:
    """Whether Kite's status text of an order is final."""
    return status in FINAL
