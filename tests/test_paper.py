"""The paper gateway's ready line, read as the person who ran `make run` reads it."""

from __future__ import annotations

import shlex

from kite_gateway.paper import ready_line


def tries(line: str) -> list[list[str]]:
    return [shlex.split(command) for command in line.partition(" Try")[2].partition(": ")[2].split("; ")]


def test_the_ready_line_says_where_it_listens_and_names_the_demo_accounts() -> None:
    line = ready_line("127.0.0.1:50051", 50051, "127.0.0.1:8080", ["ZS0001", "ZS0002"], "kite-gateway", False)
    assert "\n" not in line
    assert line.startswith("kite-gateway paper trading is ready: gRPC on 127.0.0.1:50051, HTTP on 127.0.0.1:8080;")
    assert "demo accounts ZS0001 and ZS0002 are logged in" in line


def test_on_the_default_address_the_commands_need_no_address_and_are_list_quote_and_order() -> None:
    line = ready_line("127.0.0.1:50051", 50051, "127.0.0.1:8080", ["ZS0001", "ZS0002"], ".venv/bin/kite-gateway", False)
    listed, quoted, ordered = tries(line)
    assert listed == [".venv/bin/kite-gateway", "call", "--list"]
    assert quoted[:3] == [".venv/bin/kite-gateway", "call", "MarketDataService/GetQuote"]
    assert ordered[2] == "OrderService/PlaceOrder" and '"client_order_id":"try-1"' in ordered[3]


def test_a_gateway_on_every_interface_is_called_on_loopback_at_its_bound_port() -> None:
    line = ready_line("0.0.0.0:0", 43117, "0.0.0.0:8080", ["ZS0001"], "kite-gateway", False)
    assert "gRPC on 0.0.0.0:43117" in line
    assert all(command[2:4] == ["--address", "127.0.0.1:43117"] for command in tries(line))


def test_with_principals_each_command_sends_the_token_from_the_environment() -> None:
    line = ready_line("127.0.0.1:50051", 50051, "127.0.0.1:8080", ["ZS0001"], "kite-gateway", True)
    assert "Try (your token in $TOKEN): " in line
    assert all(command[2:4] == ["--token", "$TOKEN"] for command in tries(line))
