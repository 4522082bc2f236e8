"""Before json_format reads a request's JSON: every value has the kind of JSON its field takes (an
object for a message, an array for a repeated field, a string for a string, true/false for a bool,
a number or a string of digits for an integer, a name or number for an enum, RFC 3339 text for a
Timestamp), else INVALID_ARGUMENT naming the field path and the kind it takes.

json_format would refuse these too, but in Python's words ("'bool' object is not iterable",
"unhashable type: 'dict'", "time data ... does not match format '%Y-%m-%dT%H:%M:%S'"), or read a
string as an object's keys. Unknown fields are left to json_format, which names them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from kite_gateway.errors import invalid

_INTEGER = re.compile(r"-?[0-9]{1,40}")
_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NaN|-?Infinity")
_INTEGERS = {
    FieldDescriptor.CPPTYPE_INT32,
    FieldDescriptor.CPPTYPE_INT64,
    FieldDescriptor.CPPTYPE_UINT32,
    FieldDescriptor.CPPTYPE_UINT64,
}
_FLOATS = {FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE}
_EXAMPLES: dict[str, tuple[str, Callable[[str], object]]] = {
    "google.protobuf.Timestamp": (
        'an RFC 3339 time such as "2026-12-01T09:15:00+05:30"',
        lambda text: timestamp_pb2.Timestamp().FromJsonString(text),
    ),
    "google.protobuf.Duration": (
        'a duration in seconds such as "5s" or "1.5s"',
        lambda text: duration_pb2.Duration().FromJsonString(text),
    ),
}


def check_shapes(document: dict[str, Any], message: Descriptor, path: str = "") -> None:
    """Raise INVALID_ARGUMENT for the first value whose JSON kind its field does not take."""
    for key, value in document.items():
        field = message.fields_by_name.get(key) or next((f for f in message.fields if f.json_name == key), None)
        if field is None or value is None:
            continue  # json_format names an unknown field; null is the default
        here = f"{path}.{field.name}" if path else field.name
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            if not isinstance(value, dict):
                raise invalid(here, "must be a JSON object (a map)")
            value_field = entry.fields_by_name["value"]
            for item_key, item in value.items():
                _check_value(item, value_field, f"{here}[{item_key[:24]!r}]")
        elif field.is_repeated:
            if not isinstance(value, list):
                raise invalid(here, f"must be a JSON array (of {_kind(field)})")
            for index, item in enumerate(value):
                _check_value(item, field, f"{here}[{index}]")
        else:
            _check_value(value, field, here)


def _check_value(value: Any, field: FieldDescriptor, path: str) -> None:
    if value is None:
        return
    message = field.message_type
    if message is not None:
        name = message.full_name
        if name in _EXAMPLES:
            words, parse = _EXAMPLES[name]
            if not isinstance(value, str):
                raise invalid(path, f"must be {words}")
            try:
                parse(value)
            except ValueError:
                raise invalid(path, f"{value[:40]!r} is not {words}") from None
        elif name.startswith("google.protobuf."):
            return  # the other well-known types have JSON forms of their own; json_format reads them
        elif not isinstance(value, dict):
            raise invalid(path, f"must be {_kind(field)}")
        else:
            check_shapes(value, message, path)
        return
    ok = True
    if field.cpp_type == FieldDescriptor.CPPTYPE_STRING:
        ok = isinstance(value, str)
    elif field.cpp_type == FieldDescriptor.CPPTYPE_BOOL:
        ok = isinstance(value, bool)
    elif field.cpp_type in _INTEGERS:
        ok = (isinstance(value, int | float) and not isinstance(value, bool)) or (
            isinstance(value, str) and _INTEGER.fullmatch(value) is not None
        )
    elif field.cpp_type in _FLOATS:
        ok = (isinstance(value, int | float) and not isinstance(value, bool)) or (
            isinstance(value, str) and _NUMBER.fullmatch(value) is not None
        )
    elif field.cpp_type == FieldDescriptor.CPPTYPE_ENUM:
        ok = isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    if not ok:
        shown = f", not {value[:40]!r}" if isinstance(value, str) else ""
        raise invalid(path, f"must be {_kind(field)}{shown}")


def _kind(field: FieldDescriptor) -> str:
    """What a JSON value of the field (one element, for a repeated field) is, in words."""
    message = field.message_type
    if message is not None:
        if len(message.fields) == 1 and message.fields[0].type == FieldDescriptor.TYPE_STRING:
            return f'a JSON string (a {message.full_name}, e.g. "1562.55") or an object'
        return f"a JSON object (a {message.full_name})"
    if field.cpp_type == FieldDescriptor.CPPTYPE_STRING:
        return "a JSON string"
    if field.cpp_type == FieldDescriptor.CPPTYPE_BOOL:
        return "true or false"
    if field.cpp_type in _INTEGERS:
        return "an integer (a JSON number or a string of digits)"
    if field.cpp_type in _FLOATS:
        return "a number"
    enum: Any = field.enum_type
    return f"a {enum.name} name such as {enum.values[-1].name}, or its number"
