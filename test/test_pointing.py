"""Pointing answers: the pixel a `<locY><locX>` answer names is really where the sim draws the thing."""

import mujoco
import numpy as np
import pytest

from rt2_ros.data.pointing import loc_text, point_questions, pose_arm_randomly
from rt2_ros.plan_grammar import LOC_BINS
from rt2_ros.sim import TabletopSim

SIZE = 96


@pytest.fixture(scope="module")
def sim():
    sim = TabletopSim("ur5e", cameras={"scene": (SIZE, SIZE)})
    yield sim
    sim.close()


def _segmentation(sim) -> np.ndarray:
    renderer = mujoco.Renderer(sim.model, height=SIZE, width=SIZE)
    renderer.enable_segmentation_rendering()
    renderer.update_scene(sim.data, camera="scene")
    ids = renderer.render()[..., 0]  # geom id per pixel, -1 for none
    renderer.close()
    return ids


def _pixel(answer: str) -> tuple[int, int]:
    y, x = int(answer[4:8]), int(answer[13:17])
    return int(y * SIZE / LOC_BINS), int(x * SIZE / LOC_BINS)


def test_loc_text_is_paligemmas_y_then_x_in_1024_bins():
    assert loc_text(np.array([0.0, 0.0]), 96, 96) == "<loc0000><loc0000>"
    assert loc_text(np.array([95.99, 48.0]), 96, 96) == "<loc0512><loc1023>"  # (column, row) in, y first out
    assert loc_text(np.array([-5.0, 500.0]), 96, 96) == "<loc1023><loc0000>"  # clipped to the image


def test_object_points_land_on_the_object(sim):
    rng = np.random.default_rng(0)
    hits, total = 0, 0
    for seed in range(12):
        sim.reset("pick", 2_000_000 + seed)
        pose_arm_randomly(sim, rng)
        segmentation = _segmentation(sim)
        for _, question, answer in point_questions(sim, rng):
            if "gripper" in question:
                continue
            name = next(o.name for o in sim.task.layout.objects if o.name in question)
            row, column = _pixel(answer)
            geom = sim.scene.model.geom_bodyid[segmentation[row, column]] if segmentation[row, column] >= 0 else -1
            slot = sim._slots[name]
            total += 1
            hits += geom == slot.body
    # The arm may hide an object it stands over; nearly every other point is on the object itself.
    assert total >= 30 and hits / total >= 0.85, (hits, total)


def test_the_arm_goes_where_asked_and_the_gripper_point_is_on_it(sim):
    rng = np.random.default_rng(1)
    near = 0
    for seed in range(10):
        sim.reset("pick", 2_000_100 + seed)
        goal = np.array([0.35 + 0.03 * seed, 0.2 - 0.04 * seed, 0.05 + 0.02 * seed])
        sim.pose_arm(goal, yaw=0.3)
        assert np.allclose(sim.tcp_pose()[0], goal, atol=1e-4)
        answers = dict((q.split(" the ")[1].split()[0].rstrip(".?"), a) for _, q, a in point_questions(sim, rng))
        row, column = _pixel(answers["gripper"])
        segmentation = _segmentation(sim)
        window = segmentation[max(row - 4, 0) : row + 5, max(column - 4, 0) : column + 5]
        gripper_bodies = sim._gripper_bodies
        near += any(sim.model.geom_bodyid[g] in gripper_bodies for g in window.ravel() if g >= 0)
    # The TCP sits between the open fingers (~8 cm apart): within 4 px of a finger in (nearly) every image.
    assert near >= 9


def test_tile_points_land_on_the_tile_named_as_instructions_name_it(sim):
    import re

    from rt2_ros.data.pointing import PHRASES, tile_point_questions
    from rt2_ros.instruction_phrases import goal_name

    asked = [re.compile(re.escape(p).replace(re.escape("{name}"), "(?P<name>.+)") + "$") for p in PHRASES]
    rng = np.random.default_rng(1)
    hits, total, phrasings = 0, 0, set()
    for seed in range(10):
        sim.reset("place_on_tile", 2_000_000 + seed)
        segmentation = _segmentation(sim)
        for kind, question, answer in tile_point_questions(sim, rng):
            name = next(m.group("name") for p in asked if (m := p.match(question)))
            # The tile is named as instructions name it, so the goal read from an instruction is asked for alike.
            assert kind == "point_tile" and goal_name(f"put the cube on the {name}") == name
            (symbol,) = [s for s in sim.task.layout.tiles if s in name.split()]
            phrasings.add(name.replace(symbol, "S"))
            row, column = _pixel(answer)
            body = sim.scene.model.geom_bodyid[segmentation[row, column]] if segmentation[row, column] >= 0 else -1
            total += 1
            hits += body == mujoco.mj_name2id(sim.model, mujoco.mjtObj.mjOBJ_BODY, f"tile_{symbol}")
    assert total >= 25 and hits == total, (hits, total)  # nothing stands on a tile at a layout's start
    assert len(phrasings) >= 4, phrasings  # "tile with number S", "number S tile", "tile S", "S tile", ...
