"""The client package's examples, run as a user would against a `kite-gateway serve --paper`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import GatewayProcess, buf_binary, free_port

EXAMPLES = Path(__file__).parent.parent / "clients" / "python" / "examples"


@pytest.fixture(scope="module")
def paper_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gateway = GatewayProcess(tmp_path_factory.mktemp("paper"), "--paper", "--paper-listen", f"127.0.0.1:{free_port()}")
    gateway.wait_serving(timeout=60)
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


def guide_lines() -> list[str]:
    """The runnable `$BUF` lines of clients/README.md (sh blocks only; streams are in text blocks)."""
    text = (EXAMPLES.parent.parent / "README.md").read_text()
    lines, in_sh = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            in_sh = line == "```sh"
        elif in_sh and line.startswith("$BUF "):
            lines.append(line)
    return lines


def test_every_buf_curl_line_of_the_ops_guide_works_against_a_paper_gateway(paper_gateway: GatewayProcess) -> None:
    lines = guide_lines()
    assert len(lines) >= 20
    env = {
        "GW": paper_gateway.address,
        "AUTH": "authorization: Bearer none",
        "BUF": f"{buf_binary()} curl --protocol grpc --http2-prior-knowledge -H",
        "PATH": "/usr/bin:/bin",
    }
    for line in lines:
        result = subprocess.run(["bash", "-c", line], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{line}\n{result.stderr}"
