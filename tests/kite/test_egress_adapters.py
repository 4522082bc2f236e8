"""The egress on the real transports and real sockets: writes bound to a loopback source address
(127.0.0.2 reaches the loopback interface on Linux) or sent through a proxy (HTTP or SOCKS), reads
by the host's default route; and the start-time checks refusing an address this host does not
have or a proxy that does not answer, naming the group and the fix."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kite_gateway.kite.egress import Egress, EgressConfigError, EgressMap
from kite_gateway.kite.egress_checks import check_egresses, check_proxy, check_source_address
from kite_gateway.kite.official_codec import KiteRequest
from kite_gateway.kite.transport import Transports


class Recorder(ThreadingHTTPServer):
    """Answers every request with an empty JSON object and records (method, path, peer address)."""

    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.seen.append((self.command, self.path, self.client_address[0]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Recorder]:
    recorder = Recorder()
    thread = threading.Thread(target=recorder.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield recorder
    recorder.shutdown()
    recorder.server_close()
    thread.join()


def post(url: str, **fields: object) -> KiteRequest:
    return KiteRequest("POST", url, {}, data=fields or None, timeout=5)


def get(url: str) -> KiteRequest:
    return KiteRequest("GET", url, {}, timeout=5)


@pytest.fixture
async def transports() -> AsyncIterator[Transports]:
    with ThreadPoolExecutor(max_workers=2) as executor:
        made = Transports(executor, 4)
        yield made
        await made.close()


async def test_writes_leave_from_the_source_address_and_reads_from_the_default_route(
    server: Recorder, transports: Transports
) -> None:
    calls = transports.calls(Egress("family-a", source_address="127.0.0.2"))
    await calls.writes.send(post(f"{server.url}/orders/regular", quantity=1))
    await calls.writes.send(KiteRequest("PUT", f"{server.url}/orders/regular/1", {}, timeout=5))
    await calls.writes.send(KiteRequest("DELETE", f"{server.url}/orders/regular/1", {}, timeout=5))
    await calls.reads.send(get(f"{server.url}/orders"))
    assert server.seen == [
        ("POST", "/orders/regular", "127.0.0.2"),
        ("PUT", "/orders/regular/1", "127.0.0.2"),
        ("DELETE", "/orders/regular/1", "127.0.0.2"),
        ("GET", "/orders", "127.0.0.1"),
    ]


async def test_a_source_address_egress_ignores_the_environments_proxy_which_reads_follow(
    server: Recorder, transports: Transports, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = Recorder()
    thread = threading.Thread(target=proxy.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    try:
        await transports.writes(Egress("family-a", source_address="127.0.0.3")).send(
            post(f"{server.url}/orders/regular")
        )
        await transports.default.send(get(f"{server.url}/portfolio/positions"))  # as requests honours it
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert server.seen == [("POST", "/orders/regular", "127.0.0.3")]
    assert proxy.seen == [("GET", f"{server.url}/portfolio/positions", "127.0.0.1")]  # a proxy sees the full URL


async def test_writes_go_through_the_proxy_and_reads_straight_to_kite(transports: Transports) -> None:
    kite, proxy = Recorder(), Recorder()
    threads = [threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True) for s in (kite, proxy)]
    for thread in threads:
        thread.start()
    try:
        calls = transports.calls(Egress("family-b", proxy=proxy.url))
        await calls.writes.send(post(f"{kite.url}/orders/regular"))
        await calls.reads.send(get(f"{kite.url}/portfolio/positions"))
        assert proxy.seen == [("POST", f"{kite.url}/orders/regular", "127.0.0.1")]
        assert kite.seen == [("GET", "/portfolio/positions", "127.0.0.1")]
    finally:
        for recorder in (kite, proxy):
            recorder.shutdown()
            recorder.server_close()


class Socks5(threading.Thread):
    """A minimal SOCKS5 proxy (no authentication, CONNECT only) that records where it was asked to
    connect and relays one connection at a time."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.targets: list[tuple[str, int]] = []

    def run(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with client:
                self._serve(client)

    def _serve(self, client: socket.socket) -> None:
        _, methods = client.recv(2)
        client.recv(methods)
        client.sendall(b"\x05\x00")  # no authentication
        _, _, _, kind = client.recv(4)
        if kind == 3:  # a host name (socks5h)
            host = client.recv(client.recv(1)[0]).decode()
        else:  # an IPv4 address
            host = socket.inet_ntoa(client.recv(4))
        port = int.from_bytes(client.recv(2), "big")
        self.targets.append((host, port))
        with socket.create_connection((host, port)) as upstream:
            client.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + port.to_bytes(2, "big"))
            ends = {client: upstream, upstream: client}
            while True:  # relay both ways until the server closes (it answers HTTP/1.0: one request)
                ready, _, _ = select.select(list(ends), [], [], 5)
                if not ready:
                    return
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        return
                    ends[end].sendall(data)

    def stop(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (closing alone would not)
        self.listener.close()
        self.join(timeout=5)


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
async def test_writes_go_through_a_socks_proxy(server: Recorder, transports: Transports, scheme: str) -> None:
    proxy = Socks5()
    proxy.start()
    try:
        calls = transports.calls(Egress("family-c", proxy=f"{scheme}://127.0.0.1:{proxy.port}"))
        port = server.server_address[1]
        answer = await calls.writes.send(post(f"http://localhost:{port}/orders/regular", quantity=1))
        assert answer.json() == {}
        await calls.reads.send(get(f"http://127.0.0.1:{port}/orders"))
    finally:
        proxy.stop()
    expected_host = "localhost" if scheme == "socks5h" else "127.0.0.1"  # socks5h lets the proxy resolve
    assert proxy.targets == [(expected_host, port)]
    assert [method for method, _, _ in server.seen] == ["POST", "GET"]


def test_a_source_address_this_host_does_not_have_stops_the_start_naming_the_group() -> None:
    check_source_address(Egress("family-a", source_address="127.0.0.2"))  # loopback: this host has it
    with pytest.raises(EgressConfigError) as refused:
        check_source_address(Egress("family-a", source_address="192.0.2.10"))  # TEST-NET-1, never local
    message = str(refused.value)
    assert 'egress group "family-a"' in message and "192.0.2.10" in message and "ip addr add" in message


async def test_a_proxy_that_does_not_answer_stops_the_start_naming_the_group() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(EgressConfigError) as refused:
            await check_proxy(Egress("family-b", proxy=f"http://127.0.0.1:{port}"))
    assert 'egress group "family-b"' in str(refused.value) and "cannot be reached" in str(refused.value)


async def test_a_proxy_that_answers_passes_and_so_does_a_silent_one_only_until_the_timeout() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        await check_proxy(Egress("family-b", proxy=f"socks5h://127.0.0.1:{listening.getsockname()[1]}"))

    async def never_answers(host: str, port: int, seconds: float) -> None:
        raise TimeoutError

    with pytest.raises(EgressConfigError, match="no answer within 3 s"):
        await check_proxy(Egress("family-b", proxy="http://10.0.0.1:3128"), never_answers)


async def test_the_whole_map_is_checked_default_included() -> None:
    egresses = EgressMap.parse(
        '[egress.a]\nsource_address = "127.0.0.2"\naccounts = ["X"]\n[default]\nsource_address = "192.0.2.10"\n'
    )
    with pytest.raises(EgressConfigError, match='egress group "default"'):
        await check_egresses(egresses)
