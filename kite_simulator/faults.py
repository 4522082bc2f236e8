"""Fault injection for tests: delay or fail REST calls, answer 429/5xx or an HTML error page, time
out after accepting (the call takes effect, the caller never hears), hold a request in the network
and deliver it late (after its caller has given up), drop ticker connections."""

from __future__ import annotations

import asyncio
import fnmatch
from dataclasses import dataclass, field
from typing import Literal

Action = Literal["delay", "error", "html", "timeout_after_accept", "hold"]


@dataclass
class Fault:
    """A rule: for the next `times` requests matching method and path (shell-style pattern), do `action`.

    - delay: wait `seconds`, then answer normally.
    - error: answer `http_status` with Kite's error body (`error_type`, `message`) without acting.
    - html: answer `http_status` with an HTML page (what an edge proxy returns), without acting.
    - timeout_after_accept: act on the request, then hold the connection `seconds` and drop it.
    - hold: the request is stuck in the network (a proxy, a queue) before it reaches Kite: it is
      processed only when `release()` is called or, if `seconds` > 0, after `seconds`, whether or
      not its caller is still waiting (a caller that gave up never hears the answer).
    """

    method: str
    path: str
    action: Action
    times: int = 1
    seconds: float = 0.0
    http_status: int = 503
    error_type: str = "NetworkException"
    message: str = "Simulated fault."
    held: int = field(default=0, init=False)  # requests this rule is holding now
    delivered: int = field(default=0, init=False)  # held requests processed so far
    _released: asyncio.Event | None = field(default=None, init=False, repr=False)

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and self.method in ("*", method) and fnmatch.fnmatch(path, self.path)

    def release(self) -> None:
        """Let every request this rule holds (and will hold) through."""
        self._event().set()

    async def hold(self) -> None:
        """Wait until released (or `seconds`, when set)."""
        self.held += 1
        try:
            if self.seconds > 0:
                async with asyncio.timeout(self.seconds):
                    await self._event().wait()
            else:
                await self._event().wait()
        except TimeoutError:
            pass
        finally:
            self.held -= 1

    def _event(self) -> asyncio.Event:
        if self._released is None:
            self._released = asyncio.Event()
        return self._released


class FaultInjector:
    """The active fault rules; the first matching rule fires and counts down."""

    def __init__(self) -> None:
        self.rules: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self.rules.append(fault)
        return fault

    def clear(self) -> None:
        for rule in self.rules:
            rule.release()
        self.rules.clear()

    def take(self, method: str, path: str) -> Fault | None:
        for rule in self.rules:
            if rule.matches(method, path):
                rule.times -= 1
                return rule
        return None
