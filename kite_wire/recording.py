"""Ticker recordings: an account's upstream frames exactly as received, with their receive times.

A recording is a sequence of gzip members (each flush of the recorder is one member, so a file cut
short by a crash is readable up to its last whole member). Uncompressed, it is MAGIC, one JSON
header line, then records: RECORD (receive time in microseconds since the epoch, connection index,
kind, payload length) followed by the payload (a binary ticker message, or a text message's UTF-8).
"""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAGIC = b"KGTICKREC1\n"
RECORD = struct.Struct("<qBBI")
BINARY, TEXT = 0, 1


@dataclass(frozen=True, slots=True)
class Frame:
    """One upstream frame."""

    received_us: int
    connection: int
    payload: bytes | str


def encode_header(header: dict[str, Any]) -> bytes:
    return MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n"


def encode_frame(received_us: int, connection: int, payload: bytes | str) -> bytes:
    if isinstance(payload, str):
        data = payload.encode()
        return RECORD.pack(received_us, connection, TEXT, len(data)) + data
    return RECORD.pack(received_us, connection, BINARY, len(payload)) + payload


class RecordingError(ValueError):
    """The file is not a ticker recording (or is damaged)."""


class Recording:
    """A recording on disk, read front to back as many times as needed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with gzip.open(path, "rb") as stream:
            self.header = self._read_header(stream)

    def _read_header(self, stream: gzip.GzipFile) -> dict[str, Any]:
        if stream.read(len(MAGIC)) != MAGIC:
            raise RecordingError(f"{self.path} is not a kite-gateway ticker recording")
        header: dict[str, Any] = json.loads(stream.readline())
        return header

    def frames(self) -> Iterator[Frame]:
        """Every frame in order; a truncated last record ends the iteration."""
        with gzip.open(self.path, "rb") as stream:
            self._read_header(stream)
            try:
                while len(head := stream.read(RECORD.size)) == RECORD.size:
                    received_us, connection, kind, length = RECORD.unpack(head)
                    data = stream.read(length)
                    if len(data) < length:
                        return
                    yield Frame(received_us, connection, data.decode() if kind == TEXT else data)
            except EOFError:  # a gzip member cut short by a crash
                return
