"""The HTTP listener's own endpoints: a postback that is not one is refused as a bad request, before
any secret is looked up, whatever it nests or how many digits its numbers have."""

from __future__ import annotations

from typing import cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kite_gateway.core.accounts import AccountManager
from kite_gateway.http.endpoints import ACCOUNTS, POSTBACK_PATH, postback


class NoSecrets:
    looked_up: list[str]

    def __init__(self) -> None:
        self.looked_up = []

    async def app_secret_of(self, account_id: str) -> None:
        self.looked_up.append(account_id)


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"user_id": ' + b"9" * 5000 + b"}", b"{not json", b"[1]", b'{"user_id": "A"}'],
)
async def test_a_body_that_is_not_a_kite_postback_is_400_not_a_server_error(body: bytes) -> None:
    accounts = NoSecrets()
    app = web.Application()
    app[ACCOUNTS] = cast(AccountManager, accounts)
    app.router.add_post(POSTBACK_PATH, postback)
    async with TestClient(TestServer(app)) as client:
        response = await client.post(POSTBACK_PATH, data=body)
        assert response.status == 400 and await response.text() == "not a Kite postback"
    assert accounts.looked_up == []
