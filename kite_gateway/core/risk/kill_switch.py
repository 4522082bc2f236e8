"""Kill switches: per account and gateway-wide (account_id ""), stored so they survive restarts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from kite_gateway.core.risk.refusals import Refused, tell_refused
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.storage import Database, now_text

GATEWAY = ""


@dataclass(frozen=True)
class SwitchState:
    account_id: str
    engaged: bool = False
    reason: str = ""
    principal: str = ""
    updated_at: datetime | None = None


class KillSwitches:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.states: dict[str, SwitchState] = {}
        self.listeners: list[Callable[[], None]] = []  # told of every change (queued orders look again)
        self.refusal_listeners: list[Refused] = []  # told of every order refused by a switch (alerts)
        # Switches being stored now, and those set since the last reload began: a reload (another
        # replica's changes) must not undo what this process decided while it read.
        self._writing: dict[str, int] = {}
        self._touched: set[str] = set()

    async def load(self) -> None:
        self._touched = set()
        rows = await self.database.fetch_all(
            "SELECT account_id, engaged, reason, principal, updated_at FROM kill_switches"
        )
        loaded = {
            row[0]: SwitchState(row[0], bool(row[1]), row[2], row[3], datetime.fromisoformat(row[4])) for row in rows
        }
        for account_id in self._writing.keys() | self._touched:
            if account_id in self.states:
                loaded[account_id] = self.states[account_id]
        self.states = loaded

    def state(self, account_id: str) -> SwitchState:
        return self.states.get(account_id, SwitchState(account_id))

    async def set(self, account_id: str, engaged: bool, reason: str, principal: str) -> SwitchState:
        """Store a switch. Engaging takes effect in this process at once, before the write, so
        nothing is sent while it is being stored."""
        updated = now_text()
        self._writing[account_id] = self._writing.get(account_id, 0) + 1
        self._touched.add(account_id)
        try:
            return await self._set(account_id, engaged, reason, principal, updated)
        finally:
            self._writing[account_id] -= 1
            if not self._writing[account_id]:
                del self._writing[account_id]

    async def _set(self, account_id: str, engaged: bool, reason: str, principal: str, updated: str) -> SwitchState:
        if engaged:
            self.states[account_id] = SwitchState(account_id, True, reason, principal, datetime.fromisoformat(updated))
            for listener in self.listeners:
                listener()
        await self.database.execute(
            "INSERT INTO kill_switches (account_id, engaged, reason, principal, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (account_id) DO UPDATE SET engaged = excluded.engaged, reason = excluded.reason, "
            "principal = excluded.principal, updated_at = excluded.updated_at",
            (account_id, int(engaged), reason, principal, updated),
        )
        state = self.states[account_id] = SwitchState(
            account_id, engaged, reason, principal, datetime.fromisoformat(updated)
        )
        for listener in self.listeners:
            listener()
        return state

    def check(self, account_id: str) -> None:
        """FAILED_PRECONDITION (KILL_SWITCH_ACTIVE) when the account's or the gateway's switch is engaged
        (and `refusal_listeners` are told: every call is an order, GTT or alert being refused)."""
        for state in (self.state(GATEWAY), self.state(account_id)):
            if state.engaged:
                scope = (
                    "the gateway-wide kill switch"
                    if state.account_id == GATEWAY
                    else f"the kill switch of {account_id}"
                )
                refusal = GatewayError(
                    Status.FAILED_PRECONDITION,
                    Reason.KILL_SWITCH_ACTIVE,
                    f"{scope} is engaged ({state.reason!r}, by {state.principal}): new orders are refused until an "
                    "admin releases it with OrderService.SetKillSwitch",
                    {"account_id": account_id, "kill_switch": state.account_id or "gateway", "reason": state.reason},
                    precondition_violations=[
                        ("KILL_SWITCH", f"kill-switch:{state.account_id or 'gateway'}", state.reason)
                    ],
                )
                tell_refused(self.refusal_listeners, account_id, refusal.message)
                raise refusal
