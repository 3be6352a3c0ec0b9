"""Camera message payloads (sensor_msgs Image / CompressedImage fields) to RGB arrays, or a clear reason why not.

ROS-free so that the node, the rosbag tools and the tests share one decoder. Hand-written because
cv_bridge is not installable without a ROS install, and what it does for these encodings is a reshape.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image as PILImage

# encoding -> (channels, how to get RGB from the channel-last array)
_RAW_ENCODINGS = {
    "rgb8": (3, lambda a: a),
    "bgr8": (3, lambda a: a[..., ::-1]),
    "rgba8": (4, lambda a: a[..., :3]),
    "bgra8": (4, lambda a: a[..., 2::-1]),
    "mono8": (1, lambda a: np.repeat(a, 3, axis=2)),
}
RAW_ENCODINGS = tuple(_RAW_ENCODINGS)
MAX_PIXELS = 4096 * 4096  # larger frames are certainly not a camera we serve; refuse before allocating


class BadFrameError(ValueError):
    """A camera message that cannot be turned into an image; the message says why."""


def rgb_from_raw(encoding: str, height: int, width: int, step: int, data: bytes | memoryview) -> np.ndarray:
    """sensor_msgs/Image fields -> HxWx3 uint8 RGB (a copy, safe to keep)."""
    if encoding not in _RAW_ENCODINGS:
        raise BadFrameError(f"unsupported encoding {encoding!r}; supported: {', '.join(RAW_ENCODINGS)}")
    if height <= 0 or width <= 0:
        raise BadFrameError(f"empty image ({width}x{height})")
    if height * width > MAX_PIXELS:
        raise BadFrameError(f"image too large ({width}x{height})")
    channels, to_rgb = _RAW_ENCODINGS[encoding]
    row_bytes = width * channels
    if step < row_bytes:
        raise BadFrameError(f"step {step} is shorter than a row of {width} {encoding} pixels ({row_bytes} bytes)")
    buffer = np.frombuffer(data, dtype=np.uint8)
    if buffer.size != step * height:
        raise BadFrameError(f"data has {buffer.size} bytes, expected step*height = {step}*{height} = {step * height}")
    pixels = buffer.reshape(height, step)[:, :row_bytes].reshape(height, width, channels)
    return np.ascontiguousarray(to_rgb(pixels))


def rgb_from_compressed(format_: str, data: bytes | memoryview) -> np.ndarray:
    """sensor_msgs/CompressedImage fields (jpeg or png) -> HxWx3 uint8 RGB."""
    kind = format_.lower()
    if not any(name in kind for name in ("jpeg", "jpg", "png")):
        raise BadFrameError(f"unsupported compressed format {format_!r}; supported: jpeg, png")
    if len(data) == 0:
        raise BadFrameError("empty compressed image")
    try:
        with PILImage.open(io.BytesIO(bytes(data))) as image:
            if image.width * image.height > MAX_PIXELS:
                raise BadFrameError(f"image too large ({image.width}x{image.height})")
            return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    except BadFrameError:
        raise
    except Exception as error:  # PIL raises many types for corrupt data; all mean the same to the caller
        raise BadFrameError(f"cannot decode {format_} image ({type(error).__name__})") from None


def raw_from_rgb(image: np.ndarray, encoding: str = "rgb8") -> tuple[int, int, int, bytes]:
    """HxWx3 uint8 RGB -> (height, width, step, data) for a sensor_msgs/Image of the given encoding."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise BadFrameError("expected an HxWx3 uint8 RGB array")
    converted = {
        "rgb8": image,
        "bgr8": image[..., ::-1],
        "rgba8": np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)], axis=2),
        "bgra8": np.concatenate([image[..., ::-1], np.full(image.shape[:2] + (1,), 255, np.uint8)], axis=2),
        "mono8": image.mean(axis=2, keepdims=True).astype(np.uint8),
    }.get(encoding)
    if converted is None:
        raise BadFrameError(f"unsupported encoding {encoding!r}; supported: {', '.join(RAW_ENCODINGS)}")
    converted = np.ascontiguousarray(converted)
    height, width, channels = converted.shape
    return height, width, width * channels, converted.tobytes()


def compressed_from_rgb(image: np.ndarray, format_: str = "jpeg") -> bytes:
    """HxWx3 uint8 RGB -> jpeg or png bytes for a sensor_msgs/CompressedImage."""
    out = io.BytesIO()
    PILImage.fromarray(image).save(out, format="JPEG" if format_.lower() in ("jpeg", "jpg") else "PNG")
    return out.getvalue()
