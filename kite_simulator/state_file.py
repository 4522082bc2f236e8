"""The simulator's state on disk (paper mode): one JSON file, replaced atomically (written
beside it, flushed to disk, renamed over it) and readable by its owner alone.

A request that changes state (placing, modifying or cancelling an order, a GTT, a position
conversion) is answered only after a save that includes it has reached the disk, so nothing
the simulator told a client is lost if it stops; saves triggered together are one write.
Changes the market makes on its own (fills, expiries, triggered GTTs) are saved within
`interval` seconds, and on stop. The snapshot is taken on the event loop; the file is written on
a thread."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kite_simulator.snapshot import SimulatorStateError

log = logging.getLogger(__name__)
FILE_MODE = 0o600  # the paper market's orders and positions are the owner's alone


def _owner_only(path: Path) -> None:
    """Drop the group and other bits of an existing state file (written by an older version)."""
    if stat.S_IMODE(path.stat().st_mode) & ~FILE_MODE:
        os.chmod(path, FILE_MODE)


def read_state(path: Path) -> dict[str, Any] | None:
    """The saved state, or None when there is none yet (blocking: run it on a thread)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SimulatorStateError(f"cannot read {path}: {exc.strerror}") from None
    _owner_only(path)
    try:
        state: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SimulatorStateError(f"{path} is not valid JSON ({exc})") from None
    return state


def set_aside_state(path: Path) -> Path | None:
    """Start afresh: move the saved state (if any) to `<name>.before-reset` beside it, replacing an
    older one there, and return where it went (blocking: run it on a thread)."""
    aside = path.with_name(path.name + ".before-reset")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SimulatorStateError(f"cannot move {path} aside to start afresh: {exc.strerror}") from None
    return aside


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Replace the file with `state`, atomically (blocking: run it on a thread)."""
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(state, handle, separators=(",", ":"))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class StateSaver:
    """Saves the snapshot `take()` returns to `path`: at once for `commit`, soon after `mark`."""

    def __init__(self, path: Path, take: Callable[[], dict[str, Any]], interval: float = 1.0) -> None:
        self.path = path
        self.take = take
        self.interval = interval
        self.saves = 0
        self._dirty = False
        self._wake = asyncio.Event()
        self._saved = asyncio.Condition()
        self._generation = 0  # saves started; a commit waits for one started after it asked
        self._done = 0  # saves finished
        self._task: asyncio.Task[None] | None = None
        self._urgent = False
        self._writing = threading.Lock()  # one write at a time, even one a cancelled save left running

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def mark(self) -> None:
        """Something changed: save it within `interval` seconds."""
        self._dirty = True
        self._wake.set()

    async def commit(self) -> None:
        """Return once a save that includes every change made so far is on disk."""
        wanted = self._generation + 1
        self._dirty = self._urgent = True
        self._wake.set()
        async with self._saved:
            await self._saved.wait_for(lambda: self._done >= wanted or self._task is None or self._task.done())
        if self._task is None or self._task.done():
            await self._save()  # not running (stopped): save here

    async def _save(self) -> None:
        self._generation += 1
        self._dirty = self._urgent = False
        state = self.take()
        try:
            await asyncio.to_thread(self._write, state)
            self.saves += 1
        except OSError:
            log.exception("simulator state could not be saved to %s", self.path)
        finally:
            self._done = self._generation
            async with self._saved:
                self._saved.notify_all()

    def _write(self, state: dict[str, Any]) -> None:
        with self._writing:
            write_state(self.path, state)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._urgent:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.interval):
                        while not self._urgent:
                            await self._wake.wait()
                            self._wake.clear()
            if self._dirty:
                await self._save()

    async def stop(self) -> None:
        """Save what is unsaved, then stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._save()
