"""`rt2 replay --offline`: the policy runs on a bag's steps; the report's numbers follow from the predictions bag."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bagfiles import TWIST, expected_action, make_ticks, write_with_rosbags
from PIL import Image as PILImage
from rclpy.serialization import deserialize_message

from rt2_ros import cli
from rt2_ros.actions import ActionTokenizer
from rt2_ros.bag.reader import BagReader
from rt2_ros.msg import VLAAction

EPISODES = [("pick up the red block", 3), ("place it on the tile", 3)]


def test_offline_replay_reports_errors_tokens_terminate_and_latency(tmp_path, tiny_model_dir, capsys):
    ticks = make_ticks(EPISODES, size=(32, 32))
    bag = write_with_rosbags(tmp_path / "bag", ticks)
    out = tmp_path / "replay"
    assert (
        cli.main(["replay", "--offline", str(bag), "--model", str(tiny_model_dir), "--out", str(out), "--quiet"]) == 0
    )
    printed = capsys.readouterr().out
    assert "6 steps in 2 episodes" in printed and "token accuracy" in printed

    report = json.loads((out / "report.json").read_text())
    assert (report["steps"], report["episodes"], report["camera"]) == (6, 2, "scene")
    assert set(report["per_dimension"]) == {"dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper"}
    assert report["latency_ms"]["mean"] > 0 and report["replay_steps_per_s"] > 0
    assert report["terminate"]["recorded_true"] == 2  # the last step of each episode
    with PILImage.open(out / "actions.png") as plot:
        assert plot.format == "PNG" and plot.width > 300

    # The predictions bag: one VLAAction, twist and gripper command per step, at the steps' bag times.
    with BagReader(out / "predictions") as reader:
        assert {t: i.count for t, i in reader.topics.items()} == {
            "/rt2_node/action": 6,
            "/servo_node/delta_twist_cmds": 6,
            "/gripper/command": 6,
        }
        messages = list(reader.messages())
    predictions = [deserialize_message(m.data, VLAAction) for m in messages if m.topic == "/rt2_node/action"]
    twist_times = [m.log_time_ns for m in messages if m.topic == TWIST]
    assert twist_times == [t.time_ns + 20_000_000 for t in ticks]  # each step's twist time in the source bag
    assert [p.instruction for p in predictions] == [t.instruction for t in ticks]

    # Recompute the report's numbers from what was predicted and what was recorded.
    tokenizer = ActionTokenizer.from_dict(json.loads((tiny_model_dir / "rt2_config.json").read_text())["actions"])
    recorded = np.array([expected_action(t) for t in ticks])
    predicted = np.array([list(p.action) for p in predictions])
    terminate = [i == n - 1 for _, n in EPISODES for i in range(n)]
    recorded_bins = np.array([tokenizer.encode(a, t) for a, t in zip(recorded, terminate, strict=True)])
    predicted_bins = np.array([list(p.tokens) for p in predictions])
    assert report["token_accuracy"]["all"] == pytest.approx((recorded_bins == predicted_bins).mean())
    assert report["per_dimension"]["dx"]["mae"] == pytest.approx(np.abs(predicted[:, 0] - recorded[:, 0]).mean(), 1e-5)
    agreement = np.mean([p.terminate == t for p, t in zip(predictions, terminate, strict=True)])
    assert report["terminate"]["agreement"] == pytest.approx(agreement)


def test_offline_replay_needs_a_model_and_a_new_output(tmp_path, tiny_model_dir, capsys):
    bag = write_with_rosbags(tmp_path / "bag", make_ticks(EPISODES))
    assert cli.main(["replay", "--offline", str(bag)]) == 2
    assert "--model PATH is required" in capsys.readouterr().err
    (tmp_path / "taken").mkdir()
    args = ["replay", "--offline", str(bag), "--model", str(tiny_model_dir), "--out", str(tmp_path / "taken")]
    assert cli.main([*args, "--quiet"]) == 1
    assert "exists already" in capsys.readouterr().err
    args[-1] = str(tmp_path / "new")
    assert cli.main([*args, "--quiet", "--twist-topic", "/nothing"]) == 1
    assert "no twist topic '/nothing'" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bag", "taken"]
