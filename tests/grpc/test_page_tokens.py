"""Search page tokens: what the gateway issued continues where it left off; anything else is
INVALID_ARGUMENT on page_token, never an internal error."""

from __future__ import annotations

import base64
import json

import pytest

from kite_gateway.errors import GatewayError, Status
from kite_gateway.grpc.page_tokens import decode, encode


def forged(body: str) -> str:
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def test_an_issued_token_continues_from_its_offset() -> None:
    assert decode(encode(150, "digest", "gen"), "digest", "gen") == 150
    assert decode("", "digest", "gen") == 0


@pytest.mark.parametrize(
    "token",
    [
        "not base64 at all!",
        forged("[1, 2]"),
        forged('"text"'),
        forged('{"o": 1}'),
        forged('{"o": NaN, "f": "digest", "g": "gen"}'),
        forged('{"o": 1e400, "f": "digest", "g": "gen"}'),  # infinity: int() overflows
        forged('{"o": -5, "f": "digest", "g": "gen"}'),
        forged('{"o": {"x": 1}, "f": "digest", "g": "gen"}'),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_token_the_gateway_did_not_issue_is_invalid_argument_on_page_token(token: str) -> None:
    with pytest.raises(GatewayError) as refused:
        decode(token, "digest", "gen")
    assert refused.value.code is Status.INVALID_ARGUMENT
    assert [name for name, _ in refused.value.field_violations] == ["page_token"]


def test_a_token_for_other_filters_or_an_older_master_says_to_start_again() -> None:
    token = encode(50, "digest", "gen")
    for digest, generation in (("other", "gen"), ("digest", "newer")):
        with pytest.raises(GatewayError) as refused:
            decode(token, digest, generation)
        assert "start again" in refused.value.message
    assert json.loads(base64.urlsafe_b64decode(token + "==")) == {"o": 50, "f": "digest", "g": "gen"}
