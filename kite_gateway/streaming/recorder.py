"""Records an account's upstream ticker frames to a file (format: kite_wire.recording),
buffered in memory and compressed and written off the event loop about once a second."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import structlog

from kite_gateway.storage import FILE_MODE, private_directory
from kite_wire import encode_frame, encode_header

log = structlog.get_logger(__name__)

FLUSH_SECONDS = 1.0
FLUSH_BYTES = 4 << 20  # flush early when a burst buffers this much


class FrameRecorder:
    """Appends frames to one recording file."""

    def __init__(self, path: Path, file: BinaryIO) -> None:
        self.path = path
        self.frames = 0
        self._file = file
        self._buffer = bytearray()
        self._wake = asyncio.Event()  # a burst filled the buffer, or the recorder is closing
        self._closing = False
        self._flusher = asyncio.create_task(self._flush_periodically())  # the file's only writer

    @classmethod
    async def create(cls, directory: Path, account_id: str) -> FrameRecorder:
        """A new recording `<account>-<UTC start>.kgrec` in `directory`."""
        started = datetime.now(UTC)
        path = directory / f"{account_id}-{started:%Y%m%dT%H%M%S%fZ}.kgrec"
        header = encode_header({"account_id": account_id, "started": started.isoformat()})

        def open_file() -> BinaryIO:
            private_directory(directory)  # recordings carry the account's order updates too
            file = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "wb")
            file.write(gzip.compress(header))
            file.flush()
            return file

        recorder = cls(path, await asyncio.to_thread(open_file))
        log.info("ticker.recording", account_id=account_id, path=str(path))
        return recorder

    def record(self, connection: int, payload: bytes | str) -> None:
        """Buffer one frame, stamped with the time it was received."""
        self._buffer += encode_frame(time.time_ns() // 1000, connection, payload)
        self.frames += 1
        if len(self._buffer) >= FLUSH_BYTES:
            self._wake.set()

    def _write(self, chunk: bytes) -> None:
        self._file.write(gzip.compress(chunk, compresslevel=6))
        self._file.flush()

    async def _flush_periodically(self) -> None:
        """Every FLUSH_SECONDS (sooner after a burst), and once more when closing."""
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FLUSH_SECONDS):
                    await self._wake.wait()
            self._wake.clear()
            if not self._buffer:
                continue
            chunk = bytes(self._buffer)
            self._buffer.clear()
            try:
                await asyncio.to_thread(self._write, chunk)
            except OSError as exc:
                log.error("ticker.recording_failed", path=str(self.path), error=str(exc))

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        await self._flusher
        await asyncio.to_thread(self._file.close)
        log.info("ticker.recording_closed", path=str(self.path), frames=self.frames)
