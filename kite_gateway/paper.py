"""Paper trading: the embedded Kite simulator, started beside the gateway on a thread and event loop
of its own (so neither can starve the other), which the gateway then talks to exactly as it would to
Kite (its endpoints point at it), with the simulator's demo accounts logged in through Kite's real
login flow. The paper market keeps its state (orders, trades, positions, holdings, funds, GTTs) in
the data directory, so a restarted gateway finds it as it left it; `reset` starts it afresh with the
gateway's records of it (its database: the idempotency records, order-update log and audit trail of
the old market's orders), keeping both beside them as `paper-simulator.json.before-reset` and
`gateway.db.before-reset`. It trades around the clock unless
`regular_hours`, when the exchanges' sessions and holidays apply as on the real market."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import aiohttp
import structlog

from kite_gateway.config import Settings
from kite_gateway.core.accounts import AccountManager
from kite_gateway.storage import DATABASE_FILE, private_file, set_aside_database
from kite_simulator import SimulatorConfig, ThreadedSimulator, set_aside_state

log = structlog.get_logger(__name__)

PAPER_STATE_FILE = "paper-simulator.json"
PAPER_STRATEGIES_FILE = "paper-strategies.toml"
# The paper gateway's strategies when none are configured: something for SubmitSignal to trade.
PAPER_STRATEGIES = """# Written by the paper gateway (kite-gateway serve --paper): KITE_GATEWAY_STRATEGIES_FILE was not
# set. Edit it, or set KITE_GATEWAY_STRATEGIES_FILE (format: kite_gateway/core/signals/strategies.py).

[account_groups]
demo-group = ["ZS0002"]

[strategies.demo]                 # ZS0001 by name, ZS0002 through its group, at the signal's quantity
accounts = ["ZS0001"]
groups = ["demo-group"]
product = "MIS"

[strategies.demo.budget]
max_orders_per_day = 1000

[strategies.demo-approval]        # each signal waits up to 5 minutes for ApproveSignal or RejectSignal
accounts = ["ZS0001"]
product = "MIS"

[strategies.demo-approval.approval]
required = true
timeout_seconds = 300
"""
SET_ASIDE = ".before-reset"


async def start_simulator(
    settings: Settings, redirect_url: str, regular_hours: bool = False, reset: bool = False
) -> tuple[ThreadedSimulator, Settings]:
    """Start the simulator on the configured loopback address; return it and the settings aimed at it.
    With `reset` (before the gateway opens its database), the old market and the gateway's records
    of its orders are set aside: a client_order_id used there is not replayed as an order that is gone."""
    host, _, port = settings.gateway_paper_listen.rpartition(":")
    state_file = settings.gateway_data_dir / PAPER_STATE_FILE
    if reset:
        aside = await asyncio.to_thread(set_aside_state, state_file)
        database = settings.gateway_data_dir / DATABASE_FILE
        records = await asyncio.to_thread(set_aside_database, database, SET_ASIDE)
        log.info(
            "paper.state_reset", state_file=str(state_file), previous=str(aside) if aside else None,
            gateway_records=str(records) if records else None,
        )  # fmt: skip
    whitelist = frozenset(ip.strip() for ip in settings.gateway_paper_ip_whitelist.split(",") if ip.strip())
    config = SimulatorConfig(
        host=host.strip("[]"),
        port=int(port),
        seed=settings.gateway_paper_seed,
        always_open=not regular_hours,
        redirect_url=redirect_url,
        state_file=state_file,
        ip_whitelist={SimulatorConfig.api_key: whitelist} if whitelist else {},
    )
    simulator = ThreadedSimulator(config)
    await simulator.start()
    log.info(
        "paper.simulator_started",
        api_endpoint=simulator.api_url,
        websocket_endpoint=simulator.ws_url,
        login_url=simulator.login_url(),
        api_key=simulator.app.api_key,
        users=simulator.users(),
        hours="exchange sessions" if regular_hours else "around the clock",
    )
    update: dict[str, object] = {
        "api_endpoint": simulator.api_url,
        "websocket_endpoint": simulator.ws_url,
        "login_endpoint": simulator.api_url,
    }
    if settings.gateway_strategies_file is None:
        update["gateway_strategies_file"] = await asyncio.to_thread(demo_strategies, settings.gateway_data_dir)
    return simulator, settings.model_copy(update=update)


def demo_strategies(data_dir: Path) -> Path:
    """The paper gateway's strategies file in its data directory, written the first time (owner-only)."""
    path = data_dir / PAPER_STRATEGIES_FILE
    if not path.exists():
        private_file(path)
        path.write_text(PAPER_STRATEGIES)
    return path


async def log_in_demo_accounts(simulator: ThreadedSimulator, accounts: AccountManager) -> list[str]:
    """Each demo user logs in on the simulator's login page; the gateway completes the login."""
    logged_in = []
    async with aiohttp.ClientSession() as http:
        for user_id in simulator.users():
            async with http.get(f"{simulator.login_url()}&user_id={user_id}", allow_redirects=False) as reply:
                location = reply.headers["Location"]
            token = parse_qs(urlparse(location).query)["request_token"][0]
            session = await accounts.complete_login(simulator.app.api_key, token, simulator.app.api_secret, paper=True)
            logged_in.append(session.account_id)
    log.info("paper.accounts_ready", accounts=logged_in)
    return logged_in


# What the ready line offers to try: an RPC each to see the market and to trade on it.
TRY_QUOTE = ("MarketDataService/GetQuote", {"account_id": "ZS0001", "instruments": [{"symbol": "NSE:INFY"}]})
TRY_ORDER = (
    "OrderService/PlaceOrder",
    {
        "account_id": "ZS0001",
        "client_order_id": "try-1",
        "params": {
            "instrument": {"symbol": "NSE:INFY"},
            "transaction_type": "TRANSACTION_TYPE_BUY",
            "variety": "VARIETY_REGULAR",
            "order_type": "ORDER_TYPE_MARKET",
            "product": "PRODUCT_CNC",
            "quantity": "1",
        },
    },
)
DEFAULT_CALL_ADDRESS = "127.0.0.1:50051"


def ready_line(
    grpc_listen: str, port: int, http_listen: str, accounts: Sequence[str], command: str, needs_token: bool
) -> str:
    """One line for a person: where the paper gateway listens, its demo accounts, and three
    commands (`command` runs kite-gateway) that work as printed, separated by `; `."""
    host = grpc_listen.rpartition(":")[0]
    address = f"{'127.0.0.1' if host.strip('[]') in {'0.0.0.0', '::', ''} else host}:{port}"
    options = ("" if address == DEFAULT_CALL_ADDRESS else f" --address {address}") + (
        ' --token "$TOKEN"' if needs_token else ""
    )
    call = f"{command} call{options}"
    tries = [f"{call} --list"] + [
        f"{call} {method} {shlex.quote(json.dumps(body, separators=(',', ':')))}"
        for method, body in (TRY_QUOTE, TRY_ORDER)
    ]
    token = " (your token in $TOKEN)" if needs_token else ""
    return (
        f"kite-gateway paper trading is ready: gRPC on {host}:{port}, HTTP on {http_listen}; demo accounts "
        f"{' and '.join(accounts)} are logged in. Try{token}: " + "; ".join(tries)
    )


def gateway_command() -> str:
    """How to run this same kite-gateway again: the console script as it was started, else the module."""
    script = sys.argv[0]
    if os.path.basename(script) == "kite-gateway":
        return shlex.quote(script)
    return f"{shlex.quote(sys.executable)} -m kite_gateway"
