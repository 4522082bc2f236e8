"""A KiteCaller's calls made on a stand-in for the official client (a fake whose methods answer
directly): the last check, then the method, on the event loop. The adapters' unit tests use it;
the real codec and transports (kite/official_codec.py, kite/transport.py) have tests of their own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class InProcessCalls:
    """kite.transport.Calls for fake clients."""

    async def call(self, client: Any, call: Callable[[], Any], check: Callable[[], None] | None) -> Any:
        if check is not None:
            check()
        return call()
