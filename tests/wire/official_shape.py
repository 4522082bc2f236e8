"""Our decoded Tick in the official kiteconnect parser's shape (KiteTicker._parse_binary's dicts), so a
test can compare every field the official parser reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kite_wire.ticker_packets import Tick


def _price(value: int, divisor: int) -> float:
    return value / divisor


def _moment(stamp: int) -> datetime | None:
    """As the official parser reads a time: local datetime, None where that fails."""
    try:
        return datetime.fromtimestamp(stamp)
    except (OverflowError, OSError, ValueError):
        return None


def as_official(tick: Tick) -> dict[str, Any]:
    """Our decode in the official parser's shape, to compare every field."""
    d = tick.divisor
    out: dict[str, Any] = {
        "tradable": tick.tradable,
        "mode": tick.mode,
        "instrument_token": tick.instrument_token,
        "last_price": _price(tick.last_price, d),
    }
    if tick.mode == "ltp":
        return out
    ohlc = {
        "open": _price(tick.open, d),
        "high": _price(tick.high, d),
        "low": _price(tick.low, d),
        "close": _price(tick.close, d),
    }
    change = (out["last_price"] - ohlc["close"]) * 100 / ohlc["close"] if ohlc["close"] else 0
    if not tick.tradable:
        out.update(ohlc=ohlc, change=change)
        if tick.mode == "full":
            out["exchange_timestamp"] = _moment(tick.exchange_timestamp)
        return out
    out.update(
        last_traded_quantity=tick.last_quantity,
        average_traded_price=_price(tick.average_price, d),
        volume_traded=tick.volume,
        total_buy_quantity=tick.buy_quantity,
        total_sell_quantity=tick.sell_quantity,
        ohlc=ohlc,
        change=change,
    )
    if tick.mode == "full":
        levels = [
            {"quantity": tick.depth[i], "price": _price(tick.depth[i + 1], d), "orders": tick.depth[i + 2]}
            for i in range(0, 30, 3)
        ]
        out.update(
            last_trade_time=_moment(tick.last_trade_time),
            oi=tick.oi,
            oi_day_high=tick.oi_day_high,
            oi_day_low=tick.oi_day_low,
            exchange_timestamp=_moment(tick.exchange_timestamp),
            depth={"buy": levels[:5], "sell": levels[5:]},
        )
    return out
