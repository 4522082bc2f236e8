"""The ticker's control messages, the JSON text a client sends: `{"a": "subscribe", "v": [tokens]}`,
`{"a": "unsubscribe", "v": [tokens]}` and `{"a": "mode", "v": [mode, [tokens]]}`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kite_wire.ticker_packets import MODE_QUOTE, MODES

SUBSCRIBE = "subscribe"
UNSUBSCRIBE = "unsubscribe"
MODE = "mode"


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Start streaming these instruments (in quote mode, until a `mode` says otherwise)."""

    tokens: tuple[int, ...]
    mode: str = MODE_QUOTE


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    tokens: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SetMode:
    """Change the mode of subscribed instruments (Kite does not promise that it subscribes them)."""

    mode: str
    tokens: tuple[int, ...]


ControlMessage = Subscribe | Unsubscribe | SetMode


class ControlError(ValueError):
    """A control message Kite would answer with an `error` text frame; str(error) is that frame's text."""


def encode_control(message: ControlMessage) -> str:
    """The JSON text of a control message, as the official KiteTicker writes it."""
    if isinstance(message, SetMode):
        return json.dumps({"a": MODE, "v": [message.mode, list(message.tokens)]})
    action = SUBSCRIBE if isinstance(message, Subscribe) else UNSUBSCRIBE
    return json.dumps({"a": action, "v": list(message.tokens)})


def parse_control(text: str) -> ControlMessage:
    """A client's control message; ControlError for malformed JSON, tokens or mode, or an unknown action."""
    try:
        message = json.loads(text)
        action, value = message["a"], message["v"]
        if action == MODE:
            mode, tokens = value[0], tuple(int(t) for t in value[1])
            if mode not in MODES:
                raise ValueError(mode)
        else:
            mode, tokens = MODE_QUOTE, tuple(int(t) for t in value)
    except (ValueError, KeyError, TypeError, IndexError):
        raise ControlError(f"Invalid message: {text[:200]}") from None
    if action == MODE:
        return SetMode(mode, tokens)
    if action == SUBSCRIBE:
        return Subscribe(tokens)
    if action == UNSUBSCRIBE:
        return Unsubscribe(tokens)
    raise ControlError(f"Unknown action: {action}")


def subscription_messages(
    add: Mapping[int, str], new: Iterable[int] = (), remove: Iterable[int] = ()
) -> list[ControlMessage]:
    """What a client sends to change its subscriptions, in the official KiteTicker's order: `unsubscribe`
    the removed, `subscribe` the new, then one `mode` per mode (in MODES order) for every added instrument
    (a mode change alone is a `mode` only)."""
    removed, fresh = tuple(remove), tuple(new)
    messages: list[ControlMessage] = [Unsubscribe(removed)] if removed else []
    messages += [Subscribe(fresh)] if fresh else []
    messages += [
        SetMode(mode, tuple(t for t, m in add.items() if m == mode))
        for mode in MODES
        if any(m == mode for m in add.values())
    ]
    return messages
