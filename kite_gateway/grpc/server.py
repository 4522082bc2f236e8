"""The gateway's gRPC server: the API services, health, reflection, and graceful shutdown.

Shutdown order: health turns NOT_SERVING for every service first (so load balancers and
Kubernetes stop sending new calls), then its live streams end with UNAVAILABLE (their callers
resume on another replica: kite_gateway.grpc.live_streams), then the server stops accepting, lets
in-flight RPCs finish within the grace period, and cancels what is left. What it serves is built and wired by
kite_gateway.app (`serve`).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Mapping
from pathlib import Path

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from kite_gateway import __version__
from kite_gateway.auth import AuthConfigError, Principals, load_principals
from kite_gateway.config import Settings
from kite_gateway.grpc.auth_interceptor import TokenInterceptor
from kite_gateway.grpc.forwarding import Forwarding
from kite_gateway.grpc.live_streams import LiveStreams
from kite_gateway.grpc.metrics_interceptor import RpcMetricsInterceptor
from kite_gateway.grpc.reflection import enable_reflection
from kite_gateway.grpc.registry import API_SERVICES, register
from kite_gateway.grpc.request_limits import MAX_REQUEST_BYTES
from kite_gateway.storage import private_directory

log = structlog.get_logger(__name__)

# Server options: no silent port sharing between processes (grpc enables SO_REUSEPORT by
# default), keepalive pings from clients of long-lived streams are welcome, and no request larger
# than the largest valid one (RESOURCE_EXHAUSTED before it is decoded; grpc's default is 4 MiB).
SERVER_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.so_reuseport", 0),
    ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
)


LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class StartupError(Exception):
    """The gateway could not start; the message says why and what to do."""


class Gateway:
    """A running (or ready to run) gateway server."""

    def __init__(
        self,
        settings: Settings,
        servicers: Mapping[str, object] | None = None,
        internal_socket: Path | None = None,
        forwarding: Forwarding | None = None,
    ) -> None:
        """`internal_socket`: also serve on this unix socket (mode 0600), for the HTTP/JSON transcoder:
        the same services, interceptors and authentication as the listening port. `forwarding`
        (clustered mode): calls for accounts another replica owns go to that owner (its owner
        closes it after the gateway has stopped)."""
        self.settings = settings
        self.internal_socket = internal_socket
        self.health = health.aio.HealthServicer()
        self.live_streams = LiveStreams()
        self.port = 0
        self._servicers = dict(servicers or {})
        self.principals = _principals(settings)
        interceptors: list[grpc.aio.ServerInterceptor] = []
        if settings.metrics_enabled:
            interceptors.append(RpcMetricsInterceptor())
        if self.principals is not None and not settings.gateway_auth_open_health:
            interceptors.append(TokenInterceptor(self.principals))
        if forwarding is not None:  # last: it wraps the API handlers themselves
            interceptors.append(forwarding.interceptor(self.principals))
        self._server = grpc.aio.server(options=SERVER_OPTIONS, interceptors=interceptors)
        self._stopping = False

    @property
    def service_names(self) -> list[str]:
        """Full names of the API services served."""
        return [service.full_name for service in API_SERVICES]

    async def start(self) -> int:
        """Bind, start serving and report SERVING; returns the bound port."""
        ensure_data_dir(self.settings.gateway_data_dir)
        for service in API_SERVICES:
            servicer = self._servicers.get(service.full_name) or service.servicer_base()
            register(self._server, service, servicer, self.principals, self.live_streams)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        enable_reflection([*self.service_names, health.SERVICE_NAME], self._server)
        try:
            credentials = _server_credentials(self.settings)
            if credentials is None:
                self.port = self._server.add_insecure_port(self.settings.gateway_listen)
            else:
                self.port = self._server.add_secure_port(self.settings.gateway_listen, credentials)
            if self.internal_socket is not None:
                self.internal_socket.unlink(missing_ok=True)  # left by a gateway that did not stop
                self._server.add_insecure_port(f"unix:{self.internal_socket}")
                self.internal_socket.chmod(0o600)
        except RuntimeError as exc:
            raise StartupError(
                f"cannot listen on {self.settings.gateway_listen}: {exc}; is another process using "
                "the port? Choose another with --listen or KITE_GATEWAY_LISTEN"
            ) from None
        await self._server.start()
        for name in ["", *self.service_names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "gateway.started",
            version=__version__,
            listen=self.settings.gateway_listen,
            port=self.port,
            tls=self.settings.gateway_tls_cert_file is not None,
            mtls=self.settings.gateway_tls_client_ca_file is not None,
            principals=None if self.principals is None else len(self.principals.by_digest),
            services=self.service_names,
        )
        return self.port

    async def stop(self, grace: float | None = None) -> None:
        """Turn health NOT_SERVING, then drain in-flight RPCs for `grace` seconds and stop."""
        if self._stopping:
            return
        self._stopping = True
        grace = self.settings.gateway_shutdown_grace if grace is None else grace
        log.info("gateway.stopping", grace_seconds=grace)
        await self.health.enter_graceful_shutdown()
        self.live_streams.end_all()  # streams never finish by themselves: their callers resume elsewhere
        await self._server.stop(grace)
        log.info("gateway.stopped")

    async def stop_now(self) -> None:
        """Cancel every RPC still running and stop at once (a second signal during shutdown)."""
        await self._server.stop(0)
        log.info("gateway.stopped", forced=True)


def _principals(settings: Settings) -> Principals | None:
    principals = load_caller_principals(settings)
    if principals is None:
        log.warning("auth.disabled", listen=settings.gateway_listen)
    return principals


def load_caller_principals(settings: Settings) -> Principals | None:
    """The callers' principals (None: no authentication). Raises StartupError when they cannot be
    read, or when a listener beyond loopback would be open to anyone without the explicit allow:
    `serve` calls it before starting anything, so such a start fails at once."""
    inline = settings.gateway_auth_principals
    try:
        principals = load_principals(settings.gateway_auth_file, inline.get_secret_value() if inline else None)
    except AuthConfigError as exc:
        raise StartupError(f"caller authentication: {exc}") from None
    host = settings.gateway_listen.rpartition(":")[0].strip("[]")
    if principals is None and host not in LOOPBACK and not settings.gateway_allow_unauthenticated:
        raise StartupError(
            f"refusing to serve {settings.gateway_listen} without caller authentication: give it principals "
            "(--auth-file FILE or KITE_GATEWAY_AUTH_FILE, or KITE_GATEWAY_AUTH_PRINCIPALS; `kite-gateway token "
            "--name NAME --admin --trade '*' > FILE` makes one), or allow any caller explicitly with "
            "--allow-unauthenticated (KITE_GATEWAY_ALLOW_UNAUTHENTICATED=true), or listen on 127.0.0.1"
        )
    return principals


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StartupError(f"cannot read the {what} {path} ({exc.strerror})") from None


def _server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS credentials when a certificate is configured (and client certificates required with a client CA)."""
    cert, key, client_ca = (
        settings.gateway_tls_cert_file,
        settings.gateway_tls_key_file,
        settings.gateway_tls_client_ca_file,
    )
    if cert is None and key is None:
        if client_ca is not None:
            raise StartupError("KITE_GATEWAY_TLS_CLIENT_CA_FILE needs KITE_GATEWAY_TLS_CERT_FILE and _KEY_FILE")
        return None
    if cert is None or key is None:
        raise StartupError("TLS needs both KITE_GATEWAY_TLS_CERT_FILE and KITE_GATEWAY_TLS_KEY_FILE")
    pair = (_read(key, "TLS key"), _read(cert, "TLS certificate"))
    roots = _read(client_ca, "client CA") if client_ca else None
    return grpc.ssl_server_credentials([pair], root_certificates=roots, require_client_auth=roots is not None)


def ensure_data_dir(path: Path) -> None:
    try:
        private_directory(path)
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StartupError(
            f"data directory {path} is not usable ({exc.strerror}); set --data-dir or "
            "KITE_GATEWAY_DATA_DIR to a writable directory"
        ) from None


async def run_until_signalled(gateway: Gateway, ready: Callable[[int], None] | None = None) -> None:
    """Start the gateway and serve until SIGTERM or SIGINT; then drain (a second signal: stop now).
    `ready` is called with the bound port once it serves."""
    port = await gateway.start()
    if ready is not None:
        ready(port)
    loop = asyncio.get_running_loop()
    signals: asyncio.Queue[int] = asyncio.Queue()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, signals.put_nowait, signum)
    log.info("gateway.signal", signal=signal.Signals(await signals.get()).name)
    graceful = asyncio.create_task(gateway.stop())
    second = asyncio.create_task(signals.get())
    done, _ = await asyncio.wait({graceful, second}, return_when=asyncio.FIRST_COMPLETED)
    if second in done:
        log.info("gateway.signal", signal=signal.Signals(second.result()).name, forced=True)
        await gateway.stop_now()
    else:
        second.cancel()
    await graceful
