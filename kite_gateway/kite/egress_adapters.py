"""The requests.Session a proxy egress's writes leave by (kite/transport.py's ThreadedTransport):
calls that change state at Kite (POST, PUT, DELETE: orders, GTTs, the session exchange,
conversions) go through the egress's proxy, whatever proxies the environment names; reads take
the host's default route over the gateway's shared HTTP transport.

Kite checks the IP of place, modify and cancel only (kite_wire/static_ip.py), and reads may come
from any IP; every other write goes through the egress too, because that is always allowed and
covers what Kite does not document (whether GTT writes or the session's creation are checked)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from kite_gateway.kite.egress import Egress

POOL: Mapping[str, int] = {"pool_connections": 4, "pool_maxsize": 16, "max_retries": 0}  # as the client's own


class ProxyAdapter(HTTPAdapter):
    """Connects through one proxy (http, https or socks), whatever the environment's proxies say."""

    def __init__(self, proxy: str) -> None:
        self.proxy = proxy
        super().__init__(pool_connections=POOL["pool_connections"], pool_maxsize=POOL["pool_maxsize"], max_retries=0)

    def send(
        self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None, verify: Any = True,
        cert: Any = None, proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:  # fmt: skip
        forced = {"http": self.proxy, "https": self.proxy}
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=forced)


def egress_session(egress: Egress) -> requests.Session:
    """A session whose every request leaves through `egress`'s proxy."""
    if egress.proxy is None:
        raise ValueError(f"egress {egress.name!r} has no proxy: its calls go over the HTTP transport")
    session = requests.Session()
    adapter = ProxyAdapter(egress.proxy)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
