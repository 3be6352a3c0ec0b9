"""Camera images as the model accepts them: HxWx3 uint8 numpy arrays or PIL images, else a typed error."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image


class InvalidImageError(ValueError):
    """An input that is not an HxWx3 uint8 image (numpy) or a non-empty PIL image."""


def to_pil(image: Any) -> Image.Image:
    """Validate an image and return it as an RGB PIL image (what every transformers processor takes)."""
    if isinstance(image, Image.Image):
        if image.width == 0 or image.height == 0:
            raise InvalidImageError(f"image is empty ({image.width}x{image.height})")
        return image if image.mode == "RGB" else image.convert("RGB")
    if not isinstance(image, np.ndarray):
        raise InvalidImageError(f"image must be an HxWx3 uint8 numpy array or a PIL image, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InvalidImageError(f"image must be uint8 (0..255), got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise InvalidImageError(f"image must be HxWx3 (RGB), got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise InvalidImageError(f"image is empty (shape {image.shape})")
    return Image.fromarray(np.ascontiguousarray(image))
