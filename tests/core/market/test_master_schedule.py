"""The instrument master is downloaded again after Kite's next morning dump (08:30 IST plus a margin),
not 24 hours after the first download, and a failed refresh keeps the old master serving while it
is retried with a growing delay. Time is an injected clock: nothing here sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kite_gateway.core.market.instruments import InstrumentMaster, InstrumentRef
from kite_gateway.core.market.master_schedule import (
    LONGEST_RETRY,
    RefreshSchedule,
    next_dump_after,
    retry_delay,
)
from kite_gateway.errors import GatewayError, Reason, Status
from kite_wire import IST


def ist(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=IST)


@pytest.mark.parametrize(
    ("moment", "due"),
    [
        (ist(2, 6, 0), ist(2, 8, 35)),  # before the dump: this morning's
        (ist(2, 8, 35), ist(3, 8, 35)),  # exactly at the refresh time: tomorrow's
        (ist(2, 9, 15), ist(3, 8, 35)),  # after: tomorrow's, not 24 hours on
        (ist(2, 23, 50), ist(3, 8, 35)),
        (datetime(2026, 12, 2, 2, 0, tzinfo=UTC), ist(2, 8, 35)),  # 07:30 IST, given in UTC
        (datetime(2026, 12, 31, 22, 0, tzinfo=UTC), datetime(2027, 1, 1, 8, 35, tzinfo=IST)),  # across the year
    ],
)
def test_the_next_refresh_is_the_first_dump_time_in_ist_after_the_moment(moment: datetime, due: datetime) -> None:
    assert next_dump_after(moment) == due


def test_retries_double_from_thirty_seconds_up_to_a_cap() -> None:
    delays = [retry_delay(n) for n in range(1, 9)]
    assert delays[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert delays[-1] == LONGEST_RETRY and delays == sorted(delays)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def row(token: int, symbol: str) -> dict[str, Any]:
    return {"instrument_token": token, "exchange_token": token // 256, "tradingsymbol": symbol, "name": "",
            "exchange": "NFO", "segment": "NFO-FUT", "instrument_type": "FUT", "expiry": "", "strike": 0.0,
            "tick_size": 0.05, "lot_size": 65, "last_price": 0.0}  # fmt: skip


class Kite:
    """What KiteMarket reads the dump through: each call answers the next dump, or raises."""

    account_id = "ZS0001"

    def __init__(self) -> None:
        self.dumps: list[list[dict[str, Any]] | GatewayError] = []
        self.calls = 0

    async def read(self, endpoint: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        assert method == "instruments"
        self.calls += 1
        answer = self.dumps.pop(0)
        if isinstance(answer, GatewayError):
            raise answer
        return answer


class Session:
    def __init__(self, kite: Kite) -> None:
        self.kite = kite

    def active(self) -> Kite:
        return self.kite


DOWN = GatewayError(Status.UNAVAILABLE, Reason.KITE_UNAVAILABLE, "Kite did not answer")


def listed(master: InstrumentMaster, symbol: str) -> bool:
    return master.find(InstrumentRef(symbol=f"NFO:{symbol}")) is not None


async def test_a_contract_listed_this_morning_is_found_after_the_dump_though_yesterdays_master_is_fresh() -> None:
    clock, kite = Clock(ist(1, 15, 0)), Kite()
    master = InstrumentMaster(RefreshSchedule(clock))
    session: Any = Session(kite)
    kite.dumps = [[row(256, "NIFTY26DECFUT")], [row(256, "NIFTY26DECFUT"), row(512, "NIFTY27MARFUT")]]
    await master.ensure(session)  # downloaded at 15:00 on 1 December
    clock.now = ist(2, 8, 34)  # the next morning, before the dump: no download
    await master.ensure(session)
    assert kite.calls == 1 and not listed(master, "NIFTY27MARFUT")
    clock.now = ist(2, 8, 35)  # 17.5 hours on, well inside a 24 hour TTL
    await master.ensure(session)
    assert kite.calls == 2 and listed(master, "NIFTY27MARFUT")
    assert master.schedule.due_at == ist(3, 8, 35)


async def test_a_failed_refresh_serves_the_old_master_and_retries_with_backoff_until_it_works() -> None:
    clock, kite = Clock(ist(1, 15, 0)), Kite()
    master = InstrumentMaster(RefreshSchedule(clock))
    session: Any = Session(kite)
    kite.dumps = [[row(256, "NIFTY26DECFUT")], DOWN, DOWN, [row(512, "NIFTY27MARFUT")]]
    await master.ensure(session)
    clock.now = ist(2, 8, 40)
    await master.ensure(session)  # fails: the old master still answers
    assert listed(master, "NIFTY26DECFUT") and master.schedule.due_at == ist(2, 8, 40) + timedelta(seconds=30)
    clock.now += timedelta(seconds=29)
    await master.ensure(session)  # inside the backoff: no call
    assert kite.calls == 2
    clock.now += timedelta(seconds=1)
    await master.ensure(session)  # fails again: the wait doubles
    assert kite.calls == 3 and master.schedule.due_at == clock.now + timedelta(seconds=60)
    clock.now += timedelta(seconds=60)
    await master.ensure(session)
    assert kite.calls == 4 and listed(master, "NIFTY27MARFUT") and not listed(master, "NIFTY26DECFUT")
    assert master.schedule.failures == 0 and master.schedule.due_at == ist(3, 8, 35)


async def test_with_no_master_loaded_a_failed_download_is_the_callers_error() -> None:
    kite = Kite()
    kite.dumps = [DOWN]
    master = InstrumentMaster(RefreshSchedule(Clock(ist(2, 9, 0))))
    with pytest.raises(GatewayError) as failed:
        await master.ensure(Session(kite))  # type: ignore[arg-type]
    assert failed.value.code is Status.UNAVAILABLE and not master.by_symbol


async def test_an_empty_dump_does_not_replace_the_loaded_master_and_is_retried_with_backoff() -> None:
    clock, kite = Clock(ist(1, 15, 0)), Kite()
    master = InstrumentMaster(RefreshSchedule(clock))
    session: Any = Session(kite)
    kite.dumps = [[row(256, "NIFTY26DECFUT")], [], [row(512, "NIFTY27MARFUT")]]
    await master.ensure(session)
    clock.now = ist(2, 8, 35)
    await master.ensure(session)  # Kite answers an empty dump (caught while regenerating it)
    assert listed(master, "NIFTY26DECFUT") and master.schedule.due_at == ist(2, 8, 35) + timedelta(seconds=30)
    await master.ensure(session)  # not downloaded again on every call
    assert kite.calls == 2
    clock.now += timedelta(seconds=30)
    await master.ensure(session)
    assert kite.calls == 3 and listed(master, "NIFTY27MARFUT")


async def test_with_no_master_loaded_an_empty_dump_is_unavailable_saying_it_will_be_retried() -> None:
    kite = Kite()
    kite.dumps = [[]]
    master = InstrumentMaster(RefreshSchedule(Clock(ist(2, 9, 0))))
    with pytest.raises(GatewayError) as failed:
        await master.ensure(Session(kite))  # type: ignore[arg-type]
    assert failed.value.code is Status.UNAVAILABLE and failed.value.reason is Reason.KITE_UNAVAILABLE
    assert "empty" in failed.value.message and "retry" in failed.value.message


async def test_a_morning_dump_identical_to_yesterdays_is_looked_at_again_until_the_new_one_is_out() -> None:
    clock, kite = Clock(ist(1, 15, 0)), Kite()
    master = InstrumentMaster(RefreshSchedule(clock))
    session: Any = Session(kite)
    old, new = [row(256, "NIFTY26DECFUT")], [row(256, "NIFTY26DECFUT"), row(512, "NIFTY27MARFUT")]
    kite.dumps = [old, old, new]
    await master.ensure(session)
    clock.now = ist(2, 8, 35)  # a Wednesday, a trading day: Kite still serves yesterday's dump
    await master.ensure(session)
    assert kite.calls == 2 and master.schedule.due_at == ist(2, 8, 45)
    clock.now = ist(2, 8, 45)
    await master.ensure(session)
    assert kite.calls == 3 and listed(master, "NIFTY27MARFUT") and master.schedule.due_at == ist(3, 8, 35)


async def test_an_unchanged_dump_late_in_the_morning_is_taken_as_todays() -> None:
    clock, kite = Clock(ist(1, 15, 0)), Kite()
    master = InstrumentMaster(RefreshSchedule(clock))
    session: Any = Session(kite)
    kite.dumps = [[row(256, "NIFTY26DECFUT")], [row(256, "NIFTY26DECFUT")]]
    await master.ensure(session)
    clock.now = ist(2, 10, 5)
    await master.ensure(session)
    assert master.schedule.due_at == ist(3, 8, 35)


async def test_with_no_master_a_failed_download_is_not_repeated_by_every_call_until_the_retry_is_due() -> None:
    clock, kite = Clock(ist(2, 9, 0)), Kite()
    kite.dumps = [DOWN, [row(256, "NIFTY26DECFUT")]]
    master = InstrumentMaster(RefreshSchedule(clock))
    session: Any = Session(kite)
    with pytest.raises(GatewayError):
        await master.ensure(session)
    with pytest.raises(GatewayError) as waiting:
        await master.ensure(session)
    assert kite.calls == 1 and waiting.value.code is Status.UNAVAILABLE and waiting.value.retry_after == 30
    assert "tries again in 30 s" in waiting.value.message
    clock.now += timedelta(seconds=30)
    await master.ensure(session)
    assert kite.calls == 2 and listed(master, "NIFTY26DECFUT")
