"""`kite-gateway call` as ops run it, against a `kite-gateway serve --paper` (and one with principals)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kite_gateway.auth import token_digest
from tests.conftest import GatewayProcess, free_port


@pytest.fixture(scope="module")
def paper_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gateway = GatewayProcess(tmp_path_factory.mktemp("paper"), "--paper", "--paper-listen", f"127.0.0.1:{free_port()}")
    gateway.wait_serving(timeout=60)
    yield gateway
    gateway.stop()


def call(address: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kite_gateway", "call", "--address", address, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_a_unary_call_prints_the_reply_as_json(paper_gateway: GatewayProcess) -> None:
    result = call(
        paper_gateway.address,
        "MarketDataService/GetLtp",
        '{"account_id":"ZS0001","instruments":[{"symbol":"NSE:INFY"}]}',
    )
    assert result.returncode == 0, result.stderr
    (price,) = json.loads(result.stdout)["prices"]
    assert price["symbol"] == "NSE:INFY" and price["instrument_token"] > 0


def test_the_health_service_is_called_by_its_full_name(paper_gateway: GatewayProcess) -> None:
    result = call(paper_gateway.address, "grpc.health.v1.Health/Check", '{"service":"account/ZS0001"}')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"status": "SERVING"}


def test_a_refused_call_exits_one_with_its_status_reason_and_bad_field(paper_gateway: GatewayProcess) -> None:
    result = call(paper_gateway.address, "OrderService/PlaceOrder", '{"account_id":"ZS0001"}')
    assert result.returncode == 1 and result.stdout == ""
    shown = json.loads(result.stderr)
    assert shown["code"] == "INVALID_ARGUMENT" and shown["message"].startswith("client_order_id: required")
    kinds = {detail["@type"].rpartition("/")[2]: detail for detail in shown["details"]}
    assert kinds["google.rpc.ErrorInfo"]["domain"] == "kite-gateway"
    assert [v["field"] for v in kinds["google.rpc.BadRequest"]["field_violations"]] == ["client_order_id"]


def test_a_call_that_cannot_be_made_exits_two_before_calling(paper_gateway: GatewayProcess) -> None:
    result = call(paper_gateway.address, "OrderService/ListOrder", "{}")
    assert result.returncode == 2
    assert "OrderService has no method ListOrder; its methods are PlaceOrder" in result.stderr


def test_a_stream_prints_one_json_object_per_line_up_to_max_messages(paper_gateway: GatewayProcess) -> None:
    body = '{"account_id":"ZS0001","instruments":[{"symbol":"NSE:INFY"}],"mode":"TICK_MODE_LTP"}'
    result = call(paper_gateway.address, "MarketDataService/StreamTicks", body, "--max-messages", "2")
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["started"]["subscription_id"]
    assert set(second) <= {"ticks", "heartbeat", "upstream", "subscription_updated"}


def test_a_stream_watched_for_its_timeout_ends_cleanly(paper_gateway: GatewayProcess) -> None:
    body = '{"account_id":"ZS0001","after_sequence":"0"}'
    result = call(paper_gateway.address, "OrderService/StreamOrderUpdates", body, "--timeout", "1")
    assert result.returncode == 0, result.stderr
    assert all(json.loads(line) for line in result.stdout.splitlines())


def test_the_token_comes_from_a_flag_or_a_file_when_the_gateway_has_principals(tmp_path: Path) -> None:
    token = "kgw_test_token_for_the_call_command"
    principals = f'[[principal]]\nname = "ops"\ntoken_sha256 = "{token_digest(token)}"\nread = ["*"]\nadmin = true\n'
    gateway = GatewayProcess(tmp_path, env={"KITE_GATEWAY_AUTH_PRINCIPALS": principals})
    try:
        gateway.wait_serving()
        refused = call(gateway.address, "AccountService/ListAccounts")
        assert refused.returncode == 1 and json.loads(refused.stderr)["code"] == "UNAUTHENTICATED"
        assert call(gateway.address, "AccountService/ListAccounts", "--token", token).returncode == 0
        (tmp_path / "token").write_text(token + "\n")
        by_file = call(gateway.address, "AccountService/ListAccounts", "--token-file", str(tmp_path / "token"))
        assert by_file.returncode == 0, by_file.stderr
    finally:
        gateway.stop()


def test_list_sends_the_token_to_a_gateway_whose_reflection_needs_one(tmp_path: Path) -> None:
    token = "kgw_test_token_for_listing_services"
    principals = f'[[principal]]\nname = "ops"\ntoken_sha256 = "{token_digest(token)}"\nread = ["*"]\n'
    env = {"KITE_GATEWAY_AUTH_PRINCIPALS": principals, "KITE_GATEWAY_AUTH_OPEN_HEALTH": "false"}
    gateway = GatewayProcess(tmp_path, env=env)
    try:
        gateway.wait_serving()
        refused = call(gateway.address, "--list")
        assert refused.returncode == 1 and json.loads(refused.stderr)["code"] == "UNAUTHENTICATED"
        listed = call(gateway.address, "--list", "--token", token)  # as the ready line prints it
        assert listed.returncode == 0, listed.stderr
        assert "kite_gateway.v1.OrderService" in listed.stdout.splitlines()
    finally:
        gateway.stop()
