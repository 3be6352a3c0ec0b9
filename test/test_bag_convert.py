"""`rt2 bag to-episodes`: bags from two writers become episodes step for step, with every message accounted for."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from bagfiles import (
    CAMERA,
    GRIPPER,
    INSTRUCTION,
    JOINTS,
    T0,
    TWIST,
    WRIST,
    expected_action,
    make_ticks,
    write_with_mcap_ros2,
    write_with_rosbags,
)

from rt2_ros import cli
from rt2_ros.bag.convert import BagConverter
from rt2_ros.bag.reader import BagReader
from rt2_ros.bag.writer import BagWriter
from rt2_ros.data.dataset import iter_episodes, read_info

EPISODES = [("pick up the red block", 6), ("place it on the blue tile", 4), ("push the green cube left", 5)]


def to_episodes(*args: str) -> int:
    return cli.main(["bag", "to-episodes", *map(str, args), "--quiet"])


def assert_steps_match_ticks(out, ticks, cameras=("scene",)) -> None:
    episodes = list(iter_episodes(out))
    assert [(e.instruction, len(e.steps)) for e in episodes] == EPISODES
    steps = [step for episode in episodes for step in episode.steps]
    assert len(steps) == len(ticks)
    for step, tick in zip(steps, ticks, strict=True):
        np.testing.assert_array_equal(step.images["scene"], tick.image)
        if "wrist" in cameras:
            np.testing.assert_array_equal(step.images["wrist"], tick.wrist)
        np.testing.assert_allclose(step.action, expected_action(tick), rtol=1e-6, atol=1e-9)
        assert step.instruction == tick.instruction
    assert [s.terminate for e in episodes for s in e.steps] == [i == n - 1 for _, n in EPISODES for i in range(n)]


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_rosbags_bag_converts_with_no_message_lost(tmp_path, storage, capsys):
    ticks = make_ticks(EPISODES)
    bag = write_with_rosbags(tmp_path / "bag", ticks, storage=storage, wrist=True, joints=True)
    out = tmp_path / "episodes"
    assert to_episodes(bag, out, "--camera", f"scene={CAMERA}", "--camera", f"wrist={WRIST}", "--robot", "ur5") == 0
    assert "3 episodes, 15 steps at 10 Hz" in capsys.readouterr().out
    assert_steps_match_ticks(out, ticks, cameras=("scene", "wrist"))
    report = json.loads((out / "meta/conversion_report.json").read_text())
    n = len(ticks)
    assert report["topics"] == {
        CAMERA: {"in": n, "used": n, "dropped": {}},
        WRIST: {"in": n, "used": n, "dropped": {}},
        INSTRUCTION: {"in": 3, "used": 3, "dropped": {}},
        TWIST: {"in": n, "used": n, "dropped": {}},
        GRIPPER: {"in": n, "used": n, "dropped": {}},
    }
    assert report["ignored_topics"] == {JOINTS: n}
    info = read_info(out)
    assert (info["num_episodes"], info["num_steps"], info["cameras"]) == (3, 15, ["scene", "wrist"])
    episode = next(iter_episodes(out))
    assert (episode.robot, episode.task, episode.seed, episode.success) == ("ur5", EPISODES[0][0], -1, False)
    assert episode.metadata["start_time_ns"] == T0 - 5_000_000


def test_bare_mcap_from_mcap_ros2_support_converts_with_no_message_lost(tmp_path):
    ticks = make_ticks(EPISODES, seed=1)
    bag = write_with_mcap_ros2(tmp_path / "run.mcap", ticks, wrist=True)
    out = tmp_path / "episodes"
    assert to_episodes(bag, out, "--camera", f"scene={CAMERA}", "--camera", f"wrist={WRIST}") == 0
    assert_steps_match_ticks(out, ticks, cameras=("scene", "wrist"))


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "png", "jpeg"])
def test_every_camera_encoding_becomes_rgb(tmp_path, encoding):
    ticks = make_ticks([("look", 2)], size=(16, 16))
    bag = write_with_rosbags(tmp_path / "bag", ticks, encoding=encoding)
    with BagReader(bag) as reader:
        steps = [s for e in BagConverter(reader).episodes() for s in e.steps]
    for step, tick in zip(steps, ticks, strict=True):
        image = step.images["scene"]
        assert image.shape == (16, 16, 3) and image.dtype == np.uint8
        if encoding == "mono8":
            gray = tick.image.mean(axis=2).astype(np.uint8)
            np.testing.assert_array_equal(image, np.repeat(gray[..., None], 3, axis=2))
        elif encoding == "jpeg":  # lossy: close, not equal
            assert np.abs(image.astype(int) - tick.image).mean() < 60
        else:
            np.testing.assert_array_equal(image, tick.image)


def write_messages(path, messages):
    """(topic, msgtype, time_ns, make(types) -> message) -> a bag; the unordered list is sorted by time."""
    with BagWriter(path) as writer:
        types = writer.types()
        for topic, msgtype, time_ns, make in sorted(messages, key=lambda m: m[2]):
            if not writer.has_topic(topic):
                writer.add_topic(topic, msgtype)
            writer.write(topic, time_ns, make(types))
    return path


def image(value: int):
    def make(types):
        data = np.full(4 * 4 * 3, value, dtype=np.uint8)
        header = types["std_msgs/msg/Header"](stamp=types["builtin_interfaces/msg/Time"](sec=0, nanosec=0), frame_id="")
        return types["sensor_msgs/msg/Image"](
            header=header, height=4, width=4, encoding="rgb8", is_bigendian=0, step=12, data=data
        )

    return CAMERA, "sensor_msgs/msg/Image", make


def twist(vx: float, frame: str = "base_link"):
    def make(types):
        vector = types["geometry_msgs/msg/Vector3"]
        header = types["std_msgs/msg/Header"](
            stamp=types["builtin_interfaces/msg/Time"](sec=0, nanosec=0), frame_id=frame
        )
        body = types["geometry_msgs/msg/Twist"](linear=vector(x=vx, y=0.0, z=0.0), angular=vector(x=0.0, y=0.0, z=0.0))
        return types["geometry_msgs/msg/TwistStamped"](header=header, twist=body)

    return TWIST, "geometry_msgs/msg/TwistStamped", make


def string(topic: str, text: str):
    return topic, "std_msgs/msg/String", lambda types: types["std_msgs/msg/String"](data=text)


def scalar(topic: str, msgtype: str, value):
    return topic, msgtype, lambda types: types[msgtype](data=value)


def at(ms: float, spec):
    topic, msgtype, make = spec
    return topic, msgtype, T0 + int(ms * 1e6), make


def test_faster_streams_are_averaged_per_control_period_and_every_drop_has_a_reason(tmp_path):
    ms = 100.0  # control period
    messages = [at(-50, image(1)), at(-40, twist(9.0)), at(-30, scalar(GRIPPER, "std_msgs/msg/Float64", 0.0))]
    messages += [at(-20, string(INSTRUCTION, "pick up the red block"))]
    messages += [at(-10, string("/sim/task", json.dumps({"robot": "franka", "task": "pick_red", "seed": 7})))]
    # a 30 Hz camera and 50 Hz twists for 0.3 s; the gripper closes in the second period
    messages += [at(i * ms / 3, image(10 + i)) for i in range(9)]
    messages += [at(i * ms / 5 + 1, twist(0.1 * (i // 5 + 1) + 0.01 * (i % 5))) for i in range(15)]
    messages += [
        at(130, scalar(GRIPPER, "std_msgs/msg/Float64", 0.5)),
        at(140, scalar(GRIPPER, "std_msgs/msg/Float64", 1.0)),
    ]
    messages += [at(150, twist(float("nan"))), at(160, twist(0.3, frame="tool0"))]
    messages += [at(250, scalar("/sim/success", "std_msgs/msg/Bool", True))]
    messages += [at(290, string(INSTRUCTION, "pick up the red block"))]  # a repeat: same episode
    messages += [at(400, string(INSTRUCTION, "")), at(410, twist(0.5))]  # stop, then a twist with no instruction
    messages += [at(500, string(INSTRUCTION, "wave")), at(600, string(INSTRUCTION, "wave again"))]
    bag = write_messages(tmp_path / "bag", messages)

    out = tmp_path / "episodes"
    assert to_episodes(bag, out) == 0
    (episode,) = list(iter_episodes(out))
    assert (episode.robot, episode.task, episode.seed, episode.success) == ("franka", "pick_red", 7, True)
    actions = np.array([step.action for step in episode.steps])
    # The grid starts half a period before the first twist (1 ms): periods [-49, 51), [51, 151), ... ms.
    # Twist i (at 20 i + 1 ms) has vx = 0.1 (i // 5 + 1) + 0.01 (i % 5); a step is the period's mean x 0.1 s.
    np.testing.assert_allclose(actions[:, 0], [0.011, 0.018, 0.028, 0.0335], rtol=1e-5)
    np.testing.assert_allclose(actions[:, 6], [0.0, 1.0, 1.0, 1.0])  # the last command before each period ends
    # each step's image: the newest frame (every 33.3 ms, value 10 + i) at its period's first twist
    assert [int(step.images["scene"][0, 0, 0]) for step in episode.steps] == [10, 11, 14, 17]
    assert [s.terminate for s in episode.steps] == [False, False, False, True]

    report = json.loads((out / "meta/conversion_report.json").read_text())["topics"]
    assert report[CAMERA] == {
        "in": 10,
        "used": 4,
        "dropped": {"superseded by a newer frame": 5, "after the last control step": 1},
    }
    assert report[TWIST] == {
        "in": 19,
        "used": 15,
        "dropped": {
            "before the first instruction": 1,
            "non-finite values": 1,
            "frame 'tool0' is not the base frame 'base_link'": 1,
            "while no instruction was set": 1,
        },
    }
    assert report[GRIPPER] == {
        "in": 3,
        "used": 2,
        "dropped": {"superseded by a later gripper command before the next step": 1},
    }
    assert report[INSTRUCTION] == {
        "in": 5,
        "used": 3,
        "dropped": {"no twist before the instruction changed": 1, "no twist before the bag ended": 1},
    }
    assert report["/sim/task"] == {"in": 1, "used": 1, "dropped": {}}
    for counts in report.values():
        assert counts["in"] == counts["used"] + sum(counts["dropped"].values())


def test_a_missing_topic_is_named_and_nothing_is_written(tmp_path, capsys):
    bag = write_with_rosbags(tmp_path / "bag", make_ticks(EPISODES))
    out = tmp_path / "episodes"
    assert to_episodes(bag, out, "--gripper-topic", "/hand/command") == 1
    err = capsys.readouterr().err
    assert "the bag has no gripper topic '/hand/command'" in err
    assert "/servo_node/delta_twist_cmds (geometry_msgs/msg/TwistStamped, 15)" in err  # what it does have
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bag"]


def test_missing_and_unreadable_paths_give_clear_errors(tmp_path, capsys):
    assert to_episodes(tmp_path / "nope", tmp_path / "out") == 1
    assert "no such bag" in capsys.readouterr().err
    (tmp_path / "notabag").mkdir()
    assert to_episodes(tmp_path / "notabag", tmp_path / "out") == 1
    assert "not a bag" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notabag"]


def test_a_corrupt_chunk_fails_clearly_and_leaves_no_partial_dataset(tmp_path, capsys):
    from mcap.reader import make_reader

    bag = write_with_mcap_ros2(tmp_path / "run.mcap", make_ticks(EPISODES, size=(48, 64)))
    with open(bag, "rb") as stream:
        chunks = make_reader(stream).get_summary().chunk_indexes
    assert len(chunks) > 3
    middle = chunks[len(chunks) // 2]  # the first episodes convert before the damage is reached
    with open(bag, "r+b") as stream:
        stream.seek(middle.chunk_start_offset + middle.chunk_length // 2)
        stream.write(b"\xde\xad\xbe\xef" * 64)
    out = tmp_path / "episodes"
    assert to_episodes(bag, out) == 1
    err = capsys.readouterr().err
    assert "the bag is damaged after" in err and "corrupt or truncated chunk" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.mcap"]


def test_a_truncated_recording_fails_clearly(tmp_path, capsys):
    bag = write_with_rosbags(tmp_path / "bag", make_ticks(EPISODES))
    (mcap_file,) = bag.glob("*.mcap")
    mcap_file.write_bytes(mcap_file.read_bytes()[: mcap_file.stat().st_size // 2])
    assert to_episodes(bag, tmp_path / "episodes") == 1
    assert "cannot open the bag" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bag"]


def test_bag_info_and_help_run_as_commands(tmp_path):
    bag = write_with_rosbags(tmp_path / "bag", make_ticks(EPISODES))
    done = subprocess.run(
        [sys.executable, "-m", "rt2_ros.cli", "bag", "info", str(bag)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert f"{TWIST}  geometry_msgs/msg/TwistStamped  15" in done.stdout
    for sub in ("to-episodes", "info"):
        done = subprocess.run(
            [sys.executable, "-m", "rt2_ros.cli", "bag", sub, "--help"], capture_output=True, text=True
        )
        assert done.returncode == 0 and "usage" in done.stdout
