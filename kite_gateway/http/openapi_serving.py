"""The published OpenAPI document of the HTTP/JSON API, served at /openapi.json.

scripts/gen_openapi.py writes it from the protos (their http rules and comments) into the API
distribution, `kite_gateway_api/v1/openapi.json`, beside the generated code it describes; a test
fails when it is stale. The server reads that file, so what it serves is what is committed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from aiohttp import web

OPENAPI_PATH = "/openapi.json"
DOCUMENT_PACKAGE, DOCUMENT_NAME = "kite_gateway_api.v1", "openapi.json"


def published_document() -> bytes | None:
    """The committed document, or None when this installation has none."""
    document = resources.files(DOCUMENT_PACKAGE).joinpath(DOCUMENT_NAME)
    return document.read_bytes() if document.is_file() else None


def openapi_handler(document: bytes) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(_request: web.Request) -> web.Response:
        return web.Response(body=document, content_type="application/json", headers={"Cache-Control": "no-cache"})

    return serve
