"""A recorded trading session as the simulator's market: every instrument the recording carries
quotes exactly what was recorded last at or before the clock's time; the others keep following the
seeded model. The recording is read forward as the clock moves (memory holds one packet per
instrument), and read again from the start if the clock is set back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

from kite_simulator.market import LiveQuote, MarketModel
from kite_simulator.universe import SimInstrument
from kite_wire import DepthEntry, Frame, MarketHours, Recording, Tick, decode_packet, split_message


def first_frame_time(recording: Recording) -> datetime:
    """When the recording's first frame was received (its header's start when it has none)."""
    for first in recording.frames():
        return datetime.fromtimestamp(first.received_us / 1e6, UTC)
    return datetime.fromisoformat(recording.header["started"])


class ReplayMarket(MarketModel):
    """The seeded model, overridden by a recording for the instruments it carries."""

    def __init__(
        self, recording: Recording, seed: int, anchor_day: date, hours: MarketHours, step_seconds: float = 1.0
    ) -> None:
        super().__init__(seed, anchor_day, hours, step_seconds)
        self.recording = recording
        self._rewind()

    def _rewind(self) -> None:
        self._frames: Iterator[Frame] = self.recording.frames()
        self._next: Frame | None = next(self._frames, None)
        self._packets: dict[int, bytes] = {}
        self._decoded: dict[int, tuple[bytes, Tick]] = {}
        self._position_us = -1

    def _advance(self, moment: datetime) -> None:
        until = int(moment.timestamp() * 1_000_000)
        if until < self._position_us:
            self._rewind()
        self._position_us = until
        while self._next is not None and self._next.received_us <= until:
            if isinstance(self._next.payload, bytes):
                for packet in split_message(self._next.payload):
                    if len(packet) >= 8:
                        self._packets[int.from_bytes(packet[:4], "big")] = packet
            self._next = next(self._frames, None)

    def recorded(self, instrument_token: int, moment: datetime) -> Tick | None:
        """The last recorded tick of an instrument at `moment`, if the recording has reached one."""
        self._advance(moment)
        packet = self._packets.get(instrument_token)
        if packet is None:
            return None
        cached = self._decoded.get(instrument_token)
        if cached is None or cached[0] is not packet:
            raw = decode_packet(packet)
            if raw is None:
                return None
            cached = self._decoded[instrument_token] = (packet, raw)
        return cached[1]

    def quote(self, instrument: SimInstrument, moment: datetime) -> LiveQuote:
        raw = self.recorded(instrument.instrument_token, moment)
        if raw is None:
            return super().quote(instrument, moment)
        return self._live_quote(instrument, raw, moment)

    def _live_quote(self, instrument: SimInstrument, raw: Tick, moment: datetime) -> LiveQuote:
        def price(value: int) -> Decimal:
            return Decimal(value) / raw.divisor

        def depth(levels: tuple[int, ...]) -> tuple[DepthEntry, ...]:
            return tuple(DepthEntry(levels[i], price(levels[i + 1]), levels[i + 2]) for i in range(0, len(levels), 3))

        last_price = price(raw.last_price)
        lower, upper = self._circuits(instrument, price(raw.close) or last_price)
        exchange_time = datetime.fromtimestamp(raw.exchange_timestamp, UTC) if raw.exchange_timestamp else moment
        trade_time = datetime.fromtimestamp(raw.last_trade_time, UTC) if raw.last_trade_time else exchange_time
        return LiveQuote(
            instrument=instrument,
            at=exchange_time,
            last_price=last_price,
            last_quantity=raw.last_quantity,
            average_price=price(raw.average_price),
            volume=raw.volume,
            buy_quantity=raw.buy_quantity,
            sell_quantity=raw.sell_quantity,
            open=price(raw.open),
            high=price(raw.high),
            low=price(raw.low),
            close=price(raw.close),
            last_trade_time=trade_time,
            oi=raw.oi,
            oi_day_high=raw.oi_day_high,
            oi_day_low=raw.oi_day_low,
            lower_circuit=lower,
            upper_circuit=upper,
            bids=depth(raw.depth[:15]),
            offers=depth(raw.depth[15:]),
        )
