"""The ticker's text frames from Kite: `{"type": "order" | "error" | "message", "data": ...}` (an order
update as a postback carries it, an error's text, a broker's broadcast)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ORDER = "order"
ERROR = "error"
MESSAGE = "message"


@dataclass(frozen=True, slots=True)
class TextFrame:
    type: str
    data: Any


def encode_text_frame(kind: str, data: Any) -> str:
    return json.dumps({"type": kind, "data": data})


def parse_text_frame(text: str) -> TextFrame | None:
    """The frame, or None for text that is not a JSON object (Kite sends nothing else)."""
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(message, dict):
        return None
    return TextFrame(str(message.get("type", "")), message.get("data"))
