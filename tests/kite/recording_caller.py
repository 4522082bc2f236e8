"""A stand-in for an account's KiteCaller: canned answers by client method, and every call recorded
with the rate class it was made under."""

from __future__ import annotations

from typing import Any, cast

from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.limits import EndpointClass


class RecordingCaller:
    def __init__(self, answers: dict[str, Any], account_id: str = "ZS0001") -> None:
        self.account_id = account_id
        self.answers = answers
        self.calls: list[tuple[str, EndpointClass, str, tuple[Any, ...], dict[str, Any]]] = []

    async def read(self, endpoint: EndpointClass, method: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(("read", endpoint, method, args, kwargs))
        return self.answers[method]

    async def change(self, endpoint: EndpointClass, method: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(("change", endpoint, method, args, kwargs))
        return self.answers.get(method)


def caller(answers: dict[str, Any]) -> tuple[KiteCaller, RecordingCaller]:
    fake = RecordingCaller(answers)
    return cast(KiteCaller, fake), fake
