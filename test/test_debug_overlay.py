"""The debug image: a plan's points are drawn where they are in the camera image, not printed as tokens."""

import numpy as np

from rt2_ros.debug_overlay import MIN_WIDTH, annotate
from rt2_ros.debug_overlay import OFFSET_WORDS as overlay_offsets


def _marked(image: np.ndarray, x: float, y: float, colour) -> bool:
    patch = image[int(y) - 3 : int(y) + 4, int(x) - 3 : int(x) + 4]
    return bool((np.abs(patch.astype(int) - colour).sum(-1) < 30).any())


def test_plan_points_are_drawn_at_their_pixels_in_their_colours():
    frame = np.full((96, 96, 3), 40, np.uint8)
    plan = "red cube<loc0768><loc0128> gripper<loc0256><loc0512> to<loc0512><loc0896>"
    image = annotate(frame, "pick up the red cube", plan=plan)
    scale = MIN_WIDTH / 1024  # the 96 px frame is shown at 320 px
    assert _marked(image, 512 * scale, 256 * scale, (255, 255, 255))  # gripper
    assert _marked(image, 128 * scale, 768 * scale, (255, 60, 60))  # the object
    assert _marked(image, 896 * scale, 512 * scale, (60, 255, 60))  # its goal
    assert not _marked(image, 128 * scale, 256 * scale, (255, 60, 60)), "no marker where no point is"


def test_offsets_are_not_drawn_as_places():
    from rt2_ros.data.plan_points import OFFSET_WORDS, with_offsets

    assert set(OFFSET_WORDS) == set(overlay_offsets)
    frame = np.full((96, 96, 3), 40, np.uint8)
    plan = with_offsets("red cube<loc0600><loc0300> gripper<loc0500><loc0700>")
    assert plan.endswith("reach<loc0612><loc0112>")
    image = annotate(frame, "pick up the red cube", plan=plan)
    scale = MIN_WIDTH / 1024
    assert _marked(image, 300 * scale, 600 * scale, (255, 60, 60))
    assert not _marked(image, 112 * scale, 612 * scale, (255, 60, 60)), "the offset is no object"


def test_a_plan_without_points_is_shown_as_text():
    frame = np.full((96, 96, 3), 40, np.uint8)
    plain = annotate(frame, "pick up the red cube")
    with_plan = annotate(frame, "pick up the red cube", plan="reach the cube")
    assert (with_plan[-14:] != plain[-14:]).any() and (with_plan[:-14] == plain[:-14]).all()
