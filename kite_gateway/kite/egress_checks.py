"""The start-time check of the egress map: every source address must be assigned to an interface of
this host (binding it must work), every proxy must accept a TCP connection (and a SOCKS proxy needs
PySocks, `requests[socks]`). A failure stops the start with a message naming the group and the fix,
before any order could leave from an IP Kite would refuse."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Awaitable, Callable

from kite_gateway.kite.egress import Egress, EgressConfigError, EgressMap, proxy_endpoint, redact_proxy

CONNECT_TIMEOUT = 3.0

Connect = Callable[[str, int, float], Awaitable[None]]  # host, port, seconds to wait


def check_source_address(egress: Egress) -> None:
    """Bind the egress's source address (port 0) and let it go again."""
    assert egress.source_address is not None
    family = socket.AF_INET6 if ipaddress.ip_address(egress.source_address).version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((egress.source_address, 0))
    except OSError as exc:
        raise EgressConfigError(
            f'egress group "{egress.name}": source_address {egress.source_address} is not an address of this '
            f"host (binding it failed: {exc.strerror}). Assign it to an interface (e.g. `ip addr add "
            f"{egress.source_address}/32 dev eth0`, or the cloud's secondary private IP of this instance), or "
            "map the group to a proxy instead, in KITE_GATEWAY_EGRESS_FILE."
        ) from None


async def tcp_connect(host: str, port: int, seconds: float) -> None:
    """Open a TCP connection to host:port and close it (TimeoutError after `seconds`)."""
    async with asyncio.timeout(seconds):
        _, writer = await asyncio.open_connection(host, port)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def check_proxy(egress: Egress, connect: Connect = tcp_connect, seconds: float = CONNECT_TIMEOUT) -> None:
    """The proxy accepts a TCP connection, and its scheme can be spoken."""
    assert egress.proxy is not None
    shown = redact_proxy(egress.proxy)
    if egress.proxy.startswith("socks"):
        try:
            import socks  # type: ignore[import-untyped]  # noqa: F401  (PySocks, which requests needs for socks)
        except ImportError:
            raise EgressConfigError(
                f'egress group "{egress.name}": proxy {shown} is a SOCKS proxy and PySocks is not installed; '
                "install kite-gateway with its dependencies (requests[socks])."
            ) from None
    host, port = proxy_endpoint(egress.proxy)
    try:
        await connect(host, port, seconds)
    except (OSError, TimeoutError) as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__)
        raise EgressConfigError(
            f'egress group "{egress.name}": proxy {shown} cannot be reached ({why} within {seconds:g} s). '
            "Start the proxy or fix its address in KITE_GATEWAY_EGRESS_FILE; until then this group's orders "
            "would leave from no registered IP."
        ) from None


async def check_egresses(egresses: EgressMap, connect: Connect = tcp_connect) -> None:
    """Check every egress of the map; raises EgressConfigError for the first that cannot be used."""
    for egress in egresses.egresses():
        if egress.source_address is not None:
            check_source_address(egress)
        elif egress.proxy is not None:
            await check_proxy(egress, connect)
