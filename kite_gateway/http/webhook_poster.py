"""The HTTP client of webhook delivery (kite_gateway/core/alerts/delivery.py's Poster): one aiohttp
session, opened on first use and closed with the gateway. Redirects are not followed (a 3xx is a
failed attempt: a sink's URL is configured, not discovered) and the answer's body is never read
(only its status counts), so a slow or large answer costs nothing but the timeout."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

DEFAULT_TIMEOUT = 10.0  # seconds for a whole attempt: connect, send, status


class AiohttpPoster:
    def __init__(self, timeout: float = DEFAULT_TIMEOUT, session: aiohttp.ClientSession | None = None) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owned = session is None

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """The answer's HTTP status; a transport failure raises aiohttp.ClientError, a timeout TimeoutError."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        async with self._session.post(
            url, data=body, headers=dict(headers), allow_redirects=False, timeout=self.timeout
        ) as response:
            return response.status

    async def close(self) -> None:
        if self._session is not None and self._owned:
            await self._session.close()
        self._session = None
