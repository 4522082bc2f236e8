"""Where the transcoder reaches the gateway's own server, and when the API may be served on HTTP."""

from __future__ import annotations

from pathlib import Path

from kite_gateway.http import exposure_refusal, internal_socket_path, remove_internal_socket


def test_the_socket_is_in_the_data_directory_when_its_path_fits_a_socket_address() -> None:
    short = Path("/tmp") / "d"
    assert internal_socket_path(short) == short / "grpc-internal.sock"


def test_a_data_directory_too_deep_for_a_socket_address_gets_a_private_temporary_one(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 120)
    socket = internal_socket_path(deep)
    assert socket.parent != deep and len(str(socket)) <= 100
    assert socket.parent.stat().st_mode & 0o777 == 0o700
    socket.touch()
    remove_internal_socket(socket, deep)
    assert not socket.parent.exists()


def test_the_api_is_not_served_on_http_beyond_loopback_without_caller_authentication() -> None:
    assert exposure_refusal("127.0.0.1", authenticated=False, allow_unauthenticated=False) is None
    assert exposure_refusal("[::1]", authenticated=False, allow_unauthenticated=False) is None
    assert exposure_refusal("0.0.0.0", authenticated=True, allow_unauthenticated=False) is None
    assert exposure_refusal("0.0.0.0", authenticated=False, allow_unauthenticated=True) is None
    refusal = exposure_refusal("0.0.0.0", authenticated=False, allow_unauthenticated=False)
    assert refusal is not None and "KITE_GATEWAY_AUTH_FILE" in refusal
