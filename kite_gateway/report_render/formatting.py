"""How a cell reads as text, shared by every renderer: Decimals exactly as they are (no exponent,
no rounding, never through float), dates in ISO 8601, None as nothing, and the Indian digit grouping
(1,23,45,678.50: thousands, then lakhs and crores in pairs) for amounts people read."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from kite_gateway.report_render.document import Cell


def plain_number(value: int | Decimal) -> str:
    """The exact digits, no grouping, no exponent: Decimal("1E+3") -> "1000", Decimal("-0.50") -> "-0.50"."""
    if isinstance(value, int):
        return str(value)
    text = format(value, "f")
    return text[1:] if text.startswith("-") and value == 0 else text


def indian_number(value: int | Decimal) -> str:
    """The exact digits grouped the Indian way: 12345678.50 -> "1,23,45,678.50", -1500 -> "-1,500"."""
    text = plain_number(value)
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, fraction = digits.partition(".")
    if len(whole) > 3:
        head, tail = whole[:-3], whole[-3:]
        pairs = []
        while len(head) > 2:
            pairs.append(head[-2:])
            head = head[:-2]
        pairs.append(head)
        whole = ",".join(reversed(pairs)) + "," + tail
    return sign + whole + dot + fraction


def rupees(value: int | Decimal) -> str:
    """An amount in rupees: "₹1,23,45,678.50", "-₹1,500" (the minus before the sign reads as a loss)."""
    text = indian_number(value)
    return "-₹" + text[1:] if text.startswith("-") else "₹" + text


def plain_text(cell: Cell) -> str:
    """The cell as a machine reads it (CSV): exact numbers, ISO dates, None as ""."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, datetime):
        return cell.isoformat(sep=" ")
    if isinstance(cell, date):
        return cell.isoformat()
    return plain_number(cell)


def display_text(cell: Cell) -> str:
    """The cell as a person reads it (HTML, PDF): numbers grouped the Indian way, the rest as plain_text."""
    if isinstance(cell, int | Decimal) and not isinstance(cell, bool):
        return indian_number(cell)
    return plain_text(cell)


def is_number(cell: Cell) -> bool:
    return isinstance(cell, int | Decimal) and not isinstance(cell, bool)


def is_negative(cell: Cell) -> bool:
    return is_number(cell) and cell < 0  # type: ignore[operator]
