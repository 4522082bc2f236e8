"""Headless Chromium for tests: render an HTML page and read back its pixels.

`screenshot(html, tmp_path)` writes the page to a file, has Chromium (the Debian package, installed
by `make test` when missing) take a screenshot of a 1200x1600 window, and returns the pixels as a
numpy array (height, width, 3) of uint8 RGB. The PNG is decoded here with zlib and numpy (no
imaging library). Chromium's --screenshot waits for the load event, so there is nothing to sleep
for; the page gets a fresh profile directory and no network.

Without Chromium a test skips, except under CI (CI=true), where a missing browser is an error:
the browser tests must run there."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

WINDOW = (1200, 1600)  # width, height
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # the tests run as root (CI); the sandbox refuses root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)
TIMEOUT_SECONDS = 60


def chromium() -> str:
    """The Chromium binary; skips the test without one (fails under CI=true)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is not None:
        return found
    reason = "Chromium is not installed (make test installs the Debian package: apt-get install chromium)"
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"{reason}; CI=true, so the browser tests may not skip", pytrace=False)
    pytest.skip(reason)


def screenshot(html: str, tmp_path: Path) -> np.ndarray:
    """The page as Chromium draws it in a WINDOW-sized viewport: uint8 RGB of shape (height, width, 3)."""
    binary = chromium()
    page = tmp_path / "page.html"
    page.write_text(html, encoding="utf-8")
    picture = tmp_path / "screenshot.png"
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    result = subprocess.run(
        [
            binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={picture}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0 or not picture.exists():
        raise AssertionError(f"chromium exited {result.returncode} without a screenshot:\n{result.stderr[-4000:]}")
    return decode_png(picture.read_bytes())


def decode_png(data: bytes) -> np.ndarray:
    """An 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) as uint8 RGB (height, width, 3)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    position, compressed = 8, bytearray()
    width = height = channels = 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}")
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            compressed += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(bytes(compressed))
    stride = width * channels
    rows = np.empty((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        start = y * (stride + 1)
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=start + 1)
        previous = _unfilter(raw[start], line, previous, channels)
        rows[y] = previous
    return rows.reshape(height, width, channels)[:, :, :3]


def _unfilter(kind: int, line: np.ndarray, above: np.ndarray, bpp: int) -> np.ndarray:
    """One scanline's filter undone (PNG spec 9.2); None, Sub and Up vectorised, Average and Paeth by byte."""
    if kind == 0:
        return line.copy()
    if kind == 1:
        summed = np.cumsum(line.reshape(-1, bpp), axis=0, dtype=np.uint64) % 256
        return np.asarray(summed, dtype=np.uint8).reshape(-1)
    if kind == 2:
        added: np.ndarray = line + above  # uint8 arithmetic wraps, as the spec's mod 256
        return added
    out = bytearray(line.tobytes())
    up = above.tobytes()
    if kind == 3:
        for i in range(len(out)):
            left = out[i - bpp] if i >= bpp else 0
            out[i] = (out[i] + ((left + up[i]) >> 1)) & 0xFF
    elif kind == 4:
        for i in range(len(out)):
            if i >= bpp:
                a, c = out[i - bpp], up[i - bpp]
            else:
                a = c = 0
            b = up[i]
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - c - c)
            out[i] = (out[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    else:
        raise ValueError(f"unknown PNG filter {kind}")
    return np.frombuffer(bytes(out), dtype=np.uint8)
