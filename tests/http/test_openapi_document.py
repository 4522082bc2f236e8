"""The committed OpenAPI document is the one the protos give, and it describes every HTTP binding
the gateway serves, with nothing dangling."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

from openapi_spec_validator import validate

from kite_gateway.grpc.registry import API_SERVICES
from kite_gateway.http import published_document, service_bindings
from kite_gateway.http.bindings import rule_of
from tests.conftest import ROOT

SEED_PATHS = [
    ("post", "/api/v1/trading/orders/place"),
    ("put", "/api/v1/trading/orders/{order.order_id}/modify"),
    ("delete", "/api/v1/trading/orders/{order.order_id}/cancel"),
    ("get", "/api/v1/trading/orders"),
    ("get", "/api/v1/trading/positions"),
    ("get", "/api/v1/trading/holdings"),
    ("get", "/api/v1/market/ltp"),
    ("post", "/api/v1/market/historical"),
    ("get", "/api/v1/market/instruments/search"),
    ("get", "/api/v1/accounts/profile"),
    ("get", "/api/v1/accounts/margins"),
    ("get", "/api/v1/health/kite"),
]


def document() -> dict[str, Any]:
    published = published_document()
    assert published is not None, "kite_gateway_api/v1/openapi.json is missing: run python scripts/gen_openapi.py"
    data: dict[str, Any] = json.loads(published)
    return data


def test_the_committed_openapi_document_is_what_the_protos_generate() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_openapi.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_the_document_is_valid_openapi_3_1() -> None:
    validate(document())


def test_every_http_binding_the_gateway_serves_is_a_documented_operation() -> None:
    paths = document()["paths"]
    served = {
        (b.http_method.lower(), b.template.openapi_path()) for b in service_bindings(s.descriptor for s in API_SERVICES)
    }
    documented = {(verb, path) for path, operations in paths.items() for verb in operations}
    assert served == documented
    assert set(SEED_PATHS) <= documented
    unannotated = [m.full_name for s in API_SERVICES for m in s.descriptor.methods if rule_of(m) is None]
    assert not unannotated, f"RPCs without an HTTP binding: {unannotated}"


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_every_schema_reference_resolves_and_every_operation_id_is_unique() -> None:
    data = document()
    schemas = data["components"]["schemas"]
    dangling = {ref for ref in _refs(data) if ref.removeprefix("#/components/schemas/") not in schemas}
    assert not dangling
    ids = [op["operationId"] for operations in data["paths"].values() for op in operations.values()]
    assert len(ids) == len(set(ids))


def test_path_parameters_match_the_template_and_money_is_a_decimal_string() -> None:
    place = document()["paths"]["/v1/accounts/{account_id}/orders/{order.order_id}:cancel"]["post"]
    assert [p["name"] for p in place["parameters"] if p["in"] == "path"] == ["account_id", "order.order_id"]
    ltp = document()["paths"]["/api/v1/market/ltp"]["get"]
    assert {"account_id", "instruments.symbol", "symbols"} <= {p["name"] for p in ltp["parameters"]}
    decimal = document()["components"]["schemas"]["google.type.Decimal"]
    assert decimal["properties"]["value"]["type"] == "string"
