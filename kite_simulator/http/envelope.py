"""Kite's HTTP envelope: `{"status": "success", "data": ...}`, its error bodies for every failure,
and reading requests as Kite's clients send them (query strings for GET/DELETE, form bodies for
POST/PUT, JSON arrays for the margin and charges endpoints)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kite_simulator.errors import KiteError, general_error, input_error, not_found
from kite_simulator.sessions import Session

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SESSION = web.RequestKey("session", Session)


def ok(data: Any) -> web.Response:
    return web.json_response({"status": "success", "data": data})


def session_of(request: web.Request) -> Session:
    """The session the request rules authenticated."""
    return request[SESSION]


async def read_form(request: web.Request) -> dict[str, str]:
    if request.method in ("GET", "DELETE"):
        return dict(request.query)
    data = await request.post()
    return {k: str(v) for k, v in data.items()}


async def read_json_list(request: web.Request) -> list[dict[str, Any]]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise input_error("Invalid JSON body: expected an array of orders.") from None
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise input_error("Invalid JSON body: expected an array of orders.")
    return body


@web.middleware
async def envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Kite's error envelope for every failure; never a stack trace, never a dead server."""
    try:
        return await handler(request)
    except KiteError as exc:
        return web.json_response(exc.body(), status=exc.http_status)
    except web.HTTPNotFound:
        return web.json_response(not_found().body(), status=404)
    except web.HTTPMethodNotAllowed:
        return web.json_response(general_error("Method not allowed", 405).body(), status=405)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("simulator request %s %s failed", request.method, request.path)
        return web.json_response(general_error("Internal server error").body(), status=500)
