"""HTTP/JSON to a request message and a response message to JSON, as google.api.http transcoding
defines it, with google.protobuf.json_format doing the JSON.

A request is assembled as one JSON object and parsed once: the body (all of it for `body: "*"`, or
the field the rule names), then the path's variables, then the query parameters, each by field path
(`instrument.symbol=NSE:INFY`). A query parameter repeated, or naming a field of a repeated message
field (`instruments.symbol=NSE:INFY&instruments.symbol=NSE:TCS`), adds one element per value. A
message field takes a single value when it has a JSON string form (Timestamp, Duration, the other
well-known types) or has exactly one field (`strike_min=24000` for a one-field decimal). Unknown
fields and parameters are refused, naming them, never ignored. In a body too, a message of one
string field takes the bare string: `"price": "1562.55"` is `"price": {"value": "1562.55"}` (the
google.type.Decimal form, which responses use). One alias keeps the seed platform's
callers working: `symbols=NSE:INFY,NSE:TCS` (comma-separated) is `instruments.symbol` repeated, in
any request with `instruments` and no `symbols` field of its own.

Responses print every field, also those at their default (so a caller sees `"quantity": "0"` rather
than no key), with the proto field names (snake_case, as Kite's own JSON); requests take either the
proto names or the lowerCamelCase JSON names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from kite_gateway.errors import GatewayError, invalid
from kite_gateway.http.bindings import Binding
from kite_gateway.http.json_shapes import check_shapes

# Well-known types whose JSON form is a string, so a path or query value can be one.
_STRING_FORMS = {
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.FieldMask",
    "google.protobuf.StringValue",
    "google.protobuf.BytesValue",
    "google.protobuf.Int64Value",
    "google.protobuf.UInt64Value",
    "google.protobuf.Int32Value",
    "google.protobuf.UInt32Value",
    "google.protobuf.DoubleValue",
    "google.protobuf.FloatValue",
    "google.protobuf.BoolValue",
}
_TRUE, _FALSE = {"true", "1"}, {"false", "0"}
# Query parameters of the seed platform's REST API: name -> (the field it fills, what separates values).
QUERY_ALIASES: dict[str, tuple[str, str]] = {"symbols": ("instruments.symbol", ",")}
_MESSAGE = FieldDescriptor.TYPE_MESSAGE


def message_class(descriptor: Descriptor) -> type[Message]:
    cls: type[Message] = message_factory.GetMessageClass(descriptor)
    return cls


def request_message(
    binding: Binding, path_values: dict[str, str], query: Iterable[tuple[str, str]], body: bytes
) -> Message:
    """The RPC's request from the matched path, the query parameters and the body (GatewayError
    INVALID_ARGUMENT naming the field otherwise)."""
    descriptor = binding.method.input_type
    document: dict[str, Any] = {}
    if binding.body:
        parsed = _json_body(body)
        if binding.body == "*":
            parsed = {} if parsed is None else parsed  # no body: every field from the path and query
            if not isinstance(parsed, dict):
                raise invalid("body", f"must be a JSON object (a {descriptor.full_name})")
            document = _shorthand(parsed, descriptor)
        elif parsed is not None:
            field = descriptor.fields_by_name[binding.body]
            document[binding.body] = _field_shorthand(parsed, field)
    elif body.strip():
        raise invalid(
            "body", f"{binding.http_method} {binding.template.text} takes no body; send the fields as query parameters"
        )
    bound = set(path_values)
    for path, value in path_values.items():
        _put(document, descriptor, path, value, origin="path")
    for name, value in _dealiased(descriptor, query):
        if name in bound:
            raise invalid(name, "is already given by the path; remove the query parameter")
        _put(document, descriptor, name, value, origin="query")
    check_shapes(document, descriptor)
    request = message_class(descriptor)()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        raise _parse_error(str(exc)) from None
    return request


def response_json(binding: Binding, response: Message) -> Any:
    """The response as JSON data, or the one field `response_body` names."""
    data = to_json(response)
    return data[binding.response_body] if binding.response_body else data


def to_json(message: Message) -> dict[str, Any]:
    data: dict[str, Any] = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return data


def _dealiased(descriptor: Descriptor, query: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    for name, value in query:
        alias = QUERY_ALIASES.get(name)
        if (
            alias is None
            or name in descriptor.fields_by_name
            or alias[0].split(".")[0] not in descriptor.fields_by_name
        ):
            yield name, value
            continue
        field_path, separator = alias
        for part in value.split(separator):
            if part.strip():
                yield field_path, part.strip()


_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def _date_json(text: str) -> dict[str, int]:
    """ "2026-12-03" as google.type.Date's JSON ({"year": 2026, "month": 12, "day": 3})."""
    year, month, day = text.split("-")
    return {"year": int(year), "month": int(month), "day": int(day)}


def _single_string_field(message: Descriptor) -> str | None:
    """The field of a message that is one string (google.type.Decimal's `value`), else None."""
    if len(message.fields) == 1 and message.fields[0].type == FieldDescriptor.TYPE_STRING:
        return str(message.fields[0].name)
    return None


def _shorthand(data: dict[str, Any], message: Descriptor) -> dict[str, Any]:
    """`data` with every bare string given for a one-string-field message (a decimal's `"1562.55"`)
    wrapped as that message's JSON (`{"value": "1562.55"}`)."""
    out = {}
    for key, value in data.items():
        field = _field(message, key)
        out[key] = value if field is None else _field_shorthand(value, field)
    return out


def _field_shorthand(value: Any, field: FieldDescriptor) -> Any:
    message = field.message_type
    if message is None or message.GetOptions().map_entry:
        return value
    if field.is_repeated and isinstance(value, list):
        return [_message_shorthand(item, message) for item in value]
    return _message_shorthand(value, message)


def _message_shorthand(value: Any, message: Descriptor) -> Any:
    if isinstance(value, str) and message.full_name == "google.type.Date" and _ISO_DATE.fullmatch(value):
        return _date_json(value)
    if isinstance(value, str):
        name = _single_string_field(message)
        return {name: value} if name is not None else value
    if (
        isinstance(value, dict)
        and message.full_name not in _STRING_FORMS
        and not message.full_name.startswith("google.protobuf.")
    ):
        return _shorthand(value, message)
    return value


def _json_body(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except RecursionError:
        raise invalid("body", "nests JSON arrays or objects too deeply for any request") from None
    except json.JSONDecodeError as exc:
        raise invalid("body", f"is not JSON ({exc})") from None
    except ValueError:  # not UTF-8, or an integer of more digits than Python converts (4300)
        raise invalid("body", "is not JSON in UTF-8 with numbers of at most 4300 digits") from None


def _field(descriptor: Descriptor, name: str) -> FieldDescriptor | None:
    field = descriptor.fields_by_name.get(name)
    if field is None:
        field = next((f for f in descriptor.fields if f.json_name == name), None)
    return field


def _put(document: dict[str, Any], descriptor: Descriptor, path: str, value: str, origin: str) -> None:
    """Set `path` (a dotted field path) in the JSON object from one path or query value."""
    names = path.split(".")
    if not all(names):
        raise invalid(path or origin, f"{path!r} is not a field path such as account_id or instrument.symbol")
    target: dict[str, Any] = document
    current: Descriptor = descriptor
    for depth, name in enumerate(names):
        field = _field(current, name)
        if field is None:
            where = ".".join(names[:depth]) or current.full_name
            raise invalid(path, f"no such field in {current.full_name} (at {where}); see /openapi.json")
        last = depth == len(names) - 1
        repeated = bool(field.is_repeated)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            raise invalid(path, f"a map field cannot be given as a {origin} parameter; send it in the body")
        if last:
            scalar = _leaf_value(field, path, value)
            if repeated:
                items = target.setdefault(field.name, [])
                if not isinstance(items, list):
                    raise invalid(path, "is given twice, in different forms")
                items.append(scalar)
            else:
                if field.name in target and origin == "query":
                    raise invalid(path, "is given twice; a field that is not repeated takes one value")
                given = [target[k] for k in {field.name, field.json_name} if k in target]
                if origin == "path" and any(str(v) != value for v in given):
                    # The path names what the call acts on (and what authorization checks): a body
                    # naming another account or order is a mistake, not something to override quietly.
                    raise invalid(path, f"the body gives another value than the path's {value[:40]!r}; send it once")
                target.pop(field.json_name, None)
                target[field.name] = scalar
            return
        if field.message_type is None:
            raise invalid(path, f"{field.name} is not a message, so {path} names no field")
        nested: Descriptor = field.message_type
        if repeated:  # a new element for each value
            items = target.setdefault(field.name, [])
            if not isinstance(items, list):
                raise invalid(path, "is given twice, in different forms")
            element: dict[str, Any] = {}
            items.append(element)
            target = element
        else:
            child = target.setdefault(field.name, {})
            if not isinstance(child, dict):
                raise invalid(path, "is given twice, in different forms")
            target = child
        current = nested


def _leaf_value(field: FieldDescriptor, path: str, value: str) -> Any:
    if field.type == FieldDescriptor.TYPE_BOOL:
        lowered = value.lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise invalid(path, f"must be true or false, not {value[:40]!r}")
    message = field.message_type
    if message is None:
        return value  # json_format reads numbers, enum names and enum numbers from strings
    if message.full_name in _STRING_FORMS:
        return value
    if message.full_name == "google.type.Date":
        if not _ISO_DATE.fullmatch(value):
            raise invalid(path, f"must be a date as YYYY-MM-DD, not {value[:40]!r}")
        return _date_json(value)
    if len(message.fields) == 1 and message.fields[0].type != _MESSAGE:
        return {message.fields[0].name: value}
    raise invalid(path, f"is a {message.full_name}: give its fields ({path}.<field>) or send it in the body")


_PARSE_PREFIX = re.compile(r"Failed to parse (\w+) field: ")
_NO_FIELD = re.compile(r'has no field named "(\w+)" at "[\w.]+"')
_AVAILABLE = re.compile(r"\.?\n? ?Available Fields.*", re.DOTALL)


def _parse_error(text: str) -> GatewayError:
    """The field path and the problem of json_format's nested "Failed to parse a field: Failed to
    parse b field: ..." message."""
    path = []
    rest = text
    while found := _PARSE_PREFIX.match(rest):
        path.append(found.group(1))
        rest = rest[found.end() :]
    unknown = _NO_FIELD.search(rest)
    if unknown:
        path.append(unknown.group(1))
        problem = "no such field" + (f" in {rest.split(chr(34))[1]}" if rest.count('"') >= 2 else "")
    else:
        problem = _AVAILABLE.sub("", rest).rstrip(".")
        problem = re.sub(r" at [\w.]+$", "", problem)
    return invalid(".".join(path) or "body", problem[:300])
