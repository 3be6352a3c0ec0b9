"""`rt2 replay --offline`: the policy runs on a bag's steps; the report's numbers follow from the predictions bag."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from bagfiles import TWIST, expected_action, make_ticks, tool_position, write_with_rosbags
from PIL import Image as PILImage
from rclpy.serialization import deserialize_message

from rt2_ros import cli
from rt2_ros.actions import ActionTokenizer
from rt2_ros.bag.reader import BagReader
from rt2_ros.msg import VLAAction
from rt2_ros.plan_grammar import plan_points
from rt2_ros.tool_points import CameraCalibration
from rt2_ros.vla.config import VLAConfig

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


def test_with_the_nodes_parameters_a_tool_points_model_gets_the_arms_state_from_the_bag(tmp_path, tiny_model_dir):
    """As rt2_node live: each step's plan takes its gripper and below points from the pose, CameraInfo and finger
    joint logged before it, through the calibration in the node's parameter file; without them, its own."""
    from tiny_fit import HOVER_INSTRUCTION, IMAGE, INSTRUCTION, fit_planner

    model = fit_planner(tiny_model_dir, tmp_path / "planner")
    config = VLAConfig.load(model)
    config.plan_tool_points, config.plan_offsets_by_code = True, True
    config.save(model)
    ticks = make_ticks([(HOVER_INSTRUCTION, 2), (INSTRUCTION, 3)], size=IMAGE.shape[:2])
    for tick in ticks:
        tick.image = IMAGE  # the planner writes its plan for this image
    bag = write_with_rosbags(tmp_path / "bag", ticks, arm=(INSTRUCTION,))  # no arm state while hovering
    camera_pose = [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]  # 1 m above the base, looking straight down
    parameters = {"camera_pose": camera_pose, "object_height": 0.02, "gripper_joint": "gripper"}
    params_file = tmp_path / "arm.yaml"
    params_file.write_text(yaml.safe_dump({"rt2_node": {"ros__parameters": parameters}}))
    out = tmp_path / "replay"
    args = ["replay", "--offline", str(bag), "--model", str(model), "--out", str(out), "--quiet"]
    assert cli.main([*args, "--params-file", str(params_file)]) == 0
    assert json.loads((out / "report.json").read_text())["steps_with_arm_state"] == 3

    with BagReader(out / "predictions") as reader:
        plans = [deserialize_message(m.data, VLAAction).plan for m in reader.messages(["/rt2_node/action"])]
    width = IMAGE.shape[1]
    camera = CameraCalibration.from_pose(width, width, [width, 0, width / 2, 0, width, width / 2, 0, 0, 1], camera_pose)
    for k, (tick, plan) in enumerate(zip(ticks, plans, strict=True)):
        points = plan_points(plan)
        if tick.instruction == HOVER_INSTRUCTION:  # no CameraInfo yet: the model's own point
            assert points["gripper"].tolist() == [400, 500]
            continue
        tool = tool_position(k)
        assert points["gripper"].tolist() == camera.loc(tool).tolist()
        # the finger joint at 0.5 (gripper command 1) holds an object, so the below point is the tool's own
        lowered = camera.loc(np.array([tool[0], tool[1], 0.02]))
        assert points["below"].tolist() == (camera.loc(tool) if tick.gripper else lowered).tolist()

    # Without the parameters: the model's own points, as before.
    out_plain = tmp_path / "plain"
    assert cli.main([*args[:-3], "--out", str(out_plain), "--quiet"]) == 0
    with BagReader(out_plain / "predictions") as reader:
        plans = [deserialize_message(m.data, VLAAction).plan for m in reader.messages(["/rt2_node/action"])]
    assert all(plan_points(plan)["gripper"].tolist() == [400, 500] for plan in plans)


def test_tool_points_need_a_calibration_and_the_bags_pose(tmp_path, tiny_model_dir, capsys):
    bag = write_with_rosbags(tmp_path / "bag", make_ticks(EPISODES))
    no_pose = tmp_path / "no-pose.yaml"
    no_pose.write_text(yaml.safe_dump({"rt2_node": {"ros__parameters": {"object_height": 0.02}}}))
    args = ["replay", "--offline", str(bag), "--model", str(tiny_model_dir), "--out", str(tmp_path / "r"), "--quiet"]
    assert cli.main([*args, "--params-file", str(no_pose)]) == 1
    assert "no camera_pose" in capsys.readouterr().err
    calibrated = tmp_path / "calibrated.yaml"
    calibrated.write_text(yaml.safe_dump({"rt2_node": {"ros__parameters": {"camera_pose": [0, 0, 1, 1, 0, 0, 0]}}}))
    assert cli.main([*args, "--params-file", str(calibrated)]) == 1
    assert "tool points need /ee_pose and /camera/color/camera_info, which the bag lacks" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
