"""Where the HTTP/JSON transcoder reaches the gateway's own gRPC server: a unix socket only the
gateway's user can open (in the private data directory, or a private temporary directory when the
data directory's path is too long for a socket address), and whether the API may be served as
HTTP/JSON on the HTTP listener at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

SOCKET_NAME = "grpc-internal.sock"
MAX_SOCKET_PATH = 100  # bytes: a socket address holds 108 on Linux, 104 on macOS
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def internal_socket_path(data_dir: Path) -> Path:
    path = data_dir / SOCKET_NAME
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        return path
    return Path(tempfile.mkdtemp(prefix="kite-gateway-")) / SOCKET_NAME  # mkdtemp's directory is 0700


def remove_internal_socket(path: Path, data_dir: Path) -> None:
    path.unlink(missing_ok=True)
    if path.parent != data_dir:
        with contextlib.suppress(OSError):
            path.parent.rmdir()


def exposure_refusal(http_host: str, authenticated: bool, allow_unauthenticated: bool) -> str | None:
    """Why the API must not be served as HTTP/JSON on `http_host`, or None when it may: as on gRPC,
    never without caller authentication beyond loopback unless that is explicitly allowed."""
    if authenticated or allow_unauthenticated or http_host.strip("[]") in LOOPBACK:
        return None
    return (
        f"not serving the API as HTTP/JSON on {http_host} without caller authentication: configure "
        "principals (KITE_GATEWAY_AUTH_FILE or KITE_GATEWAY_AUTH_PRINCIPALS; `kite-gateway token` makes one), "
        "listen on loopback (--http-listen 127.0.0.1:8080) or set KITE_GATEWAY_ALLOW_UNAUTHENTICATED=true"
    )
