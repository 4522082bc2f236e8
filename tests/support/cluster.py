"""A gateway cluster for fault tests: N `kite-gateway serve` processes in the clustered mode over one
real PostgreSQL database and one real NATS server, in front of one Kite simulator, each a child
process the test can kill (SIGKILL), pause (SIGSTOP), resume, stop gracefully (SIGTERM) or restart
on the same port. Each replica logs to its own file, kept beside the test's other files."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

CLUSTER_SECRET = "test-cluster-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Replica:
    """One replica: its id, gRPC port (the same across restarts), data dir and log file."""

    name: str
    port: int
    directory: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "gateway.log"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "kite_gateway", "serve", "--listen", self.address]
        command += ["--data-dir", str(self.directory / "data"), "--http-listen", f"127.0.0.1:{free_port()}"]
        log = self.log_path.open("ab")
        self.starts += 1
        log.write(f"---- start {self.starts}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(command, env={**os.environ, **self.env}, stdout=log, stderr=log)
        log.close()

    def wait_listening(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise AssertionError(f"replica {self.name} exited: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"replica {self.name} did not listen on {self.address} within {timeout}s")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no hand-off, nothing flushed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM: the graceful stop (leases handed off), waited for."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a paused replica must be able to stop
            self.proc.terminate()
        return self.proc.wait(timeout=timeout)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Cluster:
    """`size` replicas (r0, r1, ...) sharing the database, the bus, the sealing key and the simulator."""

    directory: Path
    sim_api_url: str
    sim_ws_url: str
    database_url: str
    nats_url: str
    sealing_key: str
    size: int = 3
    lease_ttl: float = 2.0
    extra_env: dict[str, str] = field(default_factory=dict)
    replicas: list[Replica] = field(default_factory=list)

    def __post_init__(self) -> None:
        for index in range(self.size):
            name = f"r{index}"
            port = free_port()
            env = {
                "KITE_API_ENDPOINT": self.sim_api_url,
                "KITE_WEBSOCKET_ENDPOINT": self.sim_ws_url,
                "KITE_LOGIN_ENDPOINT": self.sim_api_url,
                "KITE_GATEWAY_SECRET_KEY": self.sealing_key,
                "KITE_GATEWAY_DATABASE_URL": self.database_url,
                "KITE_GATEWAY_NATS_URL": self.nats_url,
                "KITE_GATEWAY_CLUSTER_SECRET": CLUSTER_SECRET,
                "KITE_GATEWAY_REPLICA_ID": name,
                "KITE_GATEWAY_ADVERTISE_ADDRESS": f"127.0.0.1:{port}",
                "KITE_GATEWAY_LEASE_TTL": str(self.lease_ttl),
                "KITE_GATEWAY_LOG_FORMAT": "json",
                **self.extra_env,
            }
            self.replicas.append(Replica(name, port, self.directory / name, env))

    def start(self) -> None:
        """Start every replica; if one does not come up, stop the others (none is left behind)."""
        try:
            for replica in self.replicas:
                replica.start()
            for replica in self.replicas:
                replica.wait_listening()
        except BaseException:
            for replica in self.replicas:
                replica.kill()
            raise

    def restart(self, replica: Replica) -> None:
        replica.terminate()
        replica.start()
        replica.wait_listening()

    @property
    def target(self) -> str:
        """A gRPC target naming every replica, for a round_robin channel."""
        return "ipv4:" + ",".join(r.address for r in self.replicas)

    def stop(self) -> None:
        for replica in self.replicas:
            if replica.running():
                try:
                    replica.terminate(timeout=20)
                except subprocess.TimeoutExpired:
                    replica.kill()

    def logs(self) -> str:
        return "\n".join(f"==== {r.name}\n{r.log_tail()}" for r in self.replicas)
