"""The annotated debug image for rqt_image_view and episode GIFs.

It shows the instruction, the plan (its points drawn), the state and the action arrows.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from rt2_ros.plan_grammar import LOC_BINS, OFFSET_WORDS, POINT  # offsets are not places: not drawn

MIN_WIDTH = 320  # small camera frames are scaled up so the text stays readable
GRIPPER, OBJECT, GOAL, BELOW = (255, 255, 255), (255, 60, 60), (60, 255, 60), (150, 150, 150)


def annotate(
    frame: np.ndarray,
    instruction: str,
    delta: np.ndarray | None = None,
    gripper: float | None = None,
    plan: str = "",
    state: str = "",
) -> np.ndarray:
    """Return a copy of the frame with the episode's text and a top-down arrow of the commanded motion.

    The inset shows dx/dy as an arrow seen from above (x forward = up), dz as a vertical bar and
    the gripper as a bar that fills when closing; arrow lengths are relative to the largest component.
    """
    image = Image.fromarray(frame)
    if image.width < MIN_WIDTH:
        scale = MIN_WIDTH / image.width
        image = image.resize((MIN_WIDTH, round(image.height * scale)), Image.NEAREST)
    draw = ImageDraw.Draw(image)
    width, height = image.size
    draw.rectangle((0, 0, width, 14), fill=(0, 0, 0))
    draw.text((3, 2), instruction[:60], fill=(255, 255, 255))
    if state:
        draw.text((width - 6 * len(state) - 4, 2), state, fill=(255, 220, 0))
    if plan:
        points = POINT.findall(plan)
        for label, y, x in points:
            if label in OFFSET_WORDS:
                continue
            colour = {"gripper": GRIPPER, "to": GOAL, "below": BELOW}.get(label, OBJECT)
            _draw_point(draw, int(x) / LOC_BINS * width, int(y) / LOC_BINS * height, colour)
        # Points are drawn where they are; the text keeps their labels (and any other plan words).
        text = " | ".join(label for label, _, _ in points) if points else plan
        draw.rectangle((0, height - 14, width, height), fill=(0, 0, 0))
        draw.text((3, height - 12), text[:60], fill=(160, 255, 160))
    if delta is not None:
        _draw_motion_inset(draw, np.asarray(delta, dtype=float), gripper, origin=(width - 48, 48))
    return np.asarray(image)


def _draw_point(draw: ImageDraw.ImageDraw, x: float, y: float, colour: tuple[int, int, int]) -> None:
    draw.line((x - 6, y, x + 6, y), fill=colour, width=2)
    draw.line((x, y - 6, x, y + 6), fill=colour, width=2)
    draw.ellipse((x - 9, y - 9, x + 9, y + 9), outline=colour)


def _draw_motion_inset(draw: ImageDraw.ImageDraw, delta: np.ndarray, gripper: float | None, origin) -> None:
    cx, cy = origin
    draw.ellipse((cx - 28, cy - 28, cx + 28, cy + 28), outline=(255, 255, 255))
    largest = max(float(np.max(np.abs(delta[:3]))), 1e-9)
    dx, dy, dz = delta[:3] / largest * 24
    draw.line((cx, cy, cx - dy, cy - dx), fill=(255, 60, 60), width=3)  # base frame seen from above
    draw.line((cx + 36, cy, cx + 36, cy - dz), fill=(60, 160, 255), width=4)
    if gripper is not None:
        draw.rectangle((cx - 28, cy + 34, cx + 28, cy + 40), outline=(255, 255, 255))
        draw.rectangle((cx - 28, cy + 34, cx - 28 + 56 * float(np.clip(gripper, 0, 1)), cy + 40), fill=(255, 255, 255))
