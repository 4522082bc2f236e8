"""GTT use cases over the real idempotency store and a fake Kite: a trigger is placed once per
client_order_id (also when Kite's answer was lost: it is found among the active triggers), the kill
switch refuses placements and modifications, also one engaged while the call waited to be sent,
and deleting is never blocked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from kiteconnect import exceptions as kite_exceptions

from kite_gateway.core.orders.dispatch import OrderDispatch
from kite_gateway.core.orders.gtt import GttTriggers, same_trigger
from kite_gateway.core.orders.placement import IdempotentPlacement
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.gtt import gtt_row
from kite_gateway.storage.idempotency import FAILED, PLACED, IdempotencyStore
from kite_gateway.storage.sqlite import SqliteDatabase
from tests.kite.test_gtt import ACCOUNT, KITE_ROW, SELL_ABOVE, FakeKite

NOW = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
ACTIVE_ROW = {**KITE_ROW, "status": "active", "condition": {**KITE_ROW["condition"], "trigger_values": [1550.5]}}


@dataclass
class KillSwitch:
    engaged: bool = False
    checks: list[str] = field(default_factory=list)

    def check(self, account_id: str) -> None:
        self.checks.append(account_id)
        if self.engaged:
            raise GatewayError(Status.FAILED_PRECONDITION, Reason.KILL_SWITCH_ACTIVE, "kill switch engaged")


@dataclass
class Setup:
    store: IdempotencyStore
    switch: KillSwitch
    gtts: GttTriggers


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    database = SqliteDatabase(tmp_path / "gateway.db")
    await database.open()
    store, switch = IdempotencyStore(database), KillSwitch()

    async def sent_since(account_id: str, since: datetime) -> int:
        return 0

    dispatch = OrderDispatch(depth=10, max_wait=5, per_second=10, per_minute=400, per_day=5000,
                             sent_since=sent_since, blocked=switch.check, now=lambda: NOW)  # fmt: skip
    placement = IdempotentPlacement(store, dispatch, switch.check, request_timeout=7, quarantine=10, now=lambda: NOW)
    try:
        yield Setup(store, switch, GttTriggers(placement, switch.check))
    finally:
        await database.close()


def test_an_active_trigger_on_the_same_instrument_at_the_same_values_is_the_same_trigger() -> None:
    row = gtt_row(ACTIVE_ROW)
    assert same_trigger(row, SELL_ABOVE)
    assert same_trigger(replace(row, trigger_values=(Decimal("1550.50"),)), SELL_ABOVE)  # one number, two spellings
    assert not same_trigger(replace(row, status="triggered"), SELL_ABOVE)
    assert not same_trigger(replace(row, tradingsymbol="TCS"), SELL_ABOVE)
    assert not same_trigger(replace(row, trigger_values=(Decimal("1560"),)), SELL_ABOVE)


async def test_placing_a_trigger_again_with_the_same_client_order_id_returns_the_first_without_sending_it(
    setup: Setup,
) -> None:
    kite = FakeKite({"place_gtt": {"trigger_id": 123}})
    assert await setup.gtts.place(kite.caller(), "gtt-1", "fp", SELL_ABOVE) == (123, False)
    assert await setup.gtts.place(kite.caller(), "gtt-1", "fp", SELL_ABOVE) == (123, True)
    assert kite.methods() == ["place_gtt"]
    record = await setup.store.get(ACCOUNT, "gtt-1")
    assert record is not None and (record.kind, record.state, record.order_id) == ("gtt", PLACED, "123")


async def test_a_trigger_whose_answer_was_lost_is_found_among_the_active_triggers_and_not_placed_twice(
    setup: Setup,
) -> None:
    kite = FakeKite({"get_gtts": [ACTIVE_ROW, {**ACTIVE_ROW, "id": 124, "condition": {"tradingsymbol": "TCS"}}]})
    kite.failures["place_gtt"] = requests.exceptions.ReadTimeout("no answer")
    assert await setup.gtts.place(kite.caller(), "gtt-1", "fp", SELL_ABOVE) == (123, False)
    assert await setup.gtts.place(kite.caller(), "gtt-1", "fp", SELL_ABOVE) == (123, True)
    assert kite.methods() == ["place_gtt", "get_gtts"]


async def test_a_trigger_kite_refused_can_be_placed_again_with_the_same_client_order_id(setup: Setup) -> None:
    kite = FakeKite({"place_gtt": {"trigger_id": 125}})
    kite.failures["place_gtt"] = kite_exceptions.InputException("Invalid trigger price.")
    with pytest.raises(GatewayError) as caught:
        await setup.gtts.place(kite.caller(), "gtt-1", "fp", SELL_ABOVE)
    assert caught.value.code == Status.INVALID_ARGUMENT
    record = await setup.store.get(ACCOUNT, "gtt-1")
    assert record is not None and record.state == FAILED
    del kite.failures["place_gtt"]
    assert await setup.gtts.place(kite.caller(), "gtt-1", "fp", SELL_ABOVE) == (125, False)


async def test_a_blocked_account_places_no_trigger(setup: Setup) -> None:
    setup.switch.engaged = True
    kite = FakeKite({"place_gtt": {"trigger_id": 123}})
    with pytest.raises(GatewayError) as caught:
        setup.gtts.admit(ACCOUNT)
    assert caught.value.reason == Reason.KILL_SWITCH_ACTIVE
    with pytest.raises(GatewayError):
        await setup.gtts.place(kite.caller(), "gtt-1", "fp", SELL_ABOVE)
    assert kite.sent == []


async def test_a_modification_is_refused_when_the_kill_switch_is_engaged_while_it_waits_to_be_sent(
    setup: Setup,
) -> None:
    kite = FakeKite()
    original = kite._call

    async def engage_while_waiting(*args: Any, **kwargs: Any) -> Any:  # the rate limiter's wait
        setup.switch.engaged = True
        return await original(*args, **kwargs)

    kite._call = engage_while_waiting  # type: ignore[method-assign]
    with pytest.raises(GatewayError) as caught:
        await setup.gtts.modify(kite.caller(), 123, SELL_ABOVE)
    assert caught.value.reason == Reason.KILL_SWITCH_ACTIVE and kite.sent == []
    assert setup.switch.checks == [ACCOUNT, ACCOUNT]  # once at once, once at sending


async def test_a_blocked_account_can_still_delete_its_triggers(setup: Setup) -> None:
    setup.switch.engaged = True
    kite = FakeKite()
    await setup.gtts.delete(kite.caller(), 123)
    assert kite.methods() == ["delete_gtt"]


async def test_triggers_are_listed_and_read_as_typed_rows(setup: Setup) -> None:
    kite = FakeKite({"get_gtts": [ACTIVE_ROW], "get_gtt": KITE_ROW})
    assert [row.gtt_id for row in await setup.gtts.list(kite.caller())] == [123]
    assert (await setup.gtts.get(kite.caller(), 123)).status == "triggered"
