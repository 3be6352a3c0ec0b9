"""The simulated world: seeded layouts render identical frames, and the pieces look as described."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rt2_ros.sim import TabletopSim, task_names
from rt2_ros.sim.tasks import sample_task

CAMERAS = {"scene": (96, 128), "wrist": (64, 64)}


@pytest.fixture(scope="module")
def panda():
    sim = TabletopSim("panda", cameras=CAMERAS)
    yield sim
    sim.close()


def run_a_little(sim: TabletopSim, task: str, seed: int) -> list[dict[str, np.ndarray]]:
    sim.reset(task, seed)
    frames = [sim.images()]
    for step in range(5):
        sim.command_twist([0.03, -0.02, -0.04, 0.0, 0.0, 0.3 * (-1) ** step])
        sim.command_gripper(step / 4)
        sim.step_control()
        frames.append(sim.images())
    return frames


def test_same_seed_gives_identical_frames_and_another_seed_does_not(panda):
    first = run_a_little(panda, "place_on_tile", 11)
    run_a_little(panda, "push", 2)  # something else in between must leave no trace
    again = run_a_little(panda, "place_on_tile", 11)
    other = run_a_little(panda, "place_on_tile", 12)
    assert [f["scene"].shape for f in first] == [(96, 128, 3)] * 6
    assert [f["wrist"].shape for f in first] == [(64, 64, 3)] * 6
    for a, b in zip(first, again, strict=True):
        assert all(np.array_equal(a[camera], b[camera]) for camera in CAMERAS)
    assert not np.array_equal(first[0]["scene"], other[0]["scene"])


def test_layouts_are_seeded_and_name_unique_objects():
    for task in task_names():
        for seed in range(20):
            instance = sample_task(task, seed)
            assert instance.describe() == sample_task(task, seed).describe()
            names = [o.name for o in instance.layout.objects]
            assert len(set(names)) == len(names), "colours are unique, so every name picks one object"
            assert instance.target in names
            assert instance.instruction == instance.instruction.strip() and "{" not in instance.instruction
    instructions = {
        sample_task("pick", seed).instruction.replace(sample_task("pick", seed).target, "X") for seed in range(40)
    }
    assert len(instructions) >= 3, "several phrasings per task"


def test_scene_shows_objects_tiles_and_the_table_it_was_given(panda):
    instance = panda.reset("place_on_tile", 4)
    assert instance.reference in instance.layout.tiles
    assert 2 <= len(instance.layout.objects) <= 4
    for placed in instance.layout.objects:
        position = panda.object_position(placed.name)
        assert position[:2] == pytest.approx(placed.xy, abs=0.01)
        assert position[2] == pytest.approx(placed.size / 2, abs=0.003), "resting on the table"
    image = panda.render("scene")
    # The table top texture shows, and coloured objects and the white tiles stand out from it.
    assert image.std() > 10
    assert (image.min(axis=2) > 230).sum() > 20, "white tile faces are visible"


def test_readme_simulation_example_runs():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Simulation", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(example, "README.md (simulation example)", "exec"), namespace)
    assert namespace["episode"].success and namespace["episode"].steps[-1].terminate
    namespace["sim"].close()
