"""Camera payloads decode to the same RGB picture whatever the encoding, and bad ones say why."""

from __future__ import annotations

import numpy as np
import pytest

from rt2_ros.camera_frames import (
    RAW_ENCODINGS,
    BadFrameError,
    compressed_from_rgb,
    raw_from_rgb,
    rgb_from_compressed,
    rgb_from_raw,
)

RNG = np.random.default_rng(0)
PICTURE = RNG.integers(0, 256, size=(12, 17, 3), dtype=np.uint8)


@pytest.mark.parametrize("encoding", [e for e in RAW_ENCODINGS if e != "mono8"])
def test_colour_encodings_round_trip_exactly(encoding):
    height, width, step, data = raw_from_rgb(PICTURE, encoding)
    assert np.array_equal(rgb_from_raw(encoding, height, width, step, data), PICTURE)


def test_mono8_becomes_grey_rgb():
    height, width, step, data = raw_from_rgb(PICTURE, "mono8")
    decoded = rgb_from_raw("mono8", height, width, step, data)
    assert decoded.shape == PICTURE.shape
    assert np.array_equal(decoded[..., 0], decoded[..., 2])


def test_row_padding_in_step_is_skipped():
    height, width, step, data = raw_from_rgb(PICTURE, "rgb8")
    padded = b"".join(data[r * step : (r + 1) * step] + b"\x00" * 5 for r in range(height))
    assert np.array_equal(rgb_from_raw("rgb8", height, width, step + 5, padded), PICTURE)


def test_png_round_trips_exactly_and_jpeg_closely():
    assert np.array_equal(rgb_from_compressed("png", compressed_from_rgb(PICTURE, "png")), PICTURE)
    smooth = np.tile(np.linspace(0, 255, 32, dtype=np.uint8)[None, :, None], (16, 1, 3))
    decoded = rgb_from_compressed("rgb8; jpeg compressed bgr8", compressed_from_rgb(smooth, "jpeg"))
    assert np.abs(decoded.astype(int) - smooth).mean() < 3


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (("yuv422", 2, 2, 4, bytes(8)), "unsupported encoding"),
        (("rgb8", 0, 4, 12, b""), "empty image"),
        (("rgb8", 2, 2, 5, bytes(10)), "shorter than a row"),
        (("rgb8", 2, 2, 6, bytes(11)), r"expected step\*height"),
        (("rgb8", 100000, 100000, 300000, b""), "too large"),
    ],
)
def test_malformed_raw_frames_are_refused_with_a_reason(fields, reason):
    with pytest.raises(BadFrameError, match=reason):
        rgb_from_raw(*fields)


@pytest.mark.parametrize(
    ("format_", "data", "reason"),
    [
        ("png", b"", "empty"),
        ("tiff", b"II*\x00", "unsupported compressed format"),
        ("jpeg", b"\xff\xd8garbage", "cannot decode"),
    ],
)
def test_malformed_compressed_frames_are_refused_with_a_reason(format_, data, reason):
    with pytest.raises(BadFrameError, match=reason):
        rgb_from_compressed(format_, data)
