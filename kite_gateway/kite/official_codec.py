"""The official client as the codec of every Kite call, without its transport.

pykiteconnect's methods know Kite's REST protocol: which route and verb, how arguments become
query, form or JSON fields, which headers (X-Kite-Version, Authorization), and how an answer is
read (`data` out of the envelope, Kite's `error_type` raised as its exception class, dates parsed,
the instrument dump's CSV). Each method makes exactly one `reqsession.request(...)`. Giving the
client a `PlanningSession` instead of its requests.Session splits a call in two: run the method
once and the session captures the request it would send (`plan`); send that request any way
(kite/transport.py); run the method again with the answer handed to the session (`read`), and
the method shapes it as it always does. Both runs are synchronous, so calls interleaved on one
event loop never see each other's answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kiteconnect import KiteConnect


@dataclass(frozen=True, slots=True)
class KiteRequest:
    """What the official client would have sent (its arguments to requests.Session.request)."""

    method: str  # GET, POST, PUT, DELETE
    url: str
    headers: Mapping[str, str]
    params: Any = None  # query fields
    data: Any = None  # form fields
    json: Any = None  # a JSON body
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """Kite's HTTP answer, as much of a requests.Response as the official client reads."""

    status_code: int
    headers: Mapping[str, str]  # case-insensitive (aiohttp's CIMultiDictProxy)
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)  # ValueError when it is not JSON: the client's DataException


class Planned(Exception):
    """Raised by PlanningSession on the planning run: carries the request the method would send."""

    def __init__(self, request: KiteRequest) -> None:
        super().__init__(f"{request.method} {request.url}")
        self.request = request


class PlanningSession:
    """Stands in for the official client's requests.Session: captures the request (planning run)
    or returns the answer it was given (reading run)."""

    def __init__(self) -> None:
        self._answer: Any = None

    def request(
        self, method: str, url: str, *, params: Any = None, data: Any = None, json: Any = None,
        headers: Mapping[str, str] | None = None, timeout: float | None = None, **_ignored: Any,
    ) -> Any:  # fmt: skip
        answer, self._answer = self._answer, None
        if answer is None:
            raise Planned(KiteRequest(method.upper(), url, dict(headers or {}), params, data, json, timeout))
        return answer

    def close(self) -> None:
        """(requests.Session's, which KiteConnect's destructor may call.)"""


def planning_client(client: KiteConnect) -> KiteConnect:
    """`client` with a PlanningSession where its requests.Session was."""
    client.reqsession = PlanningSession()
    return client


def plan(call: Callable[[], Any]) -> KiteRequest:
    """The request a bound method of a planning client would send."""
    try:
        call()
    except Planned as planned:
        return planned.request
    raise RuntimeError("the official client's method returned without making a request")


def read(client: KiteConnect, call: Callable[[], Any], answer: Any) -> Any:
    """The method's result (or Kite's error, raised as the official client raises it) for `answer`."""
    session: PlanningSession = client.reqsession
    session._answer = answer
    try:
        return call()
    finally:
        session._answer = None
