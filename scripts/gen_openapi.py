"""Write the OpenAPI document of the gateway's HTTP/JSON API from protos/.

The document (OpenAPI 3.1, JSON) has a path for every `google.api.http` binding of the
kite_gateway.v1 services, primary and additional, with its path and query parameters, request body
and response, each described by the protos' own comments; a schema for every message and enum they
reach, as the proto3 JSON mapping spells them (with the proto field names the gateway prints; 64-bit
integers as strings); and google.rpc.Status for errors. It is written into the API distribution,
api/python/kite_gateway_api/v1/openapi.json, which the gateway serves at /openapi.json.

    python scripts/gen_openapi.py           # rewrite the document
    python scripts/gen_openapi.py --check   # exit 1 if the committed document is stale
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor, FileDescriptor

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from kite_gateway.http import QUERY_ALIASES, Binding, bindings_of, field_at  # noqa: E402
from kite_gateway.http.bindings import rule_of  # noqa: E402

PROTO_ROOT = ROOT / "protos"
THIRD_PARTY = ROOT / "third_party" / "googleapis"  # the googleapis protos, as scripts/gen_protos.py copies them
PROTO_PACKAGE = Path("kite_gateway") / "v1"
OUTPUT = ROOT / "api" / "python" / "kite_gateway_api" / "v1" / "openapi.json"
STATUS = "google.rpc.Status"

# Well-known types as their JSON form.
WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time", "examples": ["2026-12-01T09:15:00Z"]},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$", "examples": ["1.5s"]},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
    },
    "google.protobuf.StringValue": {"type": "string"},
    "google.protobuf.BoolValue": {"type": "boolean"},
    "google.protobuf.Int32Value": {"type": "integer", "format": "int32"},
    "google.protobuf.UInt32Value": {"type": "integer", "format": "uint32"},
    "google.protobuf.Int64Value": {"type": "string", "format": "int64"},
    "google.protobuf.UInt64Value": {"type": "string", "format": "uint64"},
    "google.protobuf.DoubleValue": {"type": "number", "format": "double"},
    "google.protobuf.FloatValue": {"type": "number", "format": "float"},
    "google.protobuf.BytesValue": {"type": "string", "format": "byte"},
}
STRING_FORMS = {name for name, schema in WELL_KNOWN.items() if schema.get("type") == "string"}
_F = FieldDescriptor
SCALARS: dict[int, dict[str, Any]] = {
    _F.TYPE_DOUBLE: {"type": "number", "format": "double"},
    _F.TYPE_FLOAT: {"type": "number", "format": "float"},
    _F.TYPE_INT32: {"type": "integer", "format": "int32"},
    _F.TYPE_SINT32: {"type": "integer", "format": "int32"},
    _F.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    _F.TYPE_UINT32: {"type": "integer", "format": "uint32", "minimum": 0},
    _F.TYPE_FIXED32: {"type": "integer", "format": "uint32", "minimum": 0},
    _F.TYPE_INT64: {"type": "string", "format": "int64"},
    _F.TYPE_SINT64: {"type": "string", "format": "int64"},
    _F.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    _F.TYPE_UINT64: {"type": "string", "format": "uint64"},
    _F.TYPE_FIXED64: {"type": "string", "format": "uint64"},
    _F.TYPE_BOOL: {"type": "boolean"},
    _F.TYPE_STRING: {"type": "string"},
    _F.TYPE_BYTES: {"type": "string", "format": "byte"},
}
INTRODUCTION = """\
The gateway's gRPC API as HTTP/JSON, served on its HTTP listener (KITE_GATEWAY_HTTP_LISTEN), by
the google.api.http annotations of protos/kite_gateway/v1. Each route invokes its RPC on the
gateway's own gRPC server, so authentication, permissions, limits and errors are the gRPC ones.

- Authentication: `Authorization: Bearer <token>` when the gateway has principals.
- Bodies and responses are the proto3 JSON mapping of the messages, with proto field names
  (requests also take the lowerCamelCase names); 64-bit integers are strings, enums their names.
  Responses print every field, also those at their default. Unknown fields are refused.
- Query parameters name request fields by path (`instrument.symbol=NSE:INFY`); repeat one for a
  repeated field, or for one element per value of a repeated message (`instruments.symbol=...`).
- Errors are a google.rpc.Status (`code`, `message`, `details` with `@type`: ErrorInfo, BadRequest,
  PreconditionFailure, RetryInfo) under the HTTP status of its code (400, 401, 403, 404, 409, 429,
  503, ...); RetryInfo is also a Retry-After header.
- Server streams are server-sent events (each `data:` one message; a failure ends the stream with
  `event: error` and a google.rpc.Status), or JSON lines (`{"result": ...}`, `{"error": ...}`) with
  `Accept: application/x-ndjson`.
- Request bodies are at most 2 MiB (413 beyond).
"""


def _include_paths() -> list[Path]:
    import grpc_tools  # the dev extra

    return [PROTO_ROOT, THIRD_PARTY, Path(grpc_tools.__file__).parent / "_proto"]


def descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    """The API's protos and everything they import, with their comments."""
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / PROTO_PACKAGE).glob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "api.binpb"
        includes = [f"-I{path}" for path in _include_paths()]
        command = [sys.executable, "-m", "grpc_tools.protoc", *includes, "--include_imports", "--include_source_info"]
        subprocess.run([*command, f"--descriptor_set_out={out}", *protos], check=True, cwd=ROOT)
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return files


def _comments(files: descriptor_pb2.FileDescriptorSet) -> dict[str, str]:
    """Leading comments by full name (messages, fields, enums, values, services, methods)."""
    found: dict[str, str] = {}
    for file in files.file:
        by_path = {tuple(loc.path): loc.leading_comments for loc in file.source_code_info.location}
        prefix = f"{file.package}." if file.package else ""

        def note(path: tuple[int, ...], name: str, by_path: dict[tuple[int, ...], str] = by_path) -> None:
            text = " ".join(line.strip() for line in by_path.get(path, "").strip().splitlines())
            if text:
                found[name] = text

        def message(proto: descriptor_pb2.DescriptorProto, path: tuple[int, ...], name: str) -> None:
            note(path, name)
            for i, field in enumerate(proto.field):
                note((*path, 2, i), f"{name}.{field.name}")
            for i, nested in enumerate(proto.nested_type):
                message(nested, (*path, 3, i), f"{name}.{nested.name}")
            for i, enum in enumerate(proto.enum_type):
                enumeration(enum, (*path, 4, i), f"{name}.{enum.name}")

        def enumeration(proto: descriptor_pb2.EnumDescriptorProto, path: tuple[int, ...], name: str) -> None:
            note(path, name)
            for i, value in enumerate(proto.value):
                note((*path, 2, i), f"{name}.{value.name}")

        for i, proto in enumerate(file.message_type):
            message(proto, (4, i), prefix + proto.name)
        for i, enum in enumerate(file.enum_type):
            enumeration(enum, (5, i), prefix + enum.name)
        for i, service in enumerate(file.service):
            note((6, i), prefix + service.name)
            for j, method in enumerate(service.method):
                note((6, i, 2, j), f"{prefix}{service.name}.{method.name}")
    return found


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


class Document:
    """The OpenAPI document under construction: paths, and the schemas they reach."""

    def __init__(self, comments: dict[str, str]) -> None:
        self.comments = comments
        self.schemas: dict[str, Any] = {}
        self.paths: dict[str, dict[str, Any]] = {}

    def describe(self, schema: dict[str, Any], name: str) -> dict[str, Any]:
        text = self.comments.get(name)
        return {**schema, "description": text} if text else schema

    # Schemas ------------------------------------------------------------------------------------

    def message_schema(self, message: Descriptor) -> dict[str, Any]:
        if message.full_name in WELL_KNOWN:
            return dict(WELL_KNOWN[message.full_name])
        if message.full_name not in self.schemas:
            self.schemas[message.full_name] = {}  # placeholder: recursion ends here
            properties = {field.name: self.field_schema(field) for field in message.fields}
            schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
            oneofs = [o for o in message.oneofs if not (len(o.fields) == 1 and o.name == "_" + o.fields[0].name)]
            notes = [f"At most one of {', '.join(f.name for f in o.fields)} is set." for o in oneofs]
            if len(message.fields) == 1 and message.fields[0].type == _F.TYPE_STRING:
                only = message.fields[0].name
                notes.append(f'A request may give the bare string instead ("1.5" for {{"{only}": "1.5"}}).')
            described = self.describe(schema, message.full_name)
            if notes:
                described["description"] = " ".join([described.get("description", ""), *notes]).strip()
            self.schemas[message.full_name] = described
        return _ref(message.full_name)

    def enum_schema(self, enum: EnumDescriptor) -> dict[str, Any]:
        if enum.full_name not in self.schemas:
            names = [value.name for value in enum.values]
            values = "; ".join(
                f"{value.name}: {self.comments[f'{enum.full_name}.{value.name}']}"
                for value in enum.values
                if f"{enum.full_name}.{value.name}" in self.comments
            )
            schema = self.describe({"type": "string", "enum": names}, enum.full_name)
            if values:
                schema["description"] = (schema.get("description", "") + " Values: " + values).strip()
            self.schemas[enum.full_name] = schema
        return _ref(enum.full_name)

    def value_schema(self, field: FieldDescriptor) -> dict[str, Any]:
        if field.message_type is not None:
            return self.message_schema(field.message_type)
        if field.enum_type is not None:
            return self.enum_schema(field.enum_type)
        return dict(SCALARS[field.type])

    def field_schema(self, field: FieldDescriptor) -> dict[str, Any]:
        message = field.message_type
        if message is not None and message.GetOptions().map_entry:
            value = message.fields_by_name["value"]
            schema: dict[str, Any] = {"type": "object", "additionalProperties": self.value_schema(value)}
        elif field.is_repeated:
            schema = {"type": "array", "items": self.value_schema(field)}
        else:
            schema = self.value_schema(field)
        return self.describe(schema, field.full_name)

    # Operations ---------------------------------------------------------------------------------

    def query_parameters(
        self, message: Descriptor, prefix: str, bound: set[str], repeated: bool, depth: int = 0
    ) -> Iterator[dict[str, Any]]:
        """The parameters the transcoder reads into `message`'s fields (kite_gateway/http/transcoding.py)."""
        for field in message.fields:
            path = prefix + field.name
            if path in bound or (field.message_type is not None and field.message_type.GetOptions().map_entry):
                continue
            many = repeated or field.is_repeated
            nested = field.message_type
            if nested is not None and nested.full_name not in STRING_FORMS:
                single = len(nested.fields) == 1 and nested.fields[0].message_type is None
                if single:
                    yield self.parameter(path, nested.fields[0], many, self.comments.get(field.full_name))
                elif depth < 3:
                    yield from self.query_parameters(nested, path + ".", bound, many, depth + 1)
                continue
            yield self.parameter(path, field, many, self.comments.get(field.full_name))

    def parameter(self, path: str, field: FieldDescriptor, many: bool, text: str | None) -> dict[str, Any]:
        schema = self.value_schema(field)
        if many:
            schema = {"type": "array", "items": schema}
        parameter: dict[str, Any] = {"name": path, "in": "query", "schema": schema}
        if many:
            parameter |= {"style": "form", "explode": True}
        return parameter | ({"description": text} if text else {})

    def add(self, binding: Binding, operation_id: str) -> None:
        method = binding.method
        request, response = method.input_type, method.output_type
        bound = {v.field_path for v in binding.template.variables}
        parameters: list[dict[str, Any]] = []
        for path in sorted(bound, key=[v.field_path for v in binding.template.variables].index):
            field = field_at(request, path)
            assert field is not None  # bindings_of checked it
            parameters.append(
                {"name": path, "in": "path", "required": True, "schema": self.value_schema(field)}
                | ({"description": self.comments[field.full_name]} if field.full_name in self.comments else {})
            )
        if binding.body == "*":
            body: dict[str, Any] | None = self.message_schema(request)
        elif binding.body:
            body = self.field_schema(request.fields_by_name[binding.body])
            bound.add(binding.body)
        else:
            body = None
        if binding.body != "*":
            parameters.extend(self.query_parameters(request, "", bound, repeated=False))
            for alias, (target, separator) in QUERY_ALIASES.items():
                if alias not in request.fields_by_name and target.split(".")[0] in request.fields_by_name:
                    text = f"The same as repeating {target}, as one {separator!r}-separated list (the seed API's form)"
                    parameters.append({"name": alias, "in": "query", "schema": {"type": "string"}, "description": text})
        text = self.comments.get(method.full_name, "")
        operation: dict[str, Any] = {
            "operationId": operation_id,
            "tags": [method.containing_service.name],
            "summary": text.split(". ")[0].rstrip(".") if text else method.name,
            "description": f"{text} (gRPC: {method.containing_service.full_name}/{method.name})".lstrip(),
        }
        if parameters:
            operation["parameters"] = parameters
        if body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        operation["responses"] = {
            "200": self.success(binding, response),
            "default": {
                "description": "An error: the google.rpc.Status, under the HTTP status of its code",
                "content": {"application/json": {"schema": self.message_schema_by_name(STATUS)}},
            },
        }
        self.paths.setdefault(binding.template.openapi_path(), {})[binding.http_method.lower()] = operation

    def success(self, binding: Binding, response: Descriptor) -> dict[str, Any]:
        if binding.response_body:
            schema = self.field_schema(response.fields_by_name[binding.response_body])
        else:
            schema = self.message_schema(response)
        if not binding.streaming:
            return {"description": "OK", "content": {"application/json": {"schema": schema}}}
        line = {
            "type": "object",
            "properties": {"result": schema, "error": self.message_schema_by_name(STATUS)},
        }
        return {
            "description": (
                "A stream: server-sent events, each event's data one message (a failure ends it with "
                "`event: error` and a google.rpc.Status), or with Accept: application/x-ndjson one "
                'JSON line per message ({"result": ...}, or {"error": ...} last)'
            ),
            "content": {"text/event-stream": {"schema": schema}, "application/x-ndjson": {"schema": line}},
        }

    def message_schema_by_name(self, name: str) -> dict[str, Any]:
        return self.message_schema(descriptor_pool.Default().FindMessageTypeByName(name))


def build(files: descriptor_pb2.FileDescriptorSet) -> dict[str, Any]:
    """The OpenAPI document of the API protos in `files` (with their imports and comments)."""
    from google.rpc import status_pb2  # noqa: F401  (google.rpc.Status in the default pool)

    from kite_gateway import __version__

    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    document = Document(_comments(files))
    tags = []
    for file in files.file:
        if not file.name.startswith(f"{PROTO_PACKAGE.as_posix()}/"):
            continue
        described: FileDescriptor = pool.FindFileByName(file.name)
        for service in described.services_by_name.values():
            tags.append(document.describe({"name": service.name}, service.full_name))
            for method in service.methods:
                rule = rule_of(method)
                if rule is None:
                    continue
                for index, binding in enumerate(bindings_of(method, rule)):
                    suffix = f"_{index + 1}" if index else ""
                    document.add(binding, f"{service.name}_{method.name}{suffix}")
    return {
        "openapi": "3.1.0",
        "info": {"title": "kite-gateway HTTP/JSON API", "version": __version__, "description": INTRODUCTION},
        "tags": tags,
        "security": [{"bearer": []}],
        "paths": document.paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A principal's token (`kite-gateway token`); not needed when the gateway "
                    "has no principals (loopback only)",
                }
            },
            "schemas": dict(sorted(document.schemas.items())),
        },
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if the committed document differs")
    args = parser.parse_args()
    text = render(build(descriptor_set()))
    relative = OUTPUT.relative_to(ROOT)
    if args.check:
        if not OUTPUT.is_file() or OUTPUT.read_text() != text:
            print(f"{relative} is stale; run: python scripts/gen_openapi.py", file=sys.stderr)
            return 1
        print(f"{relative} is current")
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {relative}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
