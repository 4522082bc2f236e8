"""Fault injection for tests: delay or fail REST calls, answer 429/5xx or an HTML error page, time
out after accepting (the call takes effect, the caller never hears), hold a request in the network
and deliver it late (after its caller has given up), drop ticker connections.

Thread-safe: tests add and release faults from their own thread while the simulator runs on
another (kite_simulator.threaded); a lock guards the rules, and `release()` wakes held requests
on the loop that holds them."""

from __future__ import annotations

import asyncio
import fnmatch
import threading
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
    _released: bool = field(default=False, init=False, repr=False)
    _wakers: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = field(
        default_factory=list, init=False, repr=False, compare=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and self.method in ("*", method) and fnmatch.fnmatch(path, self.path)

    def release(self) -> None:
        """Let every request this rule holds (and will hold) through; callable from any thread."""
        with self._lock:
            self._released = True
            wakers, self._wakers = self._wakers, []
        for loop, event in wakers:
            loop.call_soon_threadsafe(event.set)

    async def hold(self) -> None:
        """Wait until released (or `seconds`, when set)."""
        event = asyncio.Event()
        with self._lock:
            if self._released:
                event.set()
            else:
                self._wakers.append((asyncio.get_running_loop(), event))
        self.held += 1
        try:
            if self.seconds > 0:
                async with asyncio.timeout(self.seconds):
                    await event.wait()
            else:
                await event.wait()
        except TimeoutError:
            pass
        finally:
            self.held -= 1


class FaultInjector:
    """The active fault rules; the first matching rule fires and counts down."""

    def __init__(self) -> None:
        self.rules: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            rules, self.rules = self.rules, []
        for rule in rules:
            rule.release()

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path):
                    rule.times -= 1
                    return rule
        return None
