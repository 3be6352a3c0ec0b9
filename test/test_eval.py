"""`rt2 eval`: Wilson intervals, the rollout's delta -> twist conversion, determinism, the expert through the
harness, and the command end to end with real tiny models writing JSON, markdown, PNG, GIFs and a model card.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from rt2_ros.data.splits import eval_seeds
from rt2_ros.eval import cli
from rt2_ros.eval.outcome import FAILURES
from rt2_ros.eval.parallel import WorkerSetup, run_parallel
from rt2_ros.eval.report import CARD_BEGIN, CARD_END, write_model_card
from rt2_ros.eval.rollout import EXPERT, ExpertAgent, PolicyAgent, RolloutOptions, make_agent, run_episode
from rt2_ros.eval.stats import Z95, wilson_interval
from rt2_ros.eval.suite import build_cells, episode_specs, run_cells
from rt2_ros.policy import Action, Policy
from rt2_ros.sim.env import TabletopSim
from rt2_ros.sim.tasks import task_names

torch.set_num_threads(1)
SMALL = {"scene": (32, 32)}  # the tiny models see 32x32 images; rendering more would only cost time


@pytest.fixture(scope="module")
def sim():
    sim = TabletopSim("ur5e", cameras=SMALL)
    yield sim
    sim.close()


def test_wilson_interval_known_values_and_definition():
    # 0/n and n/n have closed forms: the open end is z^2/(n+z^2) from the boundary.
    z2 = Z95**2
    assert wilson_interval(0, 10) == (0.0, pytest.approx(z2 / (10 + z2)))
    assert wilson_interval(10, 10) == (pytest.approx(10 / (10 + z2)), 1.0)
    assert wilson_interval(5, 10) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    assert wilson_interval(0, 0) == (0.0, 1.0)
    # Both ends solve (p_hat - p)^2 = z^2 p (1 - p) / n, the score test's boundary.
    for k, n in [(1, 7), (9, 20), (51, 60), (3, 1000)]:
        p_hat = k / n
        for p in wilson_interval(k, n):
            assert (p_hat - p) ** 2 == pytest.approx(Z95**2 * p * (1 - p) / n, rel=1e-9)
        low, high = wilson_interval(k, n)
        assert 0 <= low < p_hat < high <= 1
    with pytest.raises(ValueError):
        wilson_interval(4, 3)


class ConstantAgent:
    """Always the same delta: shows what the loop sends to the arm."""

    name = "constant"

    def __init__(self, delta, gripper=1.0, terminate_after=None):
        self.delta, self.gripper, self.terminate_after = np.asarray(delta, np.float32), gripper, terminate_after

    def reset(self, sim):
        self.count = 0

    def act(self, image, instruction):
        self.count += 1
        terminate = self.terminate_after is not None and self.count > self.terminate_after
        return Action(terminate, self.delta, self.gripper, tokens=[], timing_ms={"total": 1.0})


def test_delta_per_step_becomes_a_twist_over_the_control_period(sim, monkeypatch):
    twists, grippers = [], []
    monkeypatch.setattr(sim, "command_twist", lambda twist, *a, **k: twists.append(np.array(twist)))
    monkeypatch.setattr(sim, "command_gripper", lambda g: grippers.append(g))
    delta = [0.004, -0.002, 0.001, 0.0, 0.0, 0.02]  # within the node's speed limits at 10 Hz
    options = RolloutOptions(camera="scene", max_steps=50, action_scale=(2.0, 1.0, 1.0, 1.0, 1.0, 0.5))
    result = run_episode(sim, ConstantAgent(delta, gripper=0.7, terminate_after=3), "pick", 3, options)
    assert (result.end, result.steps, result.success) == ("terminate", 4, False)
    period = 1.0 / sim.control_rate_hz
    expected = np.array(delta) * np.array(options.action_scale) / period
    np.testing.assert_allclose(twists[:3], [expected] * 3, rtol=1e-6)
    assert np.all(twists[3] == 0)  # terminate: the arm stops
    assert grippers[-4:] == [pytest.approx(0.7)] * 4


def test_step_limit_and_speed_limits_as_the_node(sim, monkeypatch):
    twists = []
    monkeypatch.setattr(sim, "command_twist", lambda twist, *a, **k: twists.append(np.array(twist)))
    fast = [0.1, 0.0, 0.0, 0.0, 0.0, 0.0]  # 1 m/s asked; the node's SafetyLimits allow 0.15
    result = run_episode(sim, ConstantAgent(fast), "pick", 3, RolloutOptions(max_steps=5))
    assert (result.end, result.steps) == ("step_limit", 5)
    assert all(np.linalg.norm(t[:3]) == pytest.approx(0.15) for t in twists)


def test_expert_through_the_harness_succeeds_on_fixed_seeds(sim):
    agent = ExpertAgent()
    for task in task_names():
        seed = eval_seeds("seen", task, 1)[0]
        result = run_episode(sim, agent, task, seed, RolloutOptions(max_steps=200))
        assert result.success, (task, seed, result)
        assert result.end in ("success", "terminate")


class MovingForward(PolicyAgent):
    """The taught model asked to "move forward" (its answer: +x, never terminate) whatever the task says,
    so a run is long enough for the arm and the frames to change.
    """

    def act(self, image, instruction):
        return super().act(image, "move forward")


def test_policy_runs_repeat_exactly(taught_model_dir):
    cells = build_cells(1, ("seen", "symbols"), ("pick", "place_on_tile"))
    options = RolloutOptions(max_steps=6)

    def run():
        sim = TabletopSim("ur5e", cameras=SMALL)
        agent = MovingForward(Policy.from_pretrained(taught_model_dir))
        results = run_cells(sim, agent, cells, options, gifs_per_category=1)
        sim.close()
        return results

    first, second = run(), run()
    assert [(r.end, r.steps) for r in first] == [("step_limit", 6)] * 3
    assert not np.array_equal(first[0].frames[0], first[0].frames[-1])  # the arm moved
    comparable = [{k: v for k, v in r.to_dict().items() if k not in ("seconds", "model_ms")} for r in first]
    assert comparable == [{k: v for k, v in r.to_dict().items() if k not in ("seconds", "model_ms")} for r in second]
    recorded = [r for r in first if r.frames]
    assert {r.category for r in recorded} == {"seen", "symbols"}
    for a, b in zip(first, second, strict=True):
        assert len(a.frames) == len(b.frames)
        assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames, strict=True))


def _comparable(results):
    return [{k: v for k, v in r.to_dict().items() if k not in ("seconds", "model_ms")} for r in results]


def test_worker_processes_give_the_serial_results_in_order(tiny_model_dir):
    cells = build_cells(1, ("seen", "reasoning"), ("pick", "push", "pick_attribute"))
    specs = episode_specs(cells, gifs_per_category=1)
    options = RolloutOptions(max_steps=100)
    serial = []
    for source in (EXPERT, str(tiny_model_dir)):
        sim = TabletopSim("ur5e", cameras=SMALL)
        agent = make_agent(source)
        serial.append(run_cells(sim, agent, cells, options, gifs_per_category=1))
        sim.close()
    parallel = run_parallel([EXPERT, str(tiny_model_dir)], specs, WorkerSetup("ur5e", "scene", (32, 32), options), 2)
    tasks = [("seen", "pick"), ("seen", "push"), ("seen", "pick_attribute"), ("reasoning", "pick_attribute")]
    assert [(r.category, r.task) for r in parallel[0]] == tasks
    assert all(r.success for r in parallel[0])  # the expert: a check that episodes really ran
    for mine, theirs in zip(serial, parallel, strict=True):
        assert _comparable(theirs) == _comparable(mine)
        assert [bool(r.frames) for r in theirs] == [True, False, False, True]  # one GIF per category, as run_cells
        for a, b in zip(mine, theirs, strict=True):
            assert len(a.frames) == len(b.frames) and all(
                np.array_equal(x, y) for x, y in zip(a.frames, b.frames, strict=True)
            )


def test_installed_rt2_eval_runs_worker_processes(tmp_path):
    # The installed `rt2` script is the main module that spawned workers import again.
    rt2 = Path(sys.executable).parent / "rt2"
    argv = [str(rt2), "eval", "--expert", "--categories", "reasoning", "--episodes", "2", "--max-steps", "5",
            "--image-size", "32", "--jobs", "2", "--gifs", "0", "--quiet", "--out", str(tmp_path)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    episodes = json.loads((tmp_path / "results.json").read_text())["runs"][0]["episodes"]
    assert [(e["task"], e["end"], e["steps"]) for e in episodes] == [("pick_attribute", "step_limit", 5)] * 2


def test_rt2_eval_end_to_end_side_by_side(tiny_model_dir, taught_model_dir, tmp_path, capsys):
    out, card = tmp_path / "eval", tmp_path / "card" / "README.md"
    card.parent.mkdir()
    card.write_text("# tiny\n\nTrained on nothing.\n")
    argv = [
        "--model", str(taught_model_dir), "--compare", str(tiny_model_dir),
        "--label", "taught", "--label", "random",
        "--categories", "seen", "reasoning", "--tasks", "pick", "pick_attribute",
        "--episodes", "2", "--skip", "1", "--max-steps", "4", "--image-size", "32", "--gifs", "1",
        "--out", str(out), "--model-card", str(card), "--quiet",
    ]  # fmt: skip
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "| category | task | taught | random |" in printed

    report = json.loads((out / "results.json").read_text())
    assert report["format"] == "rt2_ros.eval/1"
    assert [run["label"] for run in report["runs"]] == ["taught", "random"]
    assert [(c["category"], c["task"]) for c in report["settings"]["cells"]] == [
        ("seen", "pick"),
        ("seen", "pick_attribute"),
        ("reasoning", "pick_attribute"),
    ]
    assert report["settings"]["cells"][0]["seeds"] == eval_seeds("seen", "pick", 3)[1:]  # --skip 1
    for run in report["runs"]:
        assert len(run["episodes"]) == 6
        assert all(e["steps"] <= 4 for e in run["episodes"])
        overall = run["summary"]["overall"]
        assert overall["episodes"] == 6
        assert (overall["low"], overall["high"]) == pytest.approx(wilson_interval(overall["successes"], 6))
        assert set(run["summary"]["categories"]) == {"seen", "reasoning"}
        # Every failed episode says why, and the summary counts them all.
        failed = [e for e in run["episodes"] if not e["success"]]
        assert all(e["failure"] in FAILURES for e in failed)
        assert sum(run["summary"]["failures"].values()) == len(failed)

    markdown = (out / "results.md").read_text()
    assert "| reasoning | all |" in markdown and "rt2 eval --model" in markdown
    assert "after each cell's first 1;" in markdown
    assert iio.imread(out / "results.png").ndim == 3
    gifs = sorted((out / "gifs").rglob("*.gif"))
    assert [g.parent.name for g in gifs] == ["random", "random", "taught", "taught"]  # one per category and model
    for gif in gifs:
        frames = iio.imread(gif)
        assert frames.shape[0] >= 2 and frames.shape[2] >= 320  # annotated frames are scaled up to read

    text = card.read_text()
    assert text.startswith("# tiny\n\nTrained on nothing.\n") and CARD_BEGIN in text and "| taught | random |" in text


def test_model_card_section_is_replaced_not_repeated(tmp_path):
    card = tmp_path / "README.md"
    card.write_text("# model\n\nintro\n")
    write_model_card(card, "| a | b |\nfirst\n")
    card.write_text(card.read_text() + "\n## Licence\n\nMIT\n")
    write_model_card(card, "| a | b |\nsecond\n")
    text = card.read_text()
    assert text.count(CARD_BEGIN) == 1 and text.count(CARD_END) == 1
    assert "second" in text and "first" not in text
    assert text.startswith("# model\n\nintro\n") and text.endswith("## Licence\n\nMIT\n")


def test_camera_comes_from_the_model_folder(tmp_path):
    model, data = tmp_path / "model", tmp_path / "data"
    model.mkdir()
    data.mkdir()
    assert cli.training_info(model) == {}
    # As `rt2 train` writes it: options under "args"; the image size is the training dataset's.
    (data / "info.json").write_text(json.dumps({"image_shapes": {"wrist": [96, 128, 3]}}))
    (model / "training.json").write_text(json.dumps({"step": 9, "args": {"camera": "wrist", "data": [str(data)]}}))
    assert cli.training_info(model) == {"camera": "wrist", "camera_size": [96, 128]}
    (model / "training.json").write_text(json.dumps({"camera": "scene", "camera_size": [64, 64], "robot": "panda"}))
    assert cli.training_info(model) == {"camera": "scene", "camera_size": [64, 64], "robot": "panda"}
    assert cli._size([96, 128]) == (96, 128) and cli._size(64) == (64, 64)


def test_rt2_eval_refuses_bad_arguments(capsys):
    assert cli.main([]) == 2  # nothing to evaluate
    assert cli.main(["--expert", "--label", "x"]) == 2  # a label without a model
    assert cli.main(["--model", "a", "--compare", "b", "--label", "x", "--label", "x"]) == 2
    assert "labels must differ" in capsys.readouterr().err
    assert cli.main(["--expert", "--jobs", "0"]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err
    assert cli.main(["--expert", "--skip", "-1"]) == 2
    assert "--skip must be at least 0" in capsys.readouterr().err
