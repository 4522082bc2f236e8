"""The gateway's HTTP listener: Kite's login callback, order postbacks, /metrics, and the API as
HTTP/JSON (google.api.http transcoding onto the gateway's own gRPC server) with /openapi.json, and
strategy signals by webhook (/signals/webhook)."""

from kite_gateway.http.bindings import Binding, BindingError, Router, bindings_of, field_at, service_bindings
from kite_gateway.http.endpoints import HttpEndpoints
from kite_gateway.http.internal_socket import exposure_refusal, internal_socket_path, remove_internal_socket
from kite_gateway.http.json_api import MAX_BODY_BYTES, JsonApi
from kite_gateway.http.openapi_serving import OPENAPI_PATH, published_document
from kite_gateway.http.signal_webhook import WEBHOOK_PATH, Nonces, SignalWebhook, Submit
from kite_gateway.http.statuses import HTTP_STATUS
from kite_gateway.http.templates import PathTemplate, TemplateError, Variable
from kite_gateway.http.transcoding import QUERY_ALIASES
from kite_gateway.http.webhook_poster import AiohttpPoster

__all__ = [
    "HTTP_STATUS",
    "MAX_BODY_BYTES",
    "OPENAPI_PATH",
    "QUERY_ALIASES",
    "WEBHOOK_PATH",
    "AiohttpPoster",
    "Binding",
    "BindingError",
    "HttpEndpoints",
    "JsonApi",
    "Nonces",
    "PathTemplate",
    "Router",
    "SignalWebhook",
    "Submit",
    "TemplateError",
    "Variable",
    "bindings_of",
    "exposure_refusal",
    "field_at",
    "internal_socket_path",
    "published_document",
    "remove_internal_socket",
    "service_bindings",
]
