"""clients/README.md as a user runs it, against `kite-gateway serve --paper`: the Python examples,
and every line of the ops guide twice, once with `buf curl` as written and once with the same body
through `kite-gateway call`, each on a fresh paper gateway, from the repository root."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kite_gateway_api.v1 import account_pb2, market_data_pb2, order_pb2, portfolio_pb2, report_pb2, signal_pb2

from tests.conftest import GatewayProcess, free_port

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "clients" / "README.md"
EXAMPLES = ROOT / "clients" / "python" / "examples"
# A `$BUF` line: an optional `NAME=$(` capture, the body, the method, and what follows the URL.
BUF_LINE = re.compile(
    r'^(?P<capture>\w+=\$\()?\$BUF "\$AUTH" -d (?P<body>.+) http://\$GW/(?P<method>[\w.]+/\w+)(?P<rest>.*)$'
)
LIST_SERVICES = '$BUF "$AUTH" --list-services http://$GW'
TICK_STREAM = '{"account_id":"ZS0001","instruments":[{"symbol":"NSE:INFY"}],"mode":"TICK_MODE_LTP"}'


def paper_gateway_in(tmp_path: Path) -> GatewayProcess:
    gateway = GatewayProcess(tmp_path, "--paper", "--paper-listen", f"127.0.0.1:{free_port()}")
    gateway.wait_serving(timeout=60)
    return gateway


@pytest.fixture(scope="module")
def paper_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gateway = paper_gateway_in(tmp_path_factory.mktemp("paper"))
    yield gateway
    gateway.stop()


def run_example(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True, timeout=90)


def test_the_place_and_track_example_follows_its_order_to_complete(paper_gateway: GatewayProcess) -> None:
    result = run_example("place_and_track.py", "--target", paper_gateway.address, "--client-order-id", "ci-1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("placed NSE:INFY x1: order ") and "replayed" not in lines[0]
    assert " COMPLETE filled 1/1 avg " in lines[-1]
    again = run_example("place_and_track.py", "--target", paper_gateway.address, "--client-order-id", "ci-1")
    assert again.returncode == 0 and again.stdout.splitlines()[0] == lines[0].replace(")", ", replayed)")


def test_the_tick_table_example_prints_live_prices(paper_gateway: GatewayProcess) -> None:
    result = run_example("tick_table.py", "--target", paper_gateway.address, "--seconds", "2", "NSE:INFY", "NSE:TCS")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("NSE:")]
    assert {row[0] for row in rows} == {"NSE:INFY", "NSE:TCS"}
    assert all(float(row[1]) > 0 for row in rows)


@pytest.mark.parametrize("name", ["place_and_track.py", "tick_table.py"])
def test_an_examples_usage_runs_it_with_the_interpreter_make_run_installs_the_client_into(name: str) -> None:
    usage = (EXAMPLES / name).read_text().split('"""')[1]
    commands = [line.strip() for line in usage.splitlines() if f"examples/{name}" in line]
    assert commands and all(c.startswith(f".venv/bin/python clients/python/examples/{name}") for c in commands)


def sh_lines() -> list[str]:
    """The lines of the guide's sh blocks (text blocks hold what runs until Ctrl-C)."""
    lines, in_sh = [], False
    for line in GUIDE.read_text().splitlines():
        if line.startswith("```"):
            in_sh = line == "```sh"
        elif in_sh:
            lines.append(line)
    return lines


def settings_lines() -> list[str]:
    """The guide's AUTH, BUF and CALL definitions (GW is the test's gateway)."""
    return [line for line in sh_lines() if line.startswith(("AUTH=", "BUF=", "CALL="))]


def guide_commands() -> list[str]:
    return [line for line in sh_lines() if line.startswith(("$BUF ", "$CALL ")) or BUF_LINE.match(line)]


def example_commands() -> list[str]:
    return [line for line in sh_lines() if line.startswith(".venv/bin/python clients/python/examples/")]


def as_call(line: str) -> str:
    """The same request through `kite-gateway call`."""
    if line == LIST_SERVICES:
        return "$CALL --list"
    found = BUF_LINE.match(line)
    if not found:
        return line  # already a $CALL line
    capture = found["capture"] or ""
    method = found["method"].removeprefix("kite_gateway.v1.")  # the short form, as the guide says
    return f"{capture}$CALL {method} {found['body']}{found['rest']}"


def run_lines(lines: list[str], home: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The lines as one bash script from the repository root, stopping at the first that fails
    (`home` takes the tools' caches)."""
    script = ["set -o pipefail", *settings_lines()]
    script += [f"{line} || {{ echo 'failed: line {n}' >&2; exit 1; }}" for n, line in enumerate(lines)]
    base = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    return subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=ROOT, env=base | env, capture_output=True, text=True, timeout=600
    )


class TickStream:
    """A tick stream held open by the test while the guide's lines run, so UpdateSubscription has one."""

    def __init__(self, address: str) -> None:
        command = [sys.executable, "-m", "kite_gateway", "call", "--address", address, "--timeout", "600"]
        self.proc = subprocess.Popen(
            [*command, "MarketDataService/StreamTicks", TICK_STREAM], stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        first = json.loads(self.proc.stdout.readline())  # type: ignore[union-attr]
        self.subscription_id: str = first["started"]["subscription_id"]

    def close(self) -> None:
        self.proc.kill()
        self.proc.communicate(timeout=10)


def failed_line(result: subprocess.CompletedProcess[str], lines: list[str]) -> str:
    found = re.search(r"failed: line (\d+)", result.stderr)
    return f"{lines[int(found[1])] if found else '?'}\n{result.stderr[-3000:]}"


def test_the_guide_defines_buf_from_node_modules_and_call_from_the_venv() -> None:
    settings = settings_lines()
    assert 'BUF="./node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge -H"' in settings
    assert 'CALL=".venv/bin/kite-gateway call --address $GW --token ${TOKEN:-none}"' in settings
    assert not any("npx buf" in line for line in sh_lines())


# RPCs the guide shows but does not run: they need a real app's secret or token, or remove an account.
SHOWN_ONLY = frozenset({"AccountService/CompleteLogin", "AccountService/AddAccount", "AccountService/RemoveAccount"})


def test_every_rpc_an_operator_uses_has_a_line_in_the_guide_that_ci_runs() -> None:
    runnable = "\n".join(guide_commands())
    services = [
        module.DESCRIPTOR.services_by_name[name]
        for module, name in (
            (account_pb2, "AccountService"),
            (market_data_pb2, "MarketDataService"),
            (order_pb2, "OrderService"),
            (portfolio_pb2, "PortfolioService"),
            (signal_pb2, "SignalService"),
            (report_pb2, "ReportService"),
        )
    ]
    rpcs = [(f"{service.name}/{method.name}", service.full_name) for service in services for method in service.methods]
    missing = [
        rpc
        for rpc, full in rpcs
        if rpc not in SHOWN_ONLY and f"{full}/{rpc.partition('/')[2]}" not in runnable and f"{rpc} " not in runnable
    ]
    assert not missing, f"clients/README.md runs no line for {missing}"
    assert all(f"kite_gateway.v1.{rpc}" in GUIDE.read_text() for rpc in SHOWN_ONLY)


@pytest.mark.sqlite_only  # two paper gateways in turn, each sealing with the key it generates in its own data dir
def test_every_line_of_the_ops_guide_works_with_buf_curl_and_with_kite_gateway_call(tmp_path: Path) -> None:
    lines = guide_commands()
    assert len(lines) >= 45
    assert (ROOT / ".venv" / "bin" / "kite-gateway").exists(), "the guide runs .venv/bin/kite-gateway: make run"
    assert (ROOT / "node_modules" / ".bin" / "buf").exists(), "the guide runs node_modules' buf: make run"
    for tool, commands in (("buf", lines), ("call", [as_call(line) for line in lines])):
        gateway = paper_gateway_in(tmp_path / tool)
        stream = TickStream(gateway.address)
        try:
            result = run_lines(commands, tmp_path / tool, {"GW": gateway.address, "SUB": stream.subscription_id})
            assert result.returncode == 0, f"{tool}: {failed_line(result, commands)}"
        finally:
            stream.close()
            gateway.stop()


def test_the_examples_run_as_the_guide_writes_them(paper_gateway: GatewayProcess, tmp_path: Path) -> None:
    lines = example_commands()
    assert len(lines) == 2
    result = run_lines(lines, tmp_path, {"GW": paper_gateway.address})
    assert result.returncode == 0, failed_line(result, lines)
    assert " COMPLETE filled 1/1 avg " in result.stdout and "NSE:RELIANCE" in result.stdout
