"""A frame's ticks are converted and handed to subscribers a chunk at a time (CHUNK_TICKS), the
event loop turning between chunks: a subscriber reads a frame's first ticks while the rest is still
being converted, in the frame's order, the last tick included, and one that leaves mid-frame
disturbs neither the frame nor the others."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kite_gateway.streaming.fanout import Mailbox
from kite_gateway.streaming.tick_streams import CHUNK_TICKS, AccountTicks
from kite_gateway.streaming.ticks import TickLevel, UpstreamState
from kite_wire.ticker_packets import Tick

FRAME = 2 * CHUNK_TICKS + CHUNK_TICKS // 2  # two chunks and a half
TOKENS = [256265 + 256 * i for i in range(FRAME)]  # NSE indices' segment: any token will do


class TokenEncoding:
    """Each tick as its token and price; counts the ticks converted so far."""

    def __init__(self) -> None:
        self.converted = 0

    def tick(self, raw: Tick, level: int, symbol: str, received_ns: int) -> bytes:
        self.converted += 1
        return f"{raw.instrument_token}:{raw.last_price}".encode()

    def upstream_status(self, state: UpstreamState, message: str, at_ns: int) -> bytes:
        return b""


@pytest.fixture
async def hub() -> AsyncIterator[tuple[AccountTicks, TokenEncoding]]:
    encoding = TokenEncoding()
    ticks = AccountTicks("ZS0001", "ws://127.0.0.1:1", "key", "token", {}, encoding)
    yield ticks, encoding
    await ticks.stop()


def subscriber(ticks: AccountTicks) -> Mailbox[int]:
    mailbox = ticks.fanout.open("caller")
    for token in TOKENS:
        ticks.fanout.hold(mailbox, token, TickLevel.LTP)
    return mailbox


def frame(price: int) -> list[Tick]:
    return [Tick(token, price, "ltp") for token in TOKENS]


async def read(mailbox: Mailbox[int], encoding: TokenEncoding, wanted: int) -> list[tuple[int, list[bytes]]]:
    """Takes until `wanted` payloads came: per take, how many ticks had been converted, and the payloads."""
    takes: list[tuple[int, list[bytes]]] = []
    while sum(len(payloads) for _, payloads in takes) < wanted:
        taken = await mailbox.take(quiet_after=10.0)
        assert taken is not None, "the frame's ticks stopped coming"
        takes.append((encoding.converted, taken[1]))
    return takes


async def test_a_subscriber_reads_a_frames_first_ticks_before_the_rest_is_converted_in_order_with_the_last(
    hub: tuple[AccountTicks, TokenEncoding],
) -> None:
    ticks, encoding = hub
    mailbox = subscriber(ticks)
    reader = asyncio.create_task(read(mailbox, encoding, FRAME))
    await asyncio.sleep(0)  # the reader waits on its mailbox
    await ticks._on_ticks(frame(100))
    takes = await reader
    assert takes[0][0] < FRAME, "the first ticks waited for the whole frame to be converted"
    assert [p for _, payloads in takes for p in payloads] == [f"{t}:100".encode() for t in TOKENS]
    assert not mailbox.pending and mailbox.conflated_total == 0


async def test_one_instruments_ticks_of_consecutive_frames_are_never_reordered(
    hub: tuple[AccountTicks, TokenEncoding],
) -> None:
    ticks, encoding = hub
    mailbox = subscriber(ticks)
    reader = asyncio.create_task(read(mailbox, encoding, 3 * FRAME))
    await asyncio.sleep(0)
    for price in (100, 101, 102):
        await ticks._on_ticks(frame(price))
    payloads = [p for _, batch in await reader for p in batch]
    for token in TOKENS:
        prices = [int(p.split(b":")[1]) for p in payloads if p.startswith(f"{token}:".encode())]
        assert prices == [100, 101, 102], f"instrument {token}'s ticks came as {prices}"


async def test_a_subscriber_that_leaves_mid_frame_disturbs_neither_the_frame_nor_the_others(
    hub: tuple[AccountTicks, TokenEncoding],
) -> None:
    ticks, encoding = hub
    staying, leaving = subscriber(ticks), subscriber(ticks)

    async def leave_after_first_take() -> None:
        await leaving.take(quiet_after=10.0)
        ticks.fanout.close(leaving)

    reader = asyncio.create_task(read(staying, encoding, FRAME))
    quitter = asyncio.create_task(leave_after_first_take())
    await asyncio.sleep(0)
    await ticks._on_ticks(frame(100))
    await quitter
    assert [p for _, payloads in await reader for p in payloads] == [f"{t}:100".encode() for t in TOKENS]
    assert leaving.mailbox_id not in ticks.fanout.mailboxes and all(
        leaving.mailbox_id not in holders for holders in ticks.fanout.holders.values()
    )
