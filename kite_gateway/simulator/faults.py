"""Fault injection for tests: delay or fail REST calls, answer 429/5xx or an HTML error page, time
out after accepting (the call takes effect, the caller never hears), drop ticker connections."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Literal

Action = Literal["delay", "error", "html", "timeout_after_accept"]


@dataclass
class Fault:
    """A rule: for the next `times` requests matching method and path (shell-style pattern), do `action`.

    - delay: wait `seconds`, then answer normally.
    - error: answer `http_status` with Kite's error body (`error_type`, `message`) without acting.
    - html: answer `http_status` with an HTML page (what an edge proxy returns), without acting.
    - timeout_after_accept: act on the request, then hold the connection `seconds` and drop it.
    """

    method: str
    path: str
    action: Action
    times: int = 1
    seconds: float = 0.0
    http_status: int = 503
    error_type: str = "NetworkException"
    message: str = "Simulated fault."

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and self.method in ("*", method) and fnmatch.fnmatch(path, self.path)


class FaultInjector:
    """The active fault rules; the first matching rule fires and counts down."""

    def __init__(self) -> None:
        self.rules: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self.rules.append(fault)
        return fault

    def clear(self) -> None:
        self.rules.clear()

    def take(self, method: str, path: str) -> Fault | None:
        for rule in self.rules:
            if rule.matches(method, path):
                rule.times -= 1
                return rule
        return None
