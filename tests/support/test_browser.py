"""The browser helper itself: its PNG decoder undoes every filter, and a missing Chromium skips a
test on a laptop but fails it under CI."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from tests.support import browser


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def encode_png(pixels: np.ndarray, filters: list[int]) -> bytes:
    """A PNG of these RGB(A) pixels, row y filtered with filters[y] (the spec's forward filters)."""
    height, width, channels = pixels.shape
    bpp, rows, raw = channels, pixels.reshape(height, -1).astype(int), bytearray()
    for y in range(height):
        kind, line = filters[y], rows[y]
        above = rows[y - 1] if y else np.zeros_like(line)
        raw.append(kind)
        for i, value in enumerate(line):
            a = int(line[i - bpp]) if i >= bpp else 0
            b, c = int(above[i]), int(above[i - bpp]) if i >= bpp else 0
            predictor = [0, a, b, (a + b) // 2, _paeth(a, b, c)][kind]
            raw.append((int(value) - predictor) % 256)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2 if channels == 3 else 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("channels", [3, 4])
def test_the_png_decoder_undoes_each_of_the_five_filters(channels: int) -> None:
    pixels = np.random.default_rng(16).integers(0, 256, size=(10, 7, channels), dtype=np.uint8)
    decoded = browser.decode_png(encode_png(pixels, [0, 1, 2, 3, 4, 4, 3, 2, 1, 0]))
    assert decoded.shape == (10, 7, 3) and decoded.dtype == np.uint8
    assert np.array_equal(decoded, pixels[:, :, :3])


def test_the_png_decoder_refuses_what_is_not_a_png() -> None:
    with pytest.raises(ValueError, match="not a PNG"):
        browser.decode_png(b"GIF89a")


def test_without_chromium_a_test_skips_on_a_laptop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        browser.chromium()


def test_without_chromium_a_test_fails_under_ci_rather_than_skipping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        browser.chromium()
