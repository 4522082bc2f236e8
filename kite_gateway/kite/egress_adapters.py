"""The egress of an account's calls, on the official client's requests.Session: calls that change
state at Kite (POST, PUT, DELETE: orders, GTTs, the session exchange, conversions) leave through the
account's egress, reads (GET) through the host's default route.

Kite checks the IP of place, modify and cancel only (kite_wire/static_ip.py), and reads may come
from any IP; every other write goes through the egress too, because that is always allowed and
covers what Kite does not document (whether GTT writes or the session's creation are checked)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import BaseAdapter, HTTPAdapter

from kite_gateway.kite.egress import Egress

READS = frozenset({"GET", "HEAD", "OPTIONS"})
POOL: Mapping[str, int] = {"pool_connections": 4, "pool_maxsize": 16, "max_retries": 0}  # as the client's own


def _direct() -> HTTPAdapter:
    return HTTPAdapter(pool_connections=POOL["pool_connections"], pool_maxsize=POOL["pool_maxsize"], max_retries=0)


class SourceAddressAdapter(HTTPAdapter):
    """Connects from a local source address, straight to Kite (never through an environment proxy:
    the address is the egress)."""

    def __init__(self, source_address: str) -> None:
        self.source_address = source_address
        super().__init__(pool_connections=POOL["pool_connections"], pool_maxsize=POOL["pool_maxsize"], max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        pool_kwargs["source_address"] = (self.source_address, 0)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)

    def send(
        self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None, verify: Any = True,
        cert: Any = None, proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:  # fmt: skip
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies={})


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


class WritesThroughEgress(BaseAdapter):
    """Sends reads with `reads`, everything else with `writes`."""

    def __init__(self, reads: HTTPAdapter, writes: HTTPAdapter) -> None:
        super().__init__()
        self.reads = reads
        self.writes = writes

    def adapter_for(self, method: str | None) -> HTTPAdapter:
        return self.reads if (method or "GET").upper() in READS else self.writes

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        return self.adapter_for(request.method).send(request, **kwargs)

    def close(self) -> None:
        self.reads.close()
        self.writes.close()


def egress_adapter(egress: Egress) -> HTTPAdapter:
    """The adapter that leaves through `egress`."""
    if egress.source_address is not None:
        return SourceAddressAdapter(egress.source_address)
    if egress.proxy is not None:
        return ProxyAdapter(egress.proxy)
    return _direct()


def route_writes(session: requests.Session, egress: Egress) -> None:
    """Mount on `session` (http and https) the adapter that sends its writes through `egress`; an
    egress that routes nothing leaves the session as it is."""
    if not egress.routed:
        return
    router = WritesThroughEgress(_direct(), egress_adapter(egress))
    session.mount("https://", router)
    session.mount("http://", router)
