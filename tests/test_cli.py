"""The `kite-gateway` command as ops run it: configuration errors, signals, health probe, buf curl."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kite_gateway_api.v1 import account_pb2, account_pb2_grpc, common_pb2, order_pb2, order_pb2_grpc

from tests.conftest import GatewayProcess, buf_binary, free_port


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "kite_gateway", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_a_bad_environment_value_stops_start_naming_the_variable_and_the_problem(tmp_path: Path) -> None:
    result = run_cli("serve", "--data-dir", str(tmp_path), env={"KITE_REQUEST_TIMEOUT": "-1"})
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr
    assert "KITE_REQUEST_TIMEOUT='-1': Input should be greater than 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_flag_value_is_reported_by_its_flag_name(tmp_path: Path) -> None:
    result = run_cli("serve", "--listen", "localhost", "--log-level", "LOUD", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "--listen='localhost': Value error, must be HOST:PORT" in result.stderr
    assert "--log-level='LOUD'" in result.stderr


def test_every_bad_value_is_reported_at_once(tmp_path: Path) -> None:
    env = {
        "KITE_API_ENDPOINT": "ftp://kite",
        "KITE_WEBSOCKET_ENDPOINT": "https://ws",
        "KITE_MAX_RETRIES": "many",
        "KITE_RATE_LIMIT_PER_SECOND": "0",
        "KITE_BURST_LIMIT": "0",
        "KITE_METRICS_ENABLED": "perhaps",
    }
    result = run_cli("serve", "--data-dir", str(tmp_path), env=env)
    assert result.returncode == 2
    for name in env:
        assert f"{name}=" in result.stderr, name


def test_resetting_the_paper_market_is_refused_when_the_records_live_in_postgresql(tmp_path: Path) -> None:
    env = {
        "KITE_GATEWAY_DATABASE_URL": "postgresql://gateway:hunter2@db.example/kite",
        "KITE_GATEWAY_CLUSTER_SECRET": "s" * 40,
    }
    result = run_cli("serve", "--paper", "--reset-paper", "--data-dir", str(tmp_path), env=env)
    assert result.returncode == 2
    assert "--reset-paper sets aside the SQLite database" in result.stderr and "fresh database" in result.stderr
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr


def test_a_flag_overrides_the_environment(tmp_path: Path) -> None:
    proc = GatewayProcess(tmp_path, "--log-level", "INFO", env={"KITE_LOG_LEVEL": "LOUD"})
    try:
        proc.wait_serving()
    finally:
        proc.stop()


def test_sigterm_turns_health_not_serving_then_exits_cleanly(tmp_path: Path) -> None:
    proc = GatewayProcess(tmp_path, "--shutdown-grace", "2")
    try:
        proc.wait_serving()
        with grpc.insecure_channel(proc.address) as chan:
            watch = health_pb2_grpc.HealthStub(chan).Watch(health_pb2.HealthCheckRequest(service=""), timeout=10)
            assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
            proc.proc.send_signal(signal.SIGTERM)
            assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert proc.proc.wait(timeout=10) == 0
        events = [json.loads(line)["event"] for line in proc.proc.stderr.read().splitlines()]  # type: ignore[union-attr]
        lifecycle = [e for e in events if e.startswith("gateway.")]
        assert lifecycle == ["gateway.started", "gateway.signal", "gateway.stopping", "gateway.stopped"]
    finally:
        proc.stop()


def test_logs_are_one_json_object_per_line(gateway_process: GatewayProcess) -> None:
    gateway_process.proc.send_signal(signal.SIGINT)
    gateway_process.proc.wait(timeout=10)
    lines = []
    for line in gateway_process.proc.stderr.read().splitlines():  # type: ignore[union-attr]
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"a log line is not JSON: {line!r}")
    started = next(line for line in lines if line["event"] == "gateway.started")
    assert started["event"] == "gateway.started"
    assert started["level"] == "info"
    assert started["port"] == gateway_process.port
    assert "timestamp" in started


def test_the_health_command_exits_zero_for_a_serving_gateway(gateway_process: GatewayProcess) -> None:
    result = run_cli("health", "--address", gateway_process.address)
    assert result.returncode == 0, result.stderr
    assert "SERVING" in result.stdout
    result = run_cli("health", "--address", gateway_process.address, "--service", "kite_gateway.v1.OrderService")
    assert result.returncode == 0, result.stderr


def test_the_health_command_exits_one_when_nothing_listens(tmp_path: Path) -> None:
    result = run_cli("health", "--address", f"127.0.0.1:{free_port()}", "--timeout", "1")
    assert result.returncode == 1
    assert "UNAVAILABLE" in result.stderr or "DEADLINE_EXCEEDED" in result.stderr


def test_paper_mode_serves_the_gateway_and_the_embedded_simulator(tmp_path: Path) -> None:
    paper = f"127.0.0.1:{free_port()}"
    proc = GatewayProcess(tmp_path, "--paper", "--paper-listen", paper)
    try:
        proc.wait_serving()
        dump = requests.get(f"http://{paper}/instruments/NSE", headers={"X-Kite-Version": "3"}, timeout=10)
        assert dump.status_code == 200 and dump.text.startswith("instrument_token,exchange_token")
        with grpc.insecure_channel(proc.address) as chan:
            accounts = account_pb2_grpc.AccountServiceStub(chan).ListAccounts(
                account_pb2.ListAccountsRequest(), timeout=10
            )
            assert [a.account_id for a in accounts.accounts] == ["ZS0001", "ZS0002"]
            assert all(a.session_state == account_pb2.SESSION_STATE_ACTIVE and a.paper for a in accounts.accounts)
            params = order_pb2.OrderParams(
                instrument=common_pb2.InstrumentRef(symbol="NSE:INFY"),
                transaction_type=common_pb2.TRANSACTION_TYPE_BUY,
                variety=common_pb2.VARIETY_REGULAR,
                order_type=common_pb2.ORDER_TYPE_MARKET,
                product=common_pb2.PRODUCT_CNC,
                quantity=1,
            )
            placed = order_pb2_grpc.OrderServiceStub(chan).PlaceOrder(
                order_pb2.PlaceOrderRequest(account_id="ZS0001", client_order_id="paper-1", params=params), timeout=10
            )
            assert placed.order_id
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(timeout=10) == 0
        events = [json.loads(line) for line in proc.proc.stderr.read().splitlines()]  # type: ignore[union-attr]
        started = next(e for e in events if e["event"] == "paper.simulator_started")
        assert started["api_endpoint"] == f"http://{paper}"
        assert started["login_url"] == f"http://{paper}/connect/login?v=3&api_key=sim_api_key"
        assert "sim_api_secret" not in json.dumps(events)
    finally:
        proc.stop()


def test_the_simulator_runs_on_its_own_and_says_where(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kite_gateway", "sim", "--listen", address],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        assert ready["event"] == "simulator.started" and ready["websocket_endpoint"] == f"ws://{address}"
        assert requests.get(f"http://{address}/instruments", headers={"X-Kite-Version": "3"}, timeout=10).ok
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def _buf_curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [buf_binary(), "curl", "--protocol", "grpc", "--http2-prior-knowledge", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_buf_curl_lists_and_calls_services_through_reflection(gateway_process: GatewayProcess) -> None:
    url = f"http://{gateway_process.address}"
    listed = _buf_curl("--list-services", url)
    assert listed.returncode == 0, listed.stderr
    assert {
        "kite_gateway.v1.AccountService",
        "kite_gateway.v1.OrderService",
        "kite_gateway.v1.PortfolioService",
        "kite_gateway.v1.MarketDataService",
        "grpc.health.v1.Health",
    } <= set(listed.stdout.split())

    health = _buf_curl("-d", "{}", f"{url}/grpc.health.v1.Health/Check")
    assert health.returncode == 0, health.stderr
    assert json.loads(health.stdout) == {"status": "SERVING"}

    placed = _buf_curl("-d", '{"account_id": "AB1234"}', f"{url}/kite_gateway.v1.OrderService/PlaceOrder")
    assert placed.returncode != 0
    assert '"code": "invalid_argument"' in placed.stderr and "client_order_id: required" in placed.stderr


def test_the_paper_gateway_prints_one_ready_line_whose_three_commands_work_as_printed(tmp_path: Path) -> None:
    http = f"127.0.0.1:{free_port()}"
    proc = GatewayProcess(tmp_path, "--paper", "--paper-listen", f"127.0.0.1:{free_port()}", "--http-listen", http)
    try:
        proc.wait_serving(timeout=60)
        line = proc.proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith(f"kite-gateway paper trading is ready: gRPC on 127.0.0.1:{proc.port}, HTTP on {http};")
        assert "demo accounts ZS0001 and ZS0002 are logged in" in line
        tries = line.rstrip("\n").partition(" Try: ")[2].split("; ")
        assert len(tries) == 3
        listed, quoted, ordered = (
            subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60) for command in tries
        )
        assert listed.returncode == 0, listed.stderr
        assert "kite_gateway.v1.OrderService" in listed.stdout.split()
        assert quoted.returncode == 0, quoted.stderr
        assert [quote["symbol"] for quote in json.loads(quoted.stdout)["quotes"]] == ["NSE:INFY"]
        assert ordered.returncode == 0, ordered.stderr
        assert json.loads(ordered.stdout)["order_id"]
        proc.proc.send_signal(signal.SIGTERM)
        rest, _ = proc.proc.communicate(timeout=20)
        assert rest == "", "the ready line is the only line on stdout"
    finally:
        proc.stop()


def test_listening_beyond_loopback_without_principals_is_refused_before_the_simulator_starts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = run_cli(
        "serve",
        "--paper",
        "--listen",
        "0.0.0.0:0",
        "--data-dir",
        str(data),
        "--paper-listen",
        f"127.0.0.1:{free_port()}",
    )
    assert result.returncode == 1
    assert "refusing to serve 0.0.0.0:0 without caller authentication" in result.stderr
    assert "--auth-file FILE" in result.stderr and "--allow-unauthenticated" in result.stderr
    assert "simulator_started" not in result.stderr and not data.exists()


def test_the_allow_flag_serves_beyond_loopback_without_principals(tmp_path: Path) -> None:
    port = free_port()
    proc = GatewayProcess(tmp_path, "--listen", f"0.0.0.0:{port}", "--allow-unauthenticated")
    proc.port = port
    try:
        proc.wait_serving()
        assert run_cli("health", "--address", f"127.0.0.1:{port}").returncode == 0
    finally:
        proc.stop()


def test_the_simulators_ip_whitelist_flag_takes_ips_per_api_key_and_refuses_anything_else(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from kite_gateway.cli import EXIT_CONFIG, _ip_whitelist, main

    assert _ip_whitelist(["sim_api_key=127.0.0.2, 127.0.0.3", "sim_api_key=::1", "other=10.0.0.1"]) == {
        "sim_api_key": frozenset({"127.0.0.2", "127.0.0.3", "::1"}),
        "other": frozenset({"10.0.0.1"}),
    }
    assert _ip_whitelist(["=127.0.0.2"]) == "=127.0.0.2"
    assert main(["sim", "--ip-whitelist", "sim_api_key=localhost"]) == EXIT_CONFIG
    assert "must be API_KEY=IP[,IP]" in capsys.readouterr().err
