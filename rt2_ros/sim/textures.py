"""Pictures drawn in code for the scene: symbol tiles (digits 0-9 and icons) and table tops.

They are made here rather than shipped as files so the repository holds no binary assets and every
texture is the same on every machine (Pillow's bundled font, fixed random seeds).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

DIGITS = tuple(str(d) for d in range(10))
ICONS = ("star", "heart", "moon", "cross")
TABLE_TEXTURES = ("wood", "slate", "checker", "linen")
TILE_PIXELS = 128
TABLE_PIXELS = 256


def _icon(draw: ImageDraw.ImageDraw, icon: str, size: int, colour: tuple[int, int, int]) -> None:
    c, r = size / 2, size * 0.36
    if icon == "star":
        points = [
            (
                c + (r if k % 2 == 0 else r * 0.42) * math.sin(k * math.pi / 5),
                c - (r if k % 2 == 0 else r * 0.42) * math.cos(k * math.pi / 5),
            )
            for k in range(10)
        ]
        draw.polygon(points, fill=colour)
    elif icon == "heart":
        lobe = r * 0.55
        draw.ellipse([c - 2 * lobe, c - r * 0.75, c, c - r * 0.75 + 2 * lobe], fill=colour)
        draw.ellipse([c, c - r * 0.75, c + 2 * lobe, c - r * 0.75 + 2 * lobe], fill=colour)
        draw.polygon([(c - 1.95 * lobe, c - 0.1 * r), (c + 1.95 * lobe, c - 0.1 * r), (c, c + r)], fill=colour)
    elif icon == "moon":
        draw.ellipse([c - r, c - r, c + r, c + r], fill=colour)
        draw.ellipse([c - r * 0.45, c - r * 1.05, c + r * 1.35, c + r * 0.75], fill=(255, 255, 255))
    elif icon == "cross":
        w = r * 0.38
        draw.rectangle([c - w, c - r, c + w, c + r], fill=colour)
        draw.rectangle([c - r, c - w, c + r, c + w], fill=colour)
    else:
        raise ValueError(f"unknown icon {icon!r}; icons are {', '.join(ICONS)}")


def tile_texture(symbol: str, size: int = TILE_PIXELS) -> np.ndarray:
    """A white tile with a dark border and a digit or an icon in the middle, HxWx3 uint8."""
    image = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    if symbol in DIGITS:
        font = ImageFont.load_default(size=int(size * 0.7))
        draw.text((size / 2, size / 2), symbol, fill=(20, 20, 20), font=font, anchor="mm")
    else:
        _icon(draw, symbol, size, (20, 20, 20))
    draw.rectangle([0, 0, size - 1, size - 1], outline=(30, 30, 30), width=max(2, size // 24))
    return np.asarray(image, dtype=np.uint8)


def table_texture(name: str, size: int = TABLE_PIXELS) -> np.ndarray:
    """A table-top pattern, HxWx3 uint8; deterministic for a given name."""
    rng = np.random.default_rng(TABLE_TEXTURES.index(name) if name in TABLE_TEXTURES else -1)
    v, u = np.mgrid[0:size, 0:size] / size
    noise = rng.normal(0.0, 1.0, (size, size))
    if name == "wood":
        grain = 0.5 + 0.5 * np.sin(2 * math.pi * (14 * v + 0.8 * np.sin(3 * u) + 0.03 * noise))
        base = np.array([150, 105, 65]) * (0.82 + 0.18 * grain)[..., None]
    elif name == "slate":
        base = np.array([92, 98, 104]) * (1 + 0.05 * noise)[..., None]
    elif name == "checker":
        squares = ((u * 8).astype(int) + (v * 8).astype(int)) % 2
        base = np.where(squares[..., None] == 1, [200, 200, 190], [165, 170, 160]).astype(float)
    elif name == "linen":
        weave = 0.5 + 0.25 * (np.sin(2 * math.pi * 48 * u) + np.sin(2 * math.pi * 48 * v))
        base = np.array([214, 204, 180]) * (0.9 + 0.1 * weave + 0.02 * noise)[..., None]
    else:
        raise ValueError(f"unknown table texture {name!r}; choose one of {', '.join(TABLE_TEXTURES)}")
    return np.clip(base, 0, 255).astype(np.uint8)
