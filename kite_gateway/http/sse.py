"""A server-streaming RPC over HTTP: server-sent events (text/event-stream, the default), or JSON
lines (application/x-ndjson) for a caller that asks for them with Accept.

The stream's first message is awaited before the HTTP status is sent, so a call refused at once
(no token, a bad account, a bad request) answers with its HTTP error status and google.rpc.Status
body like a unary call. After that each message is one event (`data: {...}`), or one line
`{"result": {...}}`; a failure mid-stream is one last `event: error` with the google.rpc.Status
(`{"error": {...}}` as a line) before the response ends. A caller that goes away cancels the call.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from aiohttp import web
from google.protobuf.message import Message

from kite_gateway.http.statuses import status_json, status_of_rpc_error

SSE_TYPE = "text/event-stream"
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-seq")


def wants_json_lines(accept: str) -> bool:
    return any(kind in accept for kind in NDJSON_TYPES)


def sse_event(data: str, event: str = "") -> bytes:
    """One event; `data` is one line of JSON (json.dumps never writes a newline)."""
    return (f"event: {event}\n" if event else "").encode() + b"data: " + data.encode() + b"\n\n"


async def stream_response(
    request: web.Request,
    first: Message,
    rest: AsyncIterator[Message],
    call: grpc.aio.Call,
    render: Callable[[Message], Any],
) -> web.StreamResponse:
    """Write `first` and then every message of `rest` to the caller, in the format it asked for."""
    lines = wants_json_lines(request.headers.get("Accept", ""))
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/x-ndjson" if lines else SSE_TYPE,
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # nginx: pass each event on as it comes
        }
    )
    await response.prepare(request)

    def encode(message: Message) -> bytes:
        if lines:
            return (json.dumps({"result": render(message)}, ensure_ascii=False) + "\n").encode()
        return sse_event(json.dumps(render(message), ensure_ascii=False))

    try:
        await response.write(encode(first))
        async for message in rest:
            await response.write(encode(message))
    except grpc.aio.AioRpcError as exc:
        status = status_json(status_of_rpc_error(exc))
        await response.write(f'{{"error": {status}}}\n'.encode() if lines else sse_event(status, "error"))
    except (ConnectionResetError, OSError):  # the caller went away
        call.cancel()
        return response
    finally:
        call.cancel()
    await response.write_eof()
    return response
