"""The principals file as a unit: a principal's default algo ID is read with it, and a malformed
one stops the start naming the entry."""

from __future__ import annotations

import pytest

from kite_gateway.auth import AuthConfigError, Principals, token_digest

ENTRY = """
[[principal]]
name = "signal-engine"
token_sha256 = "{digest}"
trade = ["ZS0001"]
{algo}
"""


def principals(algo: str) -> Principals:
    return Principals.from_toml(ENTRY.format(digest=token_digest("tok"), algo=algo), "principals.toml")


def test_a_principal_carries_its_default_algo_id_and_has_none_unless_it_says() -> None:
    assert principals('algo_id = "NSE-ALGO.42"').by_digest[token_digest("tok")].algo_id == "NSE-ALGO.42"
    assert principals("").by_digest[token_digest("tok")].algo_id == ""


@pytest.mark.parametrize("algo", ['algo_id = "two words"', "algo_id = 42"])
def test_a_malformed_algo_id_names_the_principal(algo: str) -> None:
    with pytest.raises(AuthConfigError, match=r"principal #1 \(signal-engine\): algo_id must be"):
        principals(algo)
