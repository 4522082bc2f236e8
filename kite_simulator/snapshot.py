"""The simulator's trading state as plain JSON and back: every account's orders (with their state
histories), trades, positions, holdings and funds, the GTT book, the order-cap counts and the id
sequences. Prices stay exact (decimals as strings). Instruments are saved with all their fields,
so that an order on a contract today's universe no longer lists (an expired option) still
restores; one today's universe lists is restored as today's object."""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kite_simulator.alerts import Alert, Condition
from kite_simulator.engine import Account
from kite_simulator.errors import KiteError
from kite_simulator.gtt import Gtt
from kite_simulator.orders import SimOrder, SimTrade
from kite_simulator.portfolio import Holding, Position
from kite_simulator.sessions import User
from kite_simulator.universe import SimInstrument

if TYPE_CHECKING:
    from kite_simulator.app import Simulator

FORMAT = 1
# Fields holding objects, saved by reference.
REFERENCES = frozenset({"instrument", "app", "order", "user", "lhs", "rhs", "condition"})


class SimulatorStateError(Exception):
    """The saved state cannot be read back (damaged, or from an unknown format)."""


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _decode(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)][:1] or [Any]
    if hint is Decimal:
        return Decimal(value)
    if hint is datetime:
        return datetime.fromisoformat(value)
    if hint is date:
        return date.fromisoformat(value)
    if typing.get_origin(hint) in (list, tuple) and typing.get_args(hint):
        return [_decode(typing.get_args(hint)[0], v) for v in value]
    return value


def _fields(obj: Any) -> dict[str, Any]:
    """A dataclass's own values (objects it refers to are left for the caller)."""
    return {f.name: _encode(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.name not in REFERENCES}


def _build(cls: type[Any], saved: dict[str, Any], **references: Any) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    values = {name: _decode(hints[name], v) for name, v in saved.items() if name in names and name not in REFERENCES}
    return cls(**values, **references)


class _Instruments:
    """Instruments by token: today's universe first, then those saved with the state."""

    def __init__(self, sim: Simulator, saved: dict[str, Any]) -> None:
        self.universe = sim.universe.by_token
        self.saved = saved

    def __call__(self, token: int) -> SimInstrument:
        today = self.universe.get(token)
        saved = self.saved.get(str(token))
        if today is not None and (saved is None or saved["tradingsymbol"] == today.tradingsymbol):
            return today
        if saved is None:
            raise SimulatorStateError(f"instrument {token} is neither in today's universe nor in the saved state")
        instrument: SimInstrument = _build(SimInstrument, saved)
        return instrument


def dump(sim: Simulator) -> dict[str, Any]:
    """The state to save (plain JSON values only: safe to serialize on another thread)."""
    engine, instruments = sim.engine, {}

    def ref(instrument: SimInstrument) -> int:
        instruments[str(instrument.instrument_token)] = _fields(instrument)
        return instrument.instrument_token

    accounts = {}
    for user_id, account in engine.accounts.items():
        accounts[user_id] = {
            "user": {"user_id": user_id, "user_name": account.user.user_name, "email": account.user.email},
            "opening_balance": str(account.opening_balance),
            "commodity_balance": str(account.commodity_balance),
            "orders": [{**_fields(o), "instrument": ref(o.instrument)} for o in account.orders.values()],
            "trades": [{**_fields(t), "order": t.order.order_id} for t in account.trades],
            "positions": [{**_fields(p), "instrument": ref(p.instrument)} for p in account.positions.values()],
            "holdings": [{**_fields(h), "instrument": ref(h.instrument)} for h in account.holdings.values()],
        }
    gtts = [{**_fields(g), "instrument": ref(g.instrument), "app": g.app.api_key} for g in sim.gtts.triggers.values()]
    alerts = []
    for alert in sim.alerts.alerts.values():
        c = alert.condition
        condition = {**_fields(c), "lhs": ref(c.lhs), "rhs": ref(c.rhs) if c.rhs else None}
        alerts.append({**_fields(alert), "app": alert.app.api_key, "condition": condition})
    return {
        "format": FORMAT,
        "saved_at": sim.clock.now().isoformat(),
        "next_ids": {"order": engine.order_ids.next, "trade": engine.trade_ids.next, "gtt": sim.gtts.ids.next},
        "order_caps": engine.order_caps.snapshot() if engine.order_caps else {},
        "accounts": accounts,
        "gtts": gtts,
        "alerts": alerts,
        "instruments": instruments,
    }


def restore(sim: Simulator, state: dict[str, Any]) -> None:
    """Replace the simulator's trading state with a saved one (before it serves anything)."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SimulatorStateError(f"unknown format {state.get('format') if isinstance(state, dict) else state!r}")
    try:
        _restore(sim, state)
    except (KeyError, TypeError, ValueError, ArithmeticError, KiteError) as exc:
        raise SimulatorStateError(f"{type(exc).__name__}: {exc}") from None


def _restore(sim: Simulator, state: dict[str, Any]) -> None:
    engine = sim.engine
    instrument = _Instruments(sim, state["instruments"])
    for user_id, saved in state["accounts"].items():
        user = sim.sessions.users.get(user_id) or sim.sessions.add_user(User(**saved["user"]))
        account = Account(user, Decimal(saved["opening_balance"]), Decimal(saved["commodity_balance"]))
        for row in saved["orders"]:
            order: SimOrder = _build(SimOrder, row, instrument=instrument(row["instrument"]))
            account.orders[order.order_id] = order
        for row in saved["trades"]:
            account.trades.append(_build(SimTrade, row, order=account.orders[row["order"]]))
        for row in saved["positions"]:
            position: Position = _build(Position, row, instrument=instrument(row["instrument"]))
            account.positions[(position.instrument.instrument_token, position.product)] = position
        for row in saved["holdings"]:
            holding: Holding = _build(Holding, row, instrument=instrument(row["instrument"]))
            account.holdings[holding.instrument.instrument_token] = holding
        engine.accounts[user_id] = account
    sim.gtts.triggers.clear()
    for row in state["gtts"]:
        gtt: Gtt = _build(Gtt, row, instrument=instrument(row["instrument"]), app=sim.sessions.app_of(row["app"]))
        sim.gtts.triggers[gtt.gtt_id] = gtt
    sim.alerts.alerts.clear()
    for row in state.get("alerts", []):  # (absent from states saved before alerts existed)
        saved = row["condition"]
        rhs = instrument(saved["rhs"]) if saved["rhs"] is not None else None
        condition: Condition = _build(Condition, saved, lhs=instrument(saved["lhs"]), rhs=rhs)
        alert: Alert = _build(Alert, row, app=sim.sessions.app_of(row["app"]), condition=condition)
        sim.alerts.alerts[alert.uuid] = alert
    if engine.order_caps is not None:
        engine.order_caps.restore(state["order_caps"])
    engine.order_ids.restore(int(state["next_ids"]["order"]))
    engine.trade_ids.restore(int(state["next_ids"]["trade"]))
    sim.gtts.ids.restore(int(state["next_ids"]["gtt"]))
