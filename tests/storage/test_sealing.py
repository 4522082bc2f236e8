"""Several sealing keys at once: the newest seals, any unseals; how a setting or key file lists them."""

from __future__ import annotations

from pathlib import Path

import pytest

from kite_gateway.storage.sealing import Sealer, SealingError, is_sealed, load_keys, parse_keys

A, B, C = Sealer.generate_key(), Sealer.generate_key(), Sealer.generate_key()


def test_keys_are_read_newest_first_from_commas_spaces_newlines_with_comments_skipped() -> None:
    text = f"# rotated 2026-12-03\n{B.decode()}, {A.decode()}\n\n  {C.decode()}  \n"
    assert parse_keys(text) == (B, A, C)
    assert parse_keys(f"{B.decode()},{A.decode()}") == (B, A)


def test_the_newest_key_seals_and_every_key_unseals() -> None:
    old = Sealer(A).seal("token")
    both = Sealer([B, A])
    assert both.unseal(old) == "token"
    assert Sealer(B).unseal(both.seal("fresh")) == "fresh"  # sealed by B alone
    with pytest.raises(SealingError):
        Sealer(A).unseal(both.seal("fresh"))


def test_reseal_moves_a_value_to_the_newest_key_and_leaves_one_already_there() -> None:
    both = Sealer([B, A])
    moved = both.reseal(Sealer(A).seal("secret"))
    assert moved is not None and Sealer(B).unseal(moved) == "secret"
    assert both.reseal(moved) is None
    with pytest.raises(SealingError, match="any of the 2 keys"):
        both.reseal(Sealer(C).seal("secret"))


def test_a_malformed_key_in_a_set_is_named_by_its_position_not_shown() -> None:
    with pytest.raises(SealingError, match="key 2 of 2") as caught:
        Sealer([A, b"not-a-key"])
    assert "not-a-key" not in str(caught.value)


def test_a_key_file_holds_one_key_a_line_newest_first(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"{B.decode()}\n{A.decode()}\n")
    assert load_keys(None, path) == (B, A)
    assert load_keys(f"{C.decode()},{B.decode()}", path) == (C, B)  # the environment value wins
    path.write_text("# nothing yet\n")
    with pytest.raises(SealingError, match="holds no key"):
        load_keys(None, path)


def test_paper_modes_generated_key_file_is_one_key_that_seals(tmp_path: Path) -> None:
    keys = load_keys(None, None, generate_in=tmp_path)
    assert len(keys) == 1 and load_keys(None, None, generate_in=tmp_path) == keys
    assert Sealer(keys).unseal(Sealer(keys).seal("x")) == "x"


def test_sealed_values_are_told_from_json_stored_in_the_clear() -> None:
    assert is_sealed(Sealer(A).seal("{}")) and not is_sealed('{"order_id": "1"}')
