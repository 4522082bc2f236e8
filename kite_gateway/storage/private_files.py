"""The gateway's state is readable by the gateway alone: its directories are 0700 and its files
(the database and SQLite's -wal/-shm, the sealing key, recordings, the paper market) 0600.
Existing ones with looser modes are tightened at start. These are blocking calls: run them off
the event loop (asyncio.to_thread) once the loop runs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def tighten(path: Path, mode: int) -> None:
    """Drop every permission bit of `path` beyond `mode` (a file that does not exist is left alone).
    A path the gateway does not own (a mounted volume's root) cannot be changed: that is logged."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if current & ~mode == 0:
        return
    try:
        os.chmod(path, current & mode)
    except PermissionError:
        log.warning("storage.loose_permissions", path=str(path), mode=oct(current), wanted=oct(mode))


def private_directory(path: Path) -> None:
    """Create `path` (and its parents) if needed; make it owner-only."""
    path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    tighten(path, DIRECTORY_MODE)


def private_file(path: Path) -> None:
    """Create `path` empty if it does not exist, owner-only either way."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    tighten(path, FILE_MODE)


def sqlite_files(database: Path) -> list[Path]:
    """A SQLite database and the files it keeps beside it in WAL mode."""
    return [database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")]


def tighten_database(database: Path) -> None:
    for path in sqlite_files(database):
        tighten(path, FILE_MODE)
