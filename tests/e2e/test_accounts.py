"""AccountService end to end: logins through Kite's flow, accounts kept sealed across restarts,
session state that follows Kite's tokens, profile and margins."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import aiohttp
import grpc
import pytest
from kite_gateway_api.v1 import account_pb2

from kite_gateway.app import App
from kite_gateway.storage.sealing import Sealer, SealingError
from kite_simulator import ThreadedSimulator
from tests.e2e.conftest import Stack, make_settings, start_stack, status_of, stop_stack

ACTIVE, NEEDS_LOGIN = account_pb2.SESSION_STATE_ACTIVE, account_pb2.SESSION_STATE_NEEDS_LOGIN


async def request_token(sim: ThreadedSimulator, user_id: str = "ZS0001") -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{sim.login_url()}&user_id={user_id}", allow_redirects=False) as reply,
    ):
        return parse_qs(urlparse(reply.headers["Location"]).query)["request_token"][0]


async def test_the_logged_in_accounts_are_listed_active(stack: Stack) -> None:
    listed = await stack.accounts.ListAccounts(account_pb2.ListAccountsRequest())
    assert [(a.account_id, a.session_state) for a in listed.accounts] == [("ZS0001", ACTIVE), ("ZS0002", ACTIVE)]
    one = listed.accounts[0]
    assert one.user_name == "Paper Trader One" and one.api_key == "sim_api_key"
    assert one.token_expires_at.ToDatetime().hour == 0 and one.token_expires_at.ToDatetime().minute == 30  # 06:00 IST


async def test_the_login_url_carries_the_app_and_echoes_it_back(stack: Stack) -> None:
    reply = await stack.accounts.GetLoginUrl(
        account_pb2.GetLoginUrlRequest(api_key="sim_api_key", redirect_params={"desk": "a"})
    )
    query = parse_qs(urlparse(reply.login_url).query)
    assert reply.login_url.startswith(f"{stack.sim.api_url}/connect/login?")
    assert query["api_key"] == ["sim_api_key"] and query["v"] == ["3"]
    assert parse_qs(query["redirect_params"][0]) == {"desk": ["a"], "kg_api_key": ["sim_api_key"]}


async def test_a_request_token_completes_a_login_once(stack: Stack) -> None:
    token = await request_token(stack.sim, "ZS0002")
    done = await stack.accounts.CompleteLogin(
        account_pb2.CompleteLoginRequest(api_key="sim_api_key", request_token=token)
    )
    assert done.account.account_id == "ZS0002" and done.account.session_state == ACTIVE
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.accounts.CompleteLogin(account_pb2.CompleteLoginRequest(api_key="sim_api_key", request_token=token))
    code, reason, _, _ = status_of(caught.value)
    assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "ACCOUNT_NEEDS_LOGIN")
    assert "single-use" in (caught.value.details() or "")


async def test_a_new_app_needs_its_secret_once(stack: Stack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.accounts.CompleteLogin(account_pb2.CompleteLoginRequest(api_key="other_key", request_token="x"))
    assert status_of(caught.value)[3] == [
        ("api_secret", "required: the gateway has no api_secret for api_key other_key yet")
    ]


async def test_an_account_can_be_added_from_an_access_token_and_removed(stack: Stack) -> None:
    _, token = stack.sim.session_for("ZS0002")
    await stack.accounts.RemoveAccount(account_pb2.RemoveAccountRequest(account_id="ZS0002"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.accounts.GetAccount(account_pb2.GetAccountRequest(account_id="ZS0002"))
    assert status_of(caught.value)[:2] == (grpc.StatusCode.NOT_FOUND, "ACCOUNT_NOT_FOUND")
    added = await stack.accounts.AddAccount(account_pb2.AddAccountRequest(api_key="sim_api_key", access_token=token))
    assert added.account.account_id == "ZS0002" and added.account.session_state == ACTIVE
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.accounts.AddAccount(account_pb2.AddAccountRequest(api_key="sim_api_key", access_token="bogus"))
    assert status_of(caught.value)[:2] == (grpc.StatusCode.UNAUTHENTICATED, "ACCOUNT_NEEDS_LOGIN")


async def test_removing_with_invalidation_logs_the_token_out_at_kite(stack: Stack) -> None:
    token = stack.runtime.accounts.get("ZS0002").kite.client.access_token  # type: ignore[union-attr]
    await stack.accounts.RemoveAccount(account_pb2.RemoveAccountRequest(account_id="ZS0002", invalidate_token=True))
    assert not stack.sim.on_loop(lambda s: s.sessions._sessions[token].valid)


async def test_profile_and_margins(stack: Stack) -> None:
    profile = (await stack.accounts.GetProfile(account_pb2.GetProfileRequest(account_id="ZS0001"))).profile
    assert profile.account_id == "ZS0001" and profile.broker == "ZERODHA" and len(profile.exchanges) >= 6
    assert profile.avatar_url == ""  # Kite (and the simulator) send null: unset, not an error
    both = await stack.accounts.GetMargins(account_pb2.GetMarginsRequest(account_id="ZS0001"))
    assert both.equity.enabled and both.equity.available.cash.value == "1000000" and both.commodity.enabled
    equity = await stack.accounts.GetMargins(
        account_pb2.GetMarginsRequest(account_id="ZS0001", segment=account_pb2.MARGIN_SEGMENT_EQUITY)
    )
    assert equity.HasField("equity") and not equity.HasField("commodity")


async def test_an_expired_token_turns_the_account_to_needs_login_with_what_to_do(stack: Stack) -> None:
    await stack.sim.advance_async(20 * 3600)  # past 06:00 IST the next morning
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.accounts.GetMargins(account_pb2.GetMarginsRequest(account_id="ZS0001"))
    code, reason, metadata, _ = status_of(caught.value)
    assert (code, reason, metadata["account_id"]) == (grpc.StatusCode.UNAUTHENTICATED, "ACCOUNT_NEEDS_LOGIN", "ZS0001")
    assert "GetLoginUrl" in (caught.value.details() or "")
    account = (await stack.accounts.GetAccount(account_pb2.GetAccountRequest(account_id="ZS0001"))).account
    assert account.session_state == NEEDS_LOGIN and "expired" in account.state_detail
    token = await request_token(stack.sim)
    await stack.accounts.CompleteLogin(account_pb2.CompleteLoginRequest(api_key="sim_api_key", request_token=token))
    assert (await stack.accounts.GetMargins(account_pb2.GetMarginsRequest(account_id="ZS0001"))).equity.enabled


async def test_a_token_kite_refuses_marks_the_account_needs_login(stack: Stack) -> None:
    token = stack.runtime.accounts.get("ZS0001").kite.client.access_token  # type: ignore[union-attr]
    stack.sim.on_loop(lambda s: s.sessions.invalidate("sim_api_key", token))  # logged out elsewhere
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.accounts.GetMargins(account_pb2.GetMarginsRequest(account_id="ZS0001"))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    account = (await stack.accounts.GetAccount(account_pb2.GetAccountRequest(account_id="ZS0001"))).account
    assert account.session_state == NEEDS_LOGIN and "refused" in account.state_detail


async def test_accounts_survive_a_restart_with_their_secrets_sealed(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    first = await start_stack(tmp_path, sim, sealing_key)
    token = first.runtime.accounts.get("ZS0001").kite.client.access_token  # type: ignore[union-attr]
    rows = [tuple(r) for table in ("apps", "accounts") for r in await first.runtime.database.fetch_all(
        f"SELECT * FROM {table}")]  # fmt: skip
    await stop_stack(first)
    assert len(rows) == 3  # the app and two accounts, on either backend
    stored = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("gateway.db*")) + repr(rows).encode()
    assert token.encode() not in stored and b"sim_api_secret" not in stored
    second = await start_stack(tmp_path, sim, sealing_key, login=False)
    try:
        listed = await second.accounts.ListAccounts(account_pb2.ListAccountsRequest())
        assert [(a.account_id, a.session_state) for a in listed.accounts] == [("ZS0001", ACTIVE), ("ZS0002", ACTIVE)]
        assert (await second.accounts.GetProfile(account_pb2.GetProfileRequest(account_id="ZS0001"))).profile.account_id
    finally:
        await stop_stack(second)


async def test_the_wrong_sealing_key_stops_the_start_with_a_clear_message(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    await stop_stack(await start_stack(tmp_path, sim, sealing_key))
    with pytest.raises(SealingError, match="does not open the credentials stored in"):
        await App.open(make_settings(tmp_path, sim, Sealer.generate_key()))
    with pytest.raises(SealingError, match="malformed"):
        await App.open(make_settings(tmp_path, sim, b"not-a-key"))
    with pytest.raises(SealingError, match="KITE_GATEWAY_SECRET_KEY"):
        await App.open(make_settings(tmp_path, sim, sealing_key).model_copy(update={"gateway_secret_key": None}))


async def test_a_browser_login_lands_on_the_gateways_callback_and_completes(stack: Stack) -> None:
    endpoints = stack.runtime.http_endpoints("127.0.0.1", 0)
    await endpoints.start()
    try:
        stack.sim.app.redirect_url = endpoints.callback_url
        await stack.accounts.RemoveAccount(account_pb2.RemoveAccountRequest(account_id="ZS0002"))
        url = (await stack.accounts.GetLoginUrl(account_pb2.GetLoginUrlRequest(api_key="sim_api_key"))).login_url
        async with aiohttp.ClientSession() as browser, browser.get(f"{url}&user_id=ZS0002") as page:
            text = await page.text()  # the browser follows Kite's redirect to the gateway
        assert page.status == 200 and "ZS0002" in text and "logged in" in text
        account = (await stack.accounts.GetAccount(account_pb2.GetAccountRequest(account_id="ZS0002"))).account
        assert account.session_state == ACTIVE
    finally:
        await endpoints.stop()


async def test_each_account_has_a_health_entry_that_follows_its_session(stack: Stack) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from kite_gateway.grpc.account_health import publish_once

    known: set[str] = set()
    await publish_once(stack.gateway.health, stack.runtime.health_sources(), known)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.gateway.port}") as channel:
        probe = health_pb2_grpc.HealthStub(channel)
        check = health_pb2.HealthCheckRequest(service="account/ZS0001")
        assert (await probe.Check(check)).status == health_pb2.HealthCheckResponse.SERVING
        await stack.sim.advance_async(20 * 3600)  # the token expires at 06:00 IST
        await publish_once(stack.gateway.health, stack.runtime.health_sources(), known)
        assert (await probe.Check(check)).status == health_pb2.HealthCheckResponse.NOT_SERVING
        await stack.accounts.RemoveAccount(account_pb2.RemoveAccountRequest(account_id="ZS0001"))
        await publish_once(stack.gateway.health, stack.runtime.health_sources(), known)
        assert (await probe.Check(check)).status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
