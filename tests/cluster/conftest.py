"""Fixtures of the clustered mode's tests: real NATS servers (tests/support/nats.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.nats import NatsServer


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    """One server for the session's tests that do not stop it (KITE_GATEWAY_TEST_NATS_URL's, if set)."""
    with NatsServer() as server:
        yield server


@pytest.fixture
def own_nats() -> Iterator[NatsServer]:
    """A server of the test's own, which it may stop, restart or kill (always started here)."""
    with NatsServer(use_env=False) as server:
        yield server
