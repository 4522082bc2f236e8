"""The HTTP bindings of the API's RPCs, read from their `google.api.http` options, and the routing of
a request to one of them.

Each rule and each of its `additional_bindings` is one binding: an HTTP method, a path template,
which part of the request the body fills (`*`, a field, or nothing) and which part of the response
is the body. Routing tries the bindings in order; a path that some binding matches under another
method answers 405 with the methods that would work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from google.api import annotations_pb2, http_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor, ServiceDescriptor

from kite_gateway.http.templates import PathTemplate, TemplateError

HTTP_OPTION = annotations_pb2.http.full_name  # "google.api.http" (importing annotations_pb2 registers it)


class BindingError(ValueError):
    """An http rule that cannot be served as written (a bad template, an unknown field)."""


@dataclass(frozen=True)
class Binding:
    """One HTTP route to one RPC."""

    method: MethodDescriptor
    http_method: str  # upper case
    template: PathTemplate
    body: str  # "" (no body), "*" (the whole request) or a top-level field name
    response_body: str  # "" (the whole response) or a top-level field name

    @property
    def rpc_path(self) -> str:
        """The gRPC method path, e.g. "/kite_gateway.v1.OrderService/PlaceOrder"."""
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def streaming(self) -> bool:
        return bool(self.method.server_streaming)


def rule_of(method: MethodDescriptor) -> http_pb2.HttpRule | None:
    """The method's `google.api.http` option, if it has one."""
    for field, value in method.GetOptions().ListFields():
        if field.full_name == HTTP_OPTION and isinstance(value, http_pb2.HttpRule):
            return value
    return None


def bindings_of(method: MethodDescriptor, rule: http_pb2.HttpRule) -> list[Binding]:
    """The rule's binding and its additional bindings (which may not nest further)."""
    found = [_binding(method, rule)]
    for extra in rule.additional_bindings:
        if extra.additional_bindings:
            raise BindingError(f"{method.full_name}: additional_bindings may not nest")
        found.append(_binding(method, extra))
    return found


def service_bindings(services: Iterable[ServiceDescriptor]) -> list[Binding]:
    """Every binding of every annotated method of the services, in declaration order."""
    found: list[Binding] = []
    for service in services:
        for method in service.methods:
            rule = rule_of(method)
            if rule is not None:
                found.extend(bindings_of(method, rule))
    return found


def _binding(method: MethodDescriptor, rule: http_pb2.HttpRule) -> Binding:
    pattern = rule.WhichOneof("pattern")
    if pattern is None:
        raise BindingError(f"{method.full_name}: an http rule without a method and path")
    if pattern == "custom":
        verb, text = rule.custom.kind.upper(), rule.custom.path
    else:
        verb, text = pattern.upper(), getattr(rule, pattern)
    try:
        template = PathTemplate.parse(text)
    except TemplateError as exc:
        raise BindingError(f"{method.full_name}: {exc}") from None
    request, response = method.input_type, method.output_type
    for variable in template.variables:
        field = field_at(request, variable.field_path)
        if field is None or field.type == FieldDescriptor.TYPE_MESSAGE or _repeated(field):
            raise BindingError(
                f"{method.full_name}: path variable {variable.field_path!r} is not a singular scalar field of "
                f"{request.full_name}"
            )
    if rule.body not in ("", "*") and rule.body not in request.fields_by_name:
        raise BindingError(f"{method.full_name}: body {rule.body!r} is not a field of {request.full_name}")
    if rule.response_body and rule.response_body not in response.fields_by_name:
        raise BindingError(
            f"{method.full_name}: response_body {rule.response_body!r} is not a field of {response.full_name}"
        )
    if method.server_streaming and rule.response_body:
        raise BindingError(f"{method.full_name}: a streaming method's response_body is not supported")
    return Binding(method, verb, template, rule.body, rule.response_body)


def field_at(message: Descriptor, path: str) -> FieldDescriptor | None:
    """The field a dotted path names (through singular message fields), or None."""
    field: FieldDescriptor | None = None
    current: Descriptor | None = message
    for name in path.split("."):
        if current is None:
            return None
        field = current.fields_by_name.get(name)
        if field is None:
            return None
        current = field.message_type if field.type == FieldDescriptor.TYPE_MESSAGE and not _repeated(field) else None
    return field


def _repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


@dataclass(frozen=True)
class Routed:
    """A request matched to a binding, with the path's field values."""

    binding: Binding
    path_values: dict[str, str]


class Router:
    """Finds the binding of an HTTP method and path."""

    def __init__(self, bindings: Sequence[Binding]) -> None:
        self.bindings = tuple(bindings)

    @property
    def prefixes(self) -> list[str]:
        """The distinct leading literal paths of the templates, e.g. ["/v1", "/api/v1"]."""
        seen: dict[str, None] = {}
        for binding in self.bindings:
            first = binding.template.literal_prefix.split("/")[1]
            seen.setdefault(f"/{first}", None)
        return list(seen)

    def route(self, http_method: str, raw_path: str) -> Routed | list[str]:
        """The binding and path values, or (no binding for this method) the methods that match the
        path in alphabetical order, empty when none does."""
        allowed: list[str] = []
        for binding in self.bindings:
            values = binding.template.match(raw_path)
            if values is None:
                continue
            if binding.http_method == http_method:
                return Routed(binding, values)
            if binding.http_method not in allowed:
                allowed.append(binding.http_method)
        return sorted(allowed)
