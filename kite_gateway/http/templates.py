"""google.api.http path templates: parsing, matching a request path, and the OpenAPI form.

The grammar (google/api/http.proto):

    Template = "/" Segments [ Verb ] ;
    Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;
    Variable = "{" FieldPath [ "=" Segments ] "}" ;
    FieldPath = IDENT { "." IDENT } ;
    Verb     = ":" LITERAL ;

A variable without `=` matches one segment (`{order_id}` is `{order_id=*}`). A variable matching
one segment is percent-decoded whole; one matching several keeps `%2F` as the separator it encodes
is not, as the spec says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LITERAL = re.compile(r"[^/{}*:=]+")


class TemplateError(ValueError):
    """A path template that does not follow the grammar."""


@dataclass(frozen=True)
class Variable:
    """`{field.path=segments}`: the request field a part of the path fills."""

    field_path: str
    segments: tuple[str, ...]  # "*", "**" or literals

    @property
    def single_segment(self) -> bool:
        return self.segments == ("*",)


@dataclass(frozen=True)
class PathTemplate:
    """A parsed template; `match` a request path (without its query) against it."""

    text: str
    segments: tuple[str | Variable, ...]
    verb: str
    _pattern: re.Pattern[str]

    @classmethod
    def parse(cls, text: str) -> PathTemplate:
        if not text.startswith("/"):
            raise TemplateError(f"path template {text!r} does not start with '/'")
        body, verb = _split_verb(text)
        segments = _segments(body[1:], text, allow_variables=True)
        variables = [s for s in segments if isinstance(s, Variable)]
        names = [v.field_path for v in variables]
        if len(names) != len(set(names)):
            raise TemplateError(f"path template {text!r} binds a field twice")
        return cls(text, tuple(segments), verb, re.compile(_regex(segments, verb)))

    @property
    def variables(self) -> tuple[Variable, ...]:
        return tuple(s for s in self.segments if isinstance(s, Variable))

    @property
    def literal_prefix(self) -> str:
        """The leading literal segments, e.g. "/v1/accounts" (what to mount a route under)."""
        parts: list[str] = []
        for segment in self.segments:
            if not isinstance(segment, str) or segment in ("*", "**"):
                break
            parts.append(segment)
        return "/" + "/".join(parts)

    def match(self, raw_path: str) -> dict[str, str] | None:
        """The field values the (still percent-encoded) path binds, or None if it does not match."""
        found = self._pattern.fullmatch(raw_path)
        if found is None:
            return None
        values = {}
        for index, variable in enumerate(self.variables):
            value = found.group(f"v{index}")
            values[variable.field_path] = unquote(value) if variable.single_segment else _decode_keeping_slashes(value)
        return values

    def openapi_path(self) -> str:
        """The OpenAPI path: every variable as `{field.path}`, wildcards outside variables as-is."""
        parts = [f"{{{s.field_path}}}" if isinstance(s, Variable) else s for s in self.segments]
        return "/" + "/".join(parts) + (f":{self.verb}" if self.verb else "")


def _split_verb(text: str) -> tuple[str, str]:
    """("/v1/orders/{id}", "cancel") of "/v1/orders/{id}:cancel"; a ':' inside braces is not a verb."""
    depth = 0
    for index in range(len(text) - 1, -1, -1):
        char = text[index]
        if char == "}":
            depth += 1
        elif char == "{":
            depth -= 1
        elif char == "/" and depth == 0:
            return text, ""
        elif char == ":" and depth == 0:
            verb = text[index + 1 :]
            if not _LITERAL.fullmatch(verb):
                raise TemplateError(f"path template {text!r} has an empty or malformed verb")
            return text[:index], verb
    return text, ""


def _segments(text: str, template: str, allow_variables: bool) -> list[str | Variable]:
    segments: list[str | Variable] = []
    position = 0
    while True:
        if text.startswith("{", position):
            if not allow_variables:
                raise TemplateError(f"path template {template!r} nests a variable in a variable")
            end = text.find("}", position)
            if end < 0:
                raise TemplateError(f"path template {template!r} has an unclosed '{{'")
            segments.append(_variable(text[position + 1 : end], template))
            position = end + 1
        else:
            end = text.find("/", position)
            end = len(text) if end < 0 else end
            segment = text[position:end]
            if segment not in ("*", "**") and not _LITERAL.fullmatch(segment):
                raise TemplateError(f"path template {template!r} has a malformed segment {segment!r}")
            segments.append(segment)
            position = end
        if position == len(text):
            break
        if text[position] != "/":
            raise TemplateError(f"path template {template!r}: expected '/' at {text[position:]!r}")
        position += 1
    if "**" in [s for s in segments if isinstance(s, str)][:-1]:
        raise TemplateError(f"path template {template!r}: '**' may only be the last segment")
    return segments


def _variable(text: str, template: str) -> Variable:
    field_path, _, pattern = text.partition("=")
    if not all(_IDENT.fullmatch(part) for part in field_path.split(".")):
        raise TemplateError(f"path template {template!r} has a malformed field path {field_path!r}")
    inner = _segments(pattern, template, allow_variables=False) if pattern else ["*"]
    return Variable(field_path, tuple(str(s) for s in inner))


def _segment_regex(segment: str) -> str:
    if segment == "*":
        return "[^/]+"
    if segment == "**":
        return ".*"
    return re.escape(segment)


def _regex(segments: list[str | Variable], verb: str) -> str:
    parts = []
    index = 0
    for segment in segments:
        if isinstance(segment, Variable):
            inner = "/".join(_segment_regex(s) for s in segment.segments)
            parts.append(f"(?P<v{index}>{inner})")
            index += 1
        else:
            parts.append(_segment_regex(segment))
    return "/" + "/".join(parts) + (":" + re.escape(verb) if verb else "")


def _decode_keeping_slashes(value: str) -> str:
    return "%2F".join(unquote(part) for part in re.split("%2[Ff]", value))
