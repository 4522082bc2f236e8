"""The `kite-gateway` command: `serve` runs the gateway, `health` probes a running one, `call` calls
one RPC with a JSON body (kite_gateway.cli_call), `export-account` and `erase-account` read out or
delete one account's stored data (kite_gateway.cli_accounts)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from kite_gateway import __version__, cli_accounts, cli_call, cli_rekey, event_loop

EXIT_CONFIG = 2
EXIT_STARTUP = 1

# Flags of `serve`, each overriding one setting (dest is the settings field).
_SERVE_FLAGS: tuple[tuple[str, str, type, str], ...] = (
    ("--listen", "gateway_listen", str, "HOST:PORT to serve gRPC on"),
    ("--data-dir", "gateway_data_dir", Path, "directory for the gateway's state"),
    ("--log-level", "log_level", str, "DEBUG, INFO, WARNING, ERROR or CRITICAL"),
    ("--log-format", "gateway_log_format", str, "json (one object per line) or console"),
    ("--shutdown-grace", "gateway_shutdown_grace", float, "seconds to drain RPCs on shutdown"),
    ("--api-endpoint", "api_endpoint", str, "Kite REST root URL"),
    ("--websocket-endpoint", "websocket_endpoint", str, "Kite ticker WebSocket URL"),
    ("--request-timeout", "request_timeout", float, "seconds per Kite REST call"),
    ("--max-retries", "max_retries", int, "retries of idempotent Kite reads"),
    ("--rate-limit-per-second", "rate_limit_per_second", float, "Kite calls per second per account"),
    ("--burst-limit", "burst_limit", int, "Kite calls allowed in a burst per account"),
    ("--paper-listen", "gateway_paper_listen", str, "HOST:PORT of the paper-trading simulator"),
    ("--paper-seed", "gateway_paper_seed", int, "seed of the paper-trading market"),
    ("--http-listen", "gateway_http_listen", str, "HOST:PORT of the HTTP endpoints (Kite login callback)"),
    ("--secret-key-file", "gateway_secret_key_file", Path, "file holding the key that seals stored secrets"),
    ("--login-endpoint", "login_endpoint", str, "Kite login page root URL"),
    ("--record-dir", "gateway_record_dir", Path, "record every account's upstream ticker frames here"),
    ("--auth-file", "gateway_auth_file", Path, "TOML principals of the callers (`kite-gateway token` makes one)"),
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kite-gateway", description=__doc__)
    parser.add_argument("--version", action="version", version=f"kite-gateway {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the gateway",
        description="Run the gateway. Every flag overrides its KITE_* environment variable.",
    )
    for flag, dest, kind, text in _SERVE_FLAGS:
        serve.add_argument(flag, dest=dest, type=kind, help=f"{text} (env KITE_{dest.upper()})")
    serve.add_argument(
        "--metrics",
        dest="metrics_enabled",
        action=argparse.BooleanOptionalAction,
        help="serve Prometheus metrics (env KITE_METRICS_ENABLED)",
    )
    serve.add_argument(
        "--allow-unauthenticated",
        dest="gateway_allow_unauthenticated",
        action="store_const",
        const=True,
        help="serve an address beyond loopback without principals: anyone who reaches it may trade "
        "(env KITE_GATEWAY_ALLOW_UNAUTHENTICATED)",
    )
    serve.add_argument(
        "--paper",
        action="store_true",
        help="trade on the embedded Kite simulator instead of real Kite",
    )
    serve.add_argument("--regular-hours", action="store_true", help="with --paper: trade only in exchange sessions")
    serve.add_argument(
        "--reset-paper",
        action="store_true",
        help="with --paper: start the paper market afresh, and the gateway's records of it (database)",
    )

    sim = commands.add_parser(
        "sim",
        help="run the Kite Connect simulator on its own",
        description="Run the Kite Connect simulator (REST, login page, WebSocket ticker) until interrupted.",
    )
    sim.add_argument("--listen", default="127.0.0.1:8765", help="HOST:PORT to serve on")
    sim.add_argument("--seed", type=int, default=1, help="seed of the instrument universe and prices")
    sim.add_argument("--tick-interval", type=float, default=1.0, help="seconds between tick frames")
    sim.add_argument("--step-seconds", type=float, default=1.0, help="seconds between price moves")
    sim.add_argument(
        "--frames-per-second",
        type=int,
        default=0,
        help="a Kite-like cadence: each instrument ticks once a second, a connection's ticks spread over this "
        "many frames a second (instead of every changed instrument every --tick-interval)",
    )
    sim.add_argument("--regular-hours", action="store_true", help="trade only in exchange sessions (default: 24x7)")
    sim.add_argument("--no-rate-limits", action="store_true", help="no 429s above Kite's rates and order caps")
    sim.add_argument("--redirect-url", default="http://127.0.0.1/kite/callback", help="the app's login redirect")
    sim.add_argument("--postback-url", default="", help="where to POST order postbacks")
    sim.add_argument("--replay", type=Path, help="replay a gateway ticker recording (--record-dir) as the market")
    sim.add_argument("--speed", type=float, default=1.0, help="replay this many times faster than real time")
    sim.add_argument("--state-file", type=Path, help="keep the trading state in this file across restarts")
    sim.add_argument("--reset", action="store_true", help="start afresh: set the --state-file's saved state aside")
    sim.add_argument(
        "--ip-whitelist",
        action="append",
        default=[],
        metavar="API_KEY=IP[,IP]",
        help="refuse this app's order calls (place, modify, cancel) from other addresses, as Kite does (repeatable)",
    )

    commands.add_parser(
        "keygen",
        help="print a new key for sealing stored secrets",
        description="Print a new key for KITE_GATEWAY_SECRET_KEY (or a key file). Keep it secret.",
    )

    cli_rekey.add_parser(commands)

    probe = commands.add_parser(
        "health",
        help="check a running gateway's gRPC health (exit 0 when SERVING)",
        description="Check a running gateway's grpc.health.v1 status; exit 0 when SERVING, 1 otherwise.",
    )
    probe.add_argument("--address", default="127.0.0.1:50051", help="HOST:PORT of the gateway")
    probe.add_argument("--service", default="", help="a service's full name; the whole server when empty")
    probe.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the answer")
    probe.add_argument("--tls-ca", type=Path, help="connect with TLS, trusting this CA (or the server's own cert)")
    probe.add_argument("--token-file", type=Path, help="a file holding a bearer token (when health needs one)")

    cli_call.add_parser(commands)
    cli_accounts.add_parsers(commands)

    token = commands.add_parser(
        "token",
        help="make a new caller token and its principal entry",
        description="Print a new bearer token (give it to the calling service) and the TOML [[principal]] entry "
        "holding only its SHA-256 (add it to KITE_GATEWAY_AUTH_FILE).",
    )
    token.add_argument("--name", required=True, help="the principal's name (shown in audit and logs)")
    token.add_argument("--read", nargs="*", default=[], help="accounts it may read (* for all)")
    token.add_argument("--trade", nargs="*", default=[], help="accounts it may trade (* for all)")
    token.add_argument("--admin", action="store_true", help="may manage accounts and the gateway-wide kill switch")
    return parser


def _serve(args: argparse.Namespace) -> int:
    from kite_gateway.app import serve
    from kite_gateway.config import ConfigError, load_settings
    from kite_gateway.grpc import StartupError
    from kite_gateway.structured_logs import configure_logging

    if (args.regular_hours or args.reset_paper) and not args.paper:
        print("kite-gateway: --regular-hours and --reset-paper need --paper", file=sys.stderr)
        return EXIT_CONFIG
    overrides = {dest: getattr(args, dest) for _, dest, _, _ in _SERVE_FLAGS}
    overrides["metrics_enabled"] = args.metrics_enabled
    overrides["gateway_allow_unauthenticated"] = args.gateway_allow_unauthenticated
    flags = {dest: flag for flag, dest, _, _ in _SERVE_FLAGS} | {
        "metrics_enabled": "--metrics",
        "gateway_allow_unauthenticated": "--allow-unauthenticated",
    }
    try:
        settings = load_settings(flags=flags, **overrides)
    except ConfigError as exc:
        print(f"kite-gateway: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.reset_paper and settings.gateway_database_url is not None:
        print(
            "kite-gateway: --reset-paper sets aside the SQLite database in the data directory, but "
            "KITE_GATEWAY_DATABASE_URL keeps the gateway's records in PostgreSQL: point it at a fresh database "
            "instead (or unset it for the embedded paper gateway)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    configure_logging(settings.log_level, settings.gateway_log_format)
    try:
        event_loop.run(
            serve(settings, paper=args.paper, regular_hours=args.regular_hours, reset_paper=args.reset_paper)
        )
    except StartupError as exc:
        print(f"kite-gateway: {exc}", file=sys.stderr)
        return EXIT_STARTUP
    return 0


def _sim(args: argparse.Namespace) -> int:
    import json
    import signal

    from kite_simulator import OrderLimits, Simulator, SimulatorConfig, SimulatorStateError, set_aside_state

    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        print(f"kite-gateway: --listen={args.listen!r}: must be HOST:PORT", file=sys.stderr)
        return EXIT_CONFIG
    if args.speed <= 0:
        print(f"kite-gateway: --speed={args.speed}: must be positive", file=sys.stderr)
        return EXIT_CONFIG
    if args.frames_per_second < 0:
        print(f"kite-gateway: --frames-per-second={args.frames_per_second}: must be 0 or more", file=sys.stderr)
        return EXIT_CONFIG
    if args.reset and args.state_file is None:
        print("kite-gateway: --reset needs --state-file (the state to start afresh from)", file=sys.stderr)
        return EXIT_CONFIG
    whitelist = _ip_whitelist(args.ip_whitelist)
    if isinstance(whitelist, str):
        print(f"kite-gateway: --ip-whitelist={whitelist!r}: must be API_KEY=IP[,IP], e.g. sim_api_key=127.0.0.2",
              file=sys.stderr)  # fmt: skip
        return EXIT_CONFIG
    if args.replay:
        from kite_wire import Recording, RecordingError

        try:
            Recording(args.replay)
        except (OSError, EOFError, RecordingError) as exc:
            print(f"kite-gateway: --replay={args.replay}: cannot read it as a recording: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    if args.reset:  # last: a command refused for another flag changes nothing
        try:
            set_aside_state(args.state_file)
        except SimulatorStateError as exc:
            print(f"kite-gateway: --reset: {exc}", file=sys.stderr)
            return EXIT_STARTUP
    config = SimulatorConfig(
        host=host.strip("[]"),
        port=int(port),
        seed=args.seed,
        tick_interval=args.tick_interval,
        frames_per_second=args.frames_per_second,
        step_seconds=args.step_seconds,
        always_open=not args.regular_hours,
        rate_limit_scale=None if args.no_rate_limits else 1.0,
        order_limits=None if args.no_rate_limits else OrderLimits(),
        redirect_url=args.redirect_url,
        postback_url=args.postback_url,
        replay=args.replay,
        replay_speed=args.speed,
        state_file=args.state_file,
        ip_whitelist=whitelist,
    )

    async def run() -> None:
        simulator = Simulator(config)
        await simulator.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        ready = {
            "event": "simulator.started",
            "api_endpoint": simulator.api_url,
            "websocket_endpoint": simulator.ws_url,
            "login_url": simulator.login_url(),
            "api_key": simulator.app.api_key,
            "users": sorted(simulator.sessions.users),
        }
        print(json.dumps(ready), flush=True)
        await stop.wait()
        await simulator.stop()

    try:
        asyncio.run(run())
    except OSError as exc:
        print(f"kite-gateway: cannot serve the simulator on {args.listen}: {exc.strerror}", file=sys.stderr)
        return EXIT_STARTUP
    except SimulatorStateError as exc:
        print(f"kite-gateway: --state-file={args.state_file}: cannot read it back: {exc}", file=sys.stderr)
        return EXIT_STARTUP
    return 0


def _ip_whitelist(values: Sequence[str]) -> dict[str, frozenset[str]] | str:
    """`--ip-whitelist` values by api_key, or the first malformed value."""
    import ipaddress

    whitelist: dict[str, frozenset[str]] = {}
    for value in values:
        api_key, _, ips = value.partition("=")
        try:
            addresses = frozenset(str(ipaddress.ip_address(ip.strip())) for ip in ips.split(","))
        except ValueError:
            return value
        if not api_key:
            return value
        whitelist[api_key] = whitelist.get(api_key, frozenset()) | addresses
    return whitelist


def _keygen(_args: argparse.Namespace) -> int:
    from kite_gateway.storage import Sealer

    print(Sealer.generate_key().decode())
    return 0


def _health(args: argparse.Namespace) -> int:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    if args.tls_ca:
        channel = grpc.secure_channel(args.address, grpc.ssl_channel_credentials(args.tls_ca.read_bytes()))
    else:
        channel = grpc.insecure_channel(args.address)
    metadata = [("authorization", f"Bearer {args.token_file.read_text().strip()}")] if args.token_file else None
    with channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout, metadata=metadata
            )
        except grpc.RpcError as exc:
            print(f"{args.address}: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(f"{args.address} {args.service or '(server)'}: {status}")
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


def _token(args: argparse.Namespace) -> int:
    import json

    from kite_gateway.auth import new_token, token_digest

    secret = new_token()
    print(f"# token for {args.name} (shown once; the gateway keeps only its SHA-256):\n# {secret}")
    print("[[principal]]")
    print(f"name = {json.dumps(args.name)}")
    print(f'token_sha256 = "{token_digest(secret)}"')
    print(f"read = {json.dumps(args.read)}")
    print(f"trade = {json.dumps(args.trade)}")
    print(f"admin = {'true' if args.admin else 'false'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")  # grpc core's own INFO lines are noise
    args = _parser().parse_args(argv)
    commands = {
        "serve": _serve,
        "sim": _sim,
        "health": _health,
        "keygen": _keygen,
        "rekey": cli_rekey.rekey,
        "token": _token,
        "call": cli_call.call,
        "export-account": cli_accounts.export_account,
        "erase-account": cli_accounts.erase_account,
    }
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
