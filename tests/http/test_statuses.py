"""A failure as HTTP: google.api's status for each code, the google.rpc.Status as JSON with each
detail's @type, and Retry-After from RetryInfo."""

from __future__ import annotations

import json

from google.rpc import code_pb2

from kite_gateway.errors import GatewayError, Reason, Status, invalid
from kite_gateway.http import HTTP_STATUS
from kite_gateway.http.statuses import error_response, status_of_gateway_error


def test_each_code_the_api_answers_has_the_http_status_google_api_gives_it() -> None:
    expected = {
        "INVALID_ARGUMENT": 400,
        "UNAUTHENTICATED": 401,
        "PERMISSION_DENIED": 403,
        "NOT_FOUND": 404,
        "ALREADY_EXISTS": 409,
        "ABORTED": 409,
        "FAILED_PRECONDITION": 400,
        "OUT_OF_RANGE": 400,
        "RESOURCE_EXHAUSTED": 429,
        "UNIMPLEMENTED": 501,
        "UNAVAILABLE": 503,
        "DEADLINE_EXCEEDED": 504,
    }
    assert {name: HTTP_STATUS[code_pb2.Code.Value(name)] for name in expected} == expected
    assert set(HTTP_STATUS) == set(code_pb2.Code.values())


def test_a_bad_field_renders_as_status_json_with_typed_error_info_and_bad_request() -> None:
    response = error_response(status_of_gateway_error(invalid("params.quantity", "must be positive")))
    assert response.status == 400 and response.content_type == "application/json"
    assert response.text is not None
    body = json.loads(response.text)
    assert body["code"] == code_pb2.INVALID_ARGUMENT and body["message"] == "params.quantity: must be positive"
    info, bad = body["details"]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert (info["reason"], info["domain"]) == ("INVALID_FIELD", "kite-gateway")
    assert bad["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert bad["field_violations"] == [{"field": "params.quantity", "description": "must be positive"}]


def test_a_rate_limited_call_says_when_to_retry_in_whole_seconds() -> None:
    error = GatewayError(Status.RESOURCE_EXHAUSTED, Reason.KITE_RATE_LIMITED, "slow down", retry_after=1.2)
    response = error_response(status_of_gateway_error(error))
    assert response.status == 429 and response.headers["Retry-After"] == "2"
    assert "Retry-After" not in error_response(status_of_gateway_error(invalid("a", "b"))).headers


def test_an_unauthenticated_call_challenges_for_a_bearer_token() -> None:
    error = GatewayError(Status.UNAUTHENTICATED, Reason.CALLER_UNAUTHENTICATED, "send 'Bearer <token>'")
    response = error_response(status_of_gateway_error(error))
    assert response.status == 401 and response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "WWW-Authenticate" not in error_response(status_of_gateway_error(invalid("x", "bad"))).headers
