"""Caller authentication and per-account authorization: bearer tokens name principals; a principal
reads and trades only its accounts; health and reflection stay open unless configured otherwise."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kite_gateway_api.v1 import (
    account_pb2,
    account_pb2_grpc,
    common_pb2,
    market_data_pb2,
    order_pb2,
    portfolio_pb2,
)

from kite_gateway.auth.policy import NEEDS
from kite_gateway.auth.principals import token_digest
from kite_gateway.grpc.registry import API_SERVICES
from kite_gateway.grpc.server import Gateway, StartupError
from kite_simulator import ThreadedSimulator
from tests.e2e.certificates import issue, make_ca
from tests.e2e.conftest import Stack, make_settings, market_buy, start_stack, status_of, stop_stack

TOKENS = {"reader": "tok-reader-1", "trader": "tok-trader-1", "ops": "tok-ops-1", "risk": "tok-risk-1"}
PRINCIPALS = f"""
[[principal]]
name = "reader"
token_sha256 = "{token_digest(TOKENS["reader"])}"
read = ["ZS0001"]

[[principal]]
name = "trader"
token_sha256 = "{token_digest(TOKENS["trader"])}"
trade = ["ZS0001"]

[[principal]]
name = "ops"
token_sha256 = "{token_digest(TOKENS["ops"])}"
admin = true

[[principal]]
name = "risk"
token_sha256 = "{token_digest(TOKENS["risk"])}"
read = ["*"]
"""


def bearer(name: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {TOKENS[name]}"),)


@pytest.fixture
async def secured(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> AsyncIterator[Stack]:
    running = await start_stack(tmp_path, sim, sealing_key, gateway_auth_principals=PRINCIPALS)
    yield running
    await stop_stack(running)


async def refused(call: Any) -> tuple[grpc.StatusCode, str, str, dict[str, str]]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    code, reason, metadata, _ = status_of(caught.value)
    return code, caught.value.details() or "", reason, metadata


def test_every_api_method_says_what_it_needs_of_its_caller() -> None:
    methods = {m.full_name for service in API_SERVICES for m in service.descriptor.methods}
    assert methods == set(NEEDS)


async def test_a_call_without_a_token_is_unauthenticated_and_says_how_to_send_one(secured: Stack) -> None:
    code, message, reason, _ = await refused(
        secured.portfolio.GetPositions(portfolio_pb2.GetPositionsRequest(account_id="ZS0001"))
    )
    assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "CALLER_UNAUTHENTICATED")
    assert "authorization: Bearer <token>" in message


@pytest.mark.parametrize(
    ("header", "says"),
    [("Bearer not-a-known-token", "not one this gateway knows"), ("Basic dXNlcjpwYXNz", "must be 'Bearer <token>'")],
)
async def test_an_unknown_or_malformed_token_is_unauthenticated(secured: Stack, header: str, says: str) -> None:
    call = secured.portfolio.GetPositions(
        portfolio_pb2.GetPositionsRequest(account_id="ZS0001"), metadata=(("authorization", header),)
    )
    code, message, _, _ = await refused(call)
    assert code == grpc.StatusCode.UNAUTHENTICATED and says in message


async def test_a_reader_reads_its_account_but_not_another(secured: Stack) -> None:
    mine = await secured.portfolio.GetHoldings(
        portfolio_pb2.GetHoldingsRequest(account_id="ZS0001"), metadata=bearer("reader")
    )
    assert mine.holdings
    code, message, reason, metadata = await refused(
        secured.portfolio.GetHoldings(portfolio_pb2.GetHoldingsRequest(account_id="ZS0002"), metadata=bearer("reader"))
    )
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "ACCOUNT_ACCESS_DENIED")
    assert message == "'reader' may not read account ZS0002 (PortfolioService.GetHoldings)"
    assert metadata == {"principal": "reader", "account_id": "ZS0002"}


async def test_a_reader_cannot_trade_even_its_own_account(secured: Stack) -> None:
    call = secured.orders.PlaceOrder(
        order_pb2.PlaceOrderRequest(account_id="ZS0001", client_order_id="r-1", params=market_buy()),
        metadata=bearer("reader"),
    )
    code, message, _, _ = await refused(call)
    assert code == grpc.StatusCode.PERMISSION_DENIED and "may not trade account ZS0001" in message
    assert secured.kite_orders("ZS0001") == []


async def test_a_trader_trades_its_account_and_the_audit_names_it(secured: Stack) -> None:
    placed = await secured.orders.PlaceOrder(
        order_pb2.PlaceOrderRequest(account_id="ZS0001", client_order_id="t-1", params=market_buy()),
        metadata=bearer("trader"),
    )
    assert placed.order_id
    audit = await secured.orders.ListAuditEvents(
        order_pb2.ListAuditEventsRequest(account_id="ZS0001"), metadata=bearer("trader")
    )
    assert [e.principal for e in audit.events] == ["trader"]


async def test_a_trader_cannot_cross_into_another_account_directly_or_in_a_bulk_leg(secured: Stack) -> None:
    code, _, _, _ = await refused(
        secured.orders.PlaceOrder(
            order_pb2.PlaceOrderRequest(account_id="ZS0002", client_order_id="x-1", params=market_buy()),
            metadata=bearer("trader"),
        )
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    legs = [
        order_pb2.BulkOrderLeg(account_id="ZS0001", client_order_id="b-1", params=market_buy()),
        order_pb2.BulkOrderLeg(account_id="ZS0002", client_order_id="b-2", params=market_buy()),
    ]
    code, message, _, _ = await refused(
        secured.orders.PlaceBulkOrders(order_pb2.PlaceBulkOrdersRequest(legs=legs), metadata=bearer("trader"))
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED and "ZS0002" in message
    assert secured.kite_orders("ZS0001") == [] and secured.kite_orders("ZS0002") == []


async def test_streams_of_another_account_are_refused(secured: Stack) -> None:
    ticks = secured.market.StreamTicks(
        market_data_pb2.StreamTicksRequest(
            account_id="ZS0002", instruments=[common_pb2.InstrumentRef(symbol="NSE:INFY")]
        ),
        metadata=bearer("reader"),
    )
    updates = secured.orders.StreamOrderUpdates(
        order_pb2.StreamOrderUpdatesRequest(account_id="ZS0002"), metadata=bearer("trader")
    )
    for stream in (ticks, updates):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stream.read()
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_the_consolidated_view_needs_named_accounts_unless_the_caller_reads_all(secured: Stack) -> None:
    code, message, _, _ = await refused(
        secured.portfolio.GetConsolidatedPortfolio(
            portfolio_pb2.GetConsolidatedPortfolioRequest(), metadata=bearer("reader")
        )
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED and "name the accounts" in message
    named = await secured.portfolio.GetConsolidatedPortfolio(
        portfolio_pb2.GetConsolidatedPortfolioRequest(account_ids=["ZS0001"]), metadata=bearer("reader")
    )
    everything = await secured.portfolio.GetConsolidatedPortfolio(
        portfolio_pb2.GetConsolidatedPortfolioRequest(), metadata=bearer("risk")
    )
    assert [a.account_id for a in named.accounts] == ["ZS0001"]
    assert sorted(a.account_id for a in everything.accounts) == ["ZS0001", "ZS0002"]


async def test_list_accounts_shows_only_what_the_caller_may_read(secured: Stack) -> None:
    request = account_pb2.ListAccountsRequest()
    mine = await secured.accounts.ListAccounts(request, metadata=bearer("trader"))
    every = await secured.accounts.ListAccounts(request, metadata=bearer("risk"))
    assert [a.account_id for a in mine.accounts] == ["ZS0001"]
    assert sorted(a.account_id for a in every.accounts) == ["ZS0001", "ZS0002"]


async def test_managing_accounts_needs_an_admin(secured: Stack) -> None:
    request = account_pb2.RemoveAccountRequest(account_id="ZS0001")
    code, message, _, _ = await refused(secured.accounts.RemoveAccount(request, metadata=bearer("risk")))
    assert code == grpc.StatusCode.PERMISSION_DENIED and "needs an admin principal" in message
    login = await secured.accounts.GetLoginUrl(
        account_pb2.GetLoginUrlRequest(api_key="sim_api_key"), metadata=bearer("ops")
    )
    assert login.login_url


async def test_health_and_reflection_stay_open_by_default(secured: Stack) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{secured.gateway.port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_health_can_require_a_token(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> None:
    stack = await start_stack(
        tmp_path, sim, sealing_key, gateway_auth_principals=PRINCIPALS, gateway_auth_open_health=False
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.gateway.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await health.Check(health_pb2.HealthCheckRequest())
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            reply = await health.Check(health_pb2.HealthCheckRequest(), metadata=bearer("risk"))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await stop_stack(stack)


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"gateway_auth_principals": "[[principal]]\nname = 'x'\ntoken_sha256 = 'abc'"}, "64 lowercase hex"),
        ({"gateway_auth_principals": "not toml ["}, "not valid TOML"),
        ({"gateway_auth_principals": PRINCIPALS + PRINCIPALS}, "its token is also"),
        ({"gateway_auth_file": Path("/nonexistent/principals.toml")}, "cannot read it"),
        ({"gateway_listen": "0.0.0.0:0"}, "refusing to serve 0.0.0.0:0 without caller authentication"),
        ({"gateway_tls_cert_file": Path("/nonexistent.pem")}, "needs both"),
    ],
)
async def test_a_bad_security_configuration_stops_the_gateway_with_the_reason(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes, overrides: dict[str, Any], says: str
) -> None:
    with pytest.raises(StartupError, match=says):
        await Gateway(make_settings(tmp_path, sim, sealing_key, **overrides)).start()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


async def test_with_a_certificate_the_listener_speaks_tls_and_with_a_client_ca_requires_client_certs(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    ca, ca_cert, ca_key = make_ca()
    server = issue(ca_cert, ca_key, "kite-gateway")
    client = issue(ca_cert, ca_key, "signal-engine")
    settings: dict[str, Any] = {
        "gateway_tls_cert_file": write(tmp_path / "server.pem", server.cert_pem),
        "gateway_tls_key_file": write(tmp_path / "server.key", server.key_pem),
        "gateway_tls_client_ca_file": write(tmp_path / "ca.pem", ca.cert_pem),
    }
    stack = await start_stack(tmp_path, sim, sealing_key, **settings)
    address = f"localhost:{stack.gateway.port}"
    request = account_pb2.ListAccountsRequest()
    try:
        with_cert = grpc.ssl_channel_credentials(ca.cert_pem, client.key_pem, client.cert_pem)
        async with grpc.aio.secure_channel(address, with_cert) as channel:
            listed = await account_pb2_grpc.AccountServiceStub(channel).ListAccounts(request)
            assert sorted(a.account_id for a in listed.accounts) == ["ZS0001", "ZS0002"]
        async with grpc.aio.secure_channel(address, grpc.ssl_channel_credentials(ca.cert_pem)) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as no_client_cert:
                await account_pb2_grpc.AccountServiceStub(channel).ListAccounts(request, timeout=5)
            assert no_client_cert.value.code() == grpc.StatusCode.UNAVAILABLE
        async with grpc.aio.insecure_channel(address) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as plaintext:
                await account_pb2_grpc.AccountServiceStub(channel).ListAccounts(request, timeout=5)
            assert plaintext.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await stop_stack(stack)


async def test_the_health_probe_command_speaks_tls_and_sends_a_token(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    ca, ca_cert, ca_key = make_ca()
    server = issue(ca_cert, ca_key, "kite-gateway")
    stack = await start_stack(
        tmp_path,
        sim,
        sealing_key,
        gateway_tls_cert_file=write(tmp_path / "server.pem", server.cert_pem),
        gateway_tls_key_file=write(tmp_path / "server.key", server.key_pem),
        gateway_auth_principals=PRINCIPALS,
        gateway_auth_open_health=False,
    )
    probe = [sys.executable, "-m", "kite_gateway", "health", "--address", f"localhost:{stack.gateway.port}"]
    probe += ["--tls-ca", str(write(tmp_path / "ca.pem", ca.cert_pem))]
    token = tmp_path / "token"
    token.write_text(TOKENS["risk"] + "\n")
    try:
        without = await asyncio.to_thread(subprocess.run, probe, capture_output=True, text=True, timeout=30)
        with_token = await asyncio.to_thread(
            subprocess.run, [*probe, "--token-file", str(token)], capture_output=True, text=True, timeout=30
        )
    finally:
        await stop_stack(stack)
    assert without.returncode == 1 and "UNAUTHENTICATED" in without.stderr
    assert with_token.returncode == 0 and with_token.stdout.strip().endswith("SERVING")
