"""Pointing questions: where the gripper and each object are in the image, in PaliGemma's location tokens.

PaliGemma learns grounding from detection data whose answers are `<locYYYY><locXXXX>` tokens (the
image's height and width each cut into 1024 bins). The sim makes the same kind of data exactly, and
it is the skill a policy most needs from its image: where the gripper is and where the object it
was asked about is. The arm is put in a random pose over the table first (by IK, no physics), so
the gripper is seen where robot episodes take it, not only at home.
"""

from __future__ import annotations

import numpy as np

from rt2_ros.plan_grammar import LOCATE_QUESTION, pixel_to_loc
from rt2_ros.sim.layout import WORKSPACE_X, WORKSPACE_Y
from rt2_ros.sim.tasks import ATTRIBUTE_PHRASES, tile_phrase

PHRASES = (LOCATE_QUESTION, "where is the {name} in the image?", "locate the {name}.")
ARM_HEIGHT = (0.03, 0.28)  # m above the table: from grasping height to well above the objects


def loc_text(pixel: np.ndarray, height: int, width: int) -> str:
    """`<locY><locX>` for pixel (column, row), as PaliGemma writes a point."""
    y, x = pixel_to_loc(pixel, height, width)
    return f"<loc{y:04d}><loc{x:04d}>"


def in_image(pixel: np.ndarray, height: int, width: int) -> bool:
    """Whether pixel (column, row) lies inside an image of that size."""
    return bool(0 <= pixel[0] < width and 0 <= pixel[1] < height)


def pose_arm_randomly(sim, rng: np.random.Generator) -> None:
    position = np.array([rng.uniform(*WORKSPACE_X), rng.uniform(*WORKSPACE_Y), rng.uniform(*ARM_HEIGHT)])
    sim.pose_arm(position, yaw=float(rng.uniform(-np.pi / 4, np.pi / 4)))


def point_questions(sim, rng: np.random.Generator, camera: str = "scene") -> list[tuple[str, str, str]]:
    """("point", question, answer) for the gripper and every object that is inside the image."""
    height, width = sim.cameras.sizes[camera]
    targets = [("gripper", sim.tcp_pose()[0])]
    targets += [(o.name, sim.object_position(o.name)) for o in sim.task.layout.objects]
    out = []
    for name, position in targets:
        pixel = sim.project(position, camera)
        if in_image(pixel, height, width):
            out.append(("point", str(rng.choice(PHRASES)).format(name=name), loc_text(pixel, height, width)))
    return out


def tile_name(phrase: str) -> str:
    """An instruction's tile phrase as a pointing question's {name}: `the number 8 tile` -> `number 8 tile`."""
    return phrase.removeprefix("the ")


def tile_point_questions(sim, rng: np.random.Generator, camera: str = "scene") -> list[tuple[str, str, str]]:
    """("point_tile", question, answer) for every tile inside the image, named as instructions name it.

    Why: a plan's goal tile must be found by its digit or icon, and object pointing never asks for one
    (session 18: place_on_tile carried to a goal 9.5 cm from the named tile)."""
    height, width = sim.cameras.sizes[camera]
    out = []
    for symbol, xy in sim.task.layout.tiles.items():
        pixel = sim.project(np.array([*xy, 0.0]), camera)
        if in_image(pixel, height, width):
            name = tile_name(tile_phrase(symbol, rng))
            out.append(("point_tile", str(rng.choice(PHRASES)).format(name=name), loc_text(pixel, height, width)))
    return out


def attribute_point_questions(sim, rng: np.random.Generator, camera: str = "scene") -> list[tuple[str, str, str]]:
    """("point_attribute", question, answer) for the largest and smallest object (when one is) and one object
    by its colour, named as pick_attribute's instructions name them ("tiniest object", "red one").

    Why: session 19's weights answered "which object is the largest?" with the same object as "...smallest?"
    on 5 of the 8 seen pick_attribute first frames, and their plans named the wrong object on 5; a pointing
    answer is what the plan's object point is taken from (plan_locate_attribute)."""
    height, width = sim.cameras.sizes[camera]
    objects = sorted(sim.task.layout.objects, key=lambda o: o.size)
    asked = []
    if objects[-1].size != objects[-2].size:
        asked.append(("largest", objects[-1]))
    if objects[0].size != objects[1].size:
        asked.append(("smallest", objects[0]))
    coloured = objects[int(rng.integers(len(objects)))]  # colours are distinct within a scene
    asked.append(("colour", coloured))
    out = []
    for kind, obj in asked:
        pixel = sim.project(sim.object_position(obj.name), camera)
        if in_image(pixel, height, width):
            name = str(rng.choice(ATTRIBUTE_PHRASES[kind])).format(colour=obj.colour)
            out.append(("point_attribute", str(rng.choice(PHRASES)).format(name=name), loc_text(pixel, height, width)))
    return out
