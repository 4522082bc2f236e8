"""The per-account health entries as a unit: one per account from the providers, a ticker entry
only for an account still served, and UNKNOWN for an entry whose account is gone."""

from __future__ import annotations

from grpc_health.v1 import health, health_pb2

from kite_gateway.grpc.account_health import HealthSources, publish_once

SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN


class Recorder(health.aio.HealthServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[str, object] = {}

    async def set(self, service: str, status: object) -> None:
        self.entries[service] = status


async def test_each_account_is_serving_while_active_and_its_ticker_while_connected() -> None:
    recorder, known = Recorder(), set[str]()
    sources = HealthSources(accounts=lambda: {"AB1234": True, "CD5678": False}, tickers=lambda: {"AB1234": False})
    await publish_once(recorder, sources, known)
    assert recorder.entries == {"account/AB1234": SERVING, "account/CD5678": NOT_SERVING, "ticker/AB1234": NOT_SERVING}
    assert known == set(recorder.entries)


async def test_an_account_gone_turns_its_entries_unknown_and_a_ticker_without_an_account_is_not_listed() -> None:
    recorder, known = Recorder(), set[str]()
    accounts = {"AB1234": True}
    sources = HealthSources(accounts=lambda: dict(accounts), tickers=lambda: {"AB1234": True, "ZZ0000": True})
    await publish_once(recorder, sources, known)
    assert "ticker/ZZ0000" not in recorder.entries and recorder.entries["ticker/AB1234"] == SERVING
    accounts.clear()
    await publish_once(recorder, sources, known)
    assert recorder.entries["account/AB1234"] == recorder.entries["ticker/AB1234"] == UNKNOWN and known == set()


async def test_a_replica_whose_database_is_down_turns_every_service_not_serving_until_it_is_back() -> None:
    recorder, known = Recorder(), set[str]()
    up = {"database": False, "bus": True}
    sources = HealthSources(accounts=dict, dependencies=lambda: dict(up), serving=("", "kite_gateway.v1.OrderService"))
    await publish_once(recorder, sources, known)
    assert recorder.entries == {
        "dependency/database": NOT_SERVING,
        "dependency/bus": SERVING,
        "": NOT_SERVING,
        "kite_gateway.v1.OrderService": NOT_SERVING,
    }
    up["database"] = True
    await publish_once(recorder, sources, known)
    assert recorder.entries[""] == recorder.entries["kite_gateway.v1.OrderService"] == SERVING
