"""The fan-out as a unit: conflation for slow readers, reference-counted keys at the richest level
any holder wants, and one payload made per level however many hold it."""

from __future__ import annotations

from kite_gateway.streaming.fanout import Fanout


async def test_a_slow_subscriber_gets_the_newest_tick_per_instrument_and_a_count_of_the_rest() -> None:
    fanout: Fanout[int] = Fanout()
    fast, slow = fanout.open("a"), fanout.open("b")
    for mailbox in (fast, slow):
        fanout.hold(mailbox, 1, 0)
        fanout.hold(mailbox, 2, 0)
    fanout.publish(1, lambda level: b"one-v1")
    assert await fast.take(1) == ([], [b"one-v1"], 0)
    for version in (b"one-v2", b"one-v3", b"one-v4"):
        fanout.publish(1, lambda level, v=version: v)  # type: ignore[misc]
    fanout.publish(2, lambda level: b"two-v1")
    assert await slow.take(1) == ([], [b"one-v4", b"two-v1"], 3)
    assert await fast.take(1) == ([], [b"one-v4", b"two-v1"], 2)
    assert await fast.take(0.01) is None
    assert (slow.conflated_total, fast.conflated_total, slow.delivered) == (3, 2, 2)


def test_a_key_is_produced_at_the_richest_level_any_holder_wants_until_the_last_lets_go() -> None:
    fanout: Fanout[int] = Fanout()
    poor, rich = fanout.open("a"), fanout.open("b")
    assert fanout.hold(poor, 7, 0) == (-1, 0)  # first holder: subscribe
    assert fanout.hold(rich, 7, 2) == (0, 2)  # upgrade
    assert fanout.release(rich, 7) == (2, 0)  # downgrade
    assert fanout.close(poor) == [(7, 0, -1)]  # the last holder gone: unsubscribe
    assert fanout.holders == {}


def test_a_payload_is_made_once_per_level_and_shared_by_every_holder_at_it() -> None:
    fanout: Fanout[int] = Fanout()
    made: list[int] = []
    boxes = [fanout.open(f"p{i}") for i in range(5)]
    for i, mailbox in enumerate(boxes):
        fanout.hold(mailbox, 1, i % 2)

    def payload(level: int) -> bytes:
        made.append(level)
        return f"level-{level}".encode()

    fanout.publish(1, payload)
    assert sorted(made) == [0, 1]
    pending = [m.pending[1] for m in boxes]
    assert pending[0] is pending[2] is pending[4] and pending[1] is pending[3]


async def test_notes_are_never_conflated_and_come_before_payloads() -> None:
    fanout: Fanout[int] = Fanout()
    mailbox = fanout.open("a")
    fanout.hold(mailbox, 1, 0)
    fanout.publish(1, lambda level: b"tick")
    fanout.note_all(b"first")
    fanout.note_all(b"second")
    assert await mailbox.take(1) == ([b"first", b"second"], [b"tick"], 0)
