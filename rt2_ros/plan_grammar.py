"""How a point plan is written: `<label><locY><locX>` points and the offset words between them.

Apart from rt2_ros.data.plan_points (which loads pyarrow and the sim) so that the debug overlay,
drawn in the node, and the policy's plan decoding read plans by the same rules without those imports.
"""

from __future__ import annotations

import re

import numpy as np

LOC_BINS = 1024  # PaliGemma's <loc0000>..<loc1023> per image axis
POINT = re.compile(r"\s*([^<]*?)\s*<loc(\d{4})><loc(\d{4})>")
# word: (point, minus point), per offset style (rt2 train --plan-offsets STYLE). "gripper": the
# object from the gripper's image point. "below": the object from the point straight below the
# tool at the object's height, and that point from the gripper (the tool's height, in pixels).
# "below-goal": as "below", but while the object is carried the below point is at the goal's height
# (rt2_ros.data.plan_points.below_text) and the goal is measured from it, so that both drop (the
# height above the goal) and move are zero exactly when the carried object is on the goal.
OFFSET_STYLES = {
    "gripper": {"reach": ("object", "gripper"), "move": ("goal", "object")},
    "below": {"reach": ("object", "below"), "drop": ("below", "gripper"), "move": ("goal", "object")},
    "below-goal": {"reach": ("object", "below"), "drop": ("below", "gripper"), "move": ("goal", "below")},
}
# The styles whose plans write a below point, and the plans file's column it is read from (rt2 plans).
BELOW_COLUMNS = {"below": "below", "below-goal": "below_goal"}
BELOW_STYLES = tuple(BELOW_COLUMNS)
OFFSET_WORDS = tuple(sorted({word for style in OFFSET_STYLES.values() for word in style}))
# The pointing question whose answer anchors a plan's object point (VLAConfig.plan_locate); the
# first of the sim's pointing phrasings (rt2_ros.data.pointing), so the model was trained on it.
LOCATE_QUESTION = "point to the {name}."


def pixel_to_loc(pixel: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pixel (column, row) -> (row, column) loc bins, as PaliGemma writes a point: y first, clipped to the image."""
    column, row = float(pixel[0]), float(pixel[1])
    y = int(np.clip(row / height * LOC_BINS, 0, LOC_BINS - 1))
    x = int(np.clip(column / width * LOC_BINS, 0, LOC_BINS - 1))
    return np.array([y, x])


def loc_to_pixel(point: np.ndarray, height: int, width: int) -> np.ndarray:
    """(row, column) loc bins -> the (column, row) pixel at the centre of that bin: pixel_to_loc's inverse."""
    return np.array([(point[1] + 0.5) * width / LOC_BINS, (point[0] + 0.5) * height / LOC_BINS])


def point_key(index: int, label: str) -> str:
    """A plan point's role: the first is the object whatever its name, `to` is the goal, others keep their word."""
    return "object" if index == 0 else "goal" if label == "to" else label


def plan_points(plan: str) -> dict[str, np.ndarray]:
    """Plan text -> {"object" | "gripper" | "goal" | "below" | offsets: (row, column) in loc bins}."""
    return {
        point_key(index, label): np.array([int(row), int(column)])
        for index, (label, row, column) in enumerate(POINT.findall(plan))
    }


def offsets_text(plan: str, style: str) -> str:
    """The offsets of `style` between the points of `plan`, as centred points: `reach<loc..><loc..> ...`.

    Why centred points: a model that reads two absolute points must subtract them to know which way
    to move, and session 7 measured that its sideways action barely followed the object's column.
    An offset written as a point centred on <loc0512> (one loc bin per bin of difference, clipped at
    the image's half-width) is a quantity the action can be read from directly.
    """
    if style not in OFFSET_STYLES:
        raise ValueError(f"unknown offset style {style!r}; choose one of {', '.join(OFFSET_STYLES)}")
    points = plan_points(plan)
    words = []
    for word, (point, minus) in OFFSET_STYLES[style].items():
        if point in points and minus in points:
            offset = np.clip(points[point] - points[minus] + LOC_BINS // 2, 0, LOC_BINS - 1)
            words.append(f"{word}<loc{offset[0]:04d}><loc{offset[1]:04d}>")
    return " ".join(words)


def with_offsets(plan: str, style: str = "gripper", below: str = "") -> str:
    """`plan` plus offsets between its points (OFFSET_STYLES[style]):

        red cube<loc0700><loc0655> gripper<loc0412><loc0510> reach<loc0800><loc0657>

    below: the step's `below<loc><loc>` point, needed by (and added for) the BELOW_STYLES.
    """
    if style in BELOW_STYLES:
        if not below.startswith("below<loc"):
            raise ValueError(f"the {style!r} offset style needs the step's below point (below_text)")
        plan = f"{plan} {below}"
    offsets = offsets_text(plan, style)
    return f"{plan} {offsets}" if offsets else plan
