"""kite_wire's public surface is curated: `__all__` names exactly what `from kite_wire import *` gives,
every name resolves, and the list stays sorted so additions are reviewed."""

from __future__ import annotations

import kite_wire


def test_every_exported_name_resolves() -> None:
    missing = [name for name in kite_wire.__all__ if not hasattr(kite_wire, name)]
    assert missing == []


def test_the_exported_names_are_unique_and_sorted() -> None:
    assert len(set(kite_wire.__all__)) == len(kite_wire.__all__)
    assert kite_wire.__all__ == sorted(kite_wire.__all__, key=lambda name: (not name.isupper(), name))


def test_star_import_gives_exactly_the_exported_names() -> None:
    namespace: dict[str, object] = {}
    exec("from kite_wire import *", namespace)
    assert sorted(name for name in namespace if name != "__builtins__") == sorted(kite_wire.__all__)


def test_the_public_names_are_the_one_tick_and_the_protocols_pieces() -> None:
    assert {"Tick", "Instrument", "RateClass", "KiteErrorType", "kite_number", "parse_control"} <= set(
        kite_wire.__all__
    )
    assert not {"RawTick", "TickSnapshot", "json_number"} & set(kite_wire.__all__)
