"""`rt2 demo`: rt2_node drives the simulated arm with a model and an instruction, over DDS, until the task is done.

It starts the processes that `ros2 launch rt2_ros rt2_arm.launch.py sim:=mujoco` starts (the plan comes
from rt2_ros.launch_plan), sends the instruction as `rt2 instruct` would, prints each step's action and
the achieved rate, writes a GIF of the node's debug image, and exits 0 on the task's success, 1 on
terminate without success or timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, String

from rt2_ros.camera_frames import rgb_from_raw
from rt2_ros.launch_plan import plan_launch
from rt2_ros.msg import PolicyStatus, VLAAction
from rt2_ros.paths import share_path

COMMAND_OF_EXECUTABLE = {"rt2_node": "node", "sim_node": "sim"}  # `ros2 run rt2_ros X` == `rt2 Y`
SIM_ROBOT = {"ur5": "ur5e", "franka": "panda"}


def node_commands(robot: str, model: str, task: str, seed: int, image_size: int) -> list[list[str]]:
    """The launch plan's rt2_ros nodes as `python -m rt2_ros.cli ...` commands with the same parameters."""
    commands = []
    for spec in plan_launch(robot=robot, sim="mujoco", model=model).nodes:
        if spec.package != "rt2_ros" or spec.executable not in COMMAND_OF_EXECUTABLE:
            continue
        args = [sys.executable, "-m", "rt2_ros.cli", COMMAND_OF_EXECUTABLE[spec.executable], "--ros-args"]
        args += ["-r", f"__node:={spec.name}"]
        for parameters in spec.parameters:
            if isinstance(parameters, dict):
                args += [a for k, v in parameters.items() for a in ("-p", f"{k}:={_yaml(v)}")]
            else:
                args += ["--params-file", str(share_path(parameters))]
        if spec.executable == "sim_node":
            size = ["-p", f"image_width:={image_size}", "-p", f"image_height:={image_size}"]
            args += ["-p", f"robot:={SIM_ROBOT[robot]}", "-p", f"task:={task}", "-p", f"seed:={seed}", *size]
        commands.append(args)
    return commands


def _yaml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if value != "" else "''"


class DemoWatcher(Node):
    """Listens to what a user would watch in rqt: the task, the actions, the status, the debug image."""

    def __init__(self) -> None:
        super().__init__("rt2_demo")
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.task: dict | None = None
        self.success = False
        self.state = ""
        self.actions: list[VLAAction] = []
        self.frames: list[np.ndarray] = []
        self.create_subscription(String, "/sim/task", lambda m: setattr(self, "task", json.loads(m.data)), latched)
        self.create_subscription(Bool, "/sim/success", self._on_success, 10)
        self.create_subscription(VLAAction, "/rt2_node/action", self._on_action, 10)
        self.create_subscription(PolicyStatus, "/rt2_node/status", lambda m: setattr(self, "state", m.state), 10)
        self.create_subscription(Image, "/rt2_node/debug_image", self._on_debug_image, qos_profile_sensor_data)
        self.instruction_pub = self.create_publisher(String, "/instruction", 10)
        # How far the tool really moved against how far the actions asked it to: equal when each
        # action moved the arm by its delta once, as `rt2 eval` steps the sim.
        self.create_subscription(PoseStamped, "/ee_pose", self._on_pose, 10)
        self.tool_path_m = 0.0
        self._last_tool: np.ndarray | None = None
        self.counting = False  # from the instruction on

    def _on_pose(self, msg: PoseStamped) -> None:
        p = msg.pose.position
        tool = np.array([p.x, p.y, p.z])
        if self.counting and self._last_tool is not None:
            self.tool_path_m += float(np.linalg.norm(tool - self._last_tool))
        self._last_tool = tool

    def asked_path_m(self) -> float:
        """The summed length of the actions' translation deltas."""
        return sum(float(np.linalg.norm(np.asarray(a.action[:3]))) for a in self.actions if not a.terminate)

    def _on_success(self, msg: Bool) -> None:
        self.success = self.success or msg.data

    def _on_action(self, msg: VLAAction) -> None:
        self.actions.append(msg)
        values = " ".join(f"{v:+.3f}" for v in msg.action)
        print(f"step {len(self.actions):3d}  tokens {' '.join(map(str, msg.tokens))}  action [{values}]"
              f"  {msg.inference_ms:5.0f} ms" + ("  TERMINATE" if msg.terminate else ""), flush=True)  # fmt: skip

    def _on_debug_image(self, msg: Image) -> None:
        self.frames.append(rgb_from_raw(msg.encoding, msg.height, msg.width, msg.step, msg.data))


def write_gif(frames: list[np.ndarray], path: Path, fps: float) -> None:
    import imageio.v3 as iio

    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, np.stack(frames), duration=1000 / fps, loop=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rt2 demo", description=__doc__)
    parser.add_argument("--robot", choices=sorted(SIM_ROBOT), help="default: the robot the model was trained on")
    parser.add_argument("--task", default="pick", help="sim task (see rt2_ros.sim.tasks)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--instruction", default="", help="default: the task's own instruction for this seed")
    parser.add_argument("--model", default=str(share_path("models/rt2-sim")))
    parser.add_argument("--image-size", type=int, help="camera side in px; default: the model's training camera")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds after the instruction before giving up")
    parser.add_argument("--gif", type=Path, default=Path("outputs/demo.gif"))
    args = parser.parse_args(argv)
    if not (Path(args.model) / "rt2_config.json").is_file():
        print(f"rt2 demo: no model at {args.model} (a folder with rt2_config.json); give --model", file=sys.stderr)
        return 2
    trained = _training_camera(Path(args.model))
    args.robot = args.robot or {"ur5e": "ur5", "panda": "franka"}.get(trained.get("robot", ""), "ur5")
    args.image_size = args.image_size or int(trained.get("camera_size", [224])[0])

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    children = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for cmd in node_commands(args.robot, args.model, args.task, args.seed, args.image_size)
    ]
    rclpy.init()
    watcher = DemoWatcher()
    outcome = "timeout"
    try:
        print(f"[demo] starting the sim ({args.robot}, {args.task}, seed {args.seed}) and rt2_node ({args.model})")
        _spin_until(watcher, children, lambda: watcher.task is not None and _listening(watcher), 180, "start-up")
        instruction = args.instruction or watcher.task["instruction"]
        print(f"[demo] instruction: {instruction!r}", flush=True)
        watcher.counting = True
        watcher.instruction_pub.publish(String(data=instruction))
        started = time.monotonic()
        _spin_until(watcher, children, lambda: watcher.success or watcher.state == "terminated", args.timeout, "")
        outcome = "success" if watcher.success else "terminated" if watcher.state == "terminated" else "timeout"
        elapsed = time.monotonic() - started
        rate = len(watcher.actions) / elapsed if elapsed > 0 else 0.0
        print(f"[demo] {outcome} after {len(watcher.actions)} steps in {elapsed:.1f} s ({rate:.1f} Hz achieved)")
        asked = watcher.asked_path_m()
        ratio = watcher.tool_path_m / asked if asked > 0 else float("nan")
        print(
            f"[demo] the tool moved {100 * watcher.tool_path_m:.1f} cm for the actions' {100 * asked:.1f} cm "
            f"(x{ratio:.2f}; 1.00 = each action moves its delta once, as rt2 eval steps the sim)"
        )
    except RuntimeError as error:
        print(f"[demo] {error}", file=sys.stderr)
        outcome = "error"
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            child.wait(timeout=20)
        watcher.destroy_node()
        rclpy.try_shutdown()
    if watcher.frames:
        write_gif(watcher.frames, args.gif, fps=10)
        print(f"[demo] episode GIF with the debug overlay: {args.gif} ({len(watcher.frames)} frames)")
    return 0 if outcome == "success" else 1


def _training_camera(model: Path) -> dict:
    """The robot and camera size the model was trained with (training.json, written by rt2 train), if known."""
    path = model / "training.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _listening(watcher: DemoWatcher) -> bool:
    return watcher.instruction_pub.get_subscription_count() > 0


def _spin_until(watcher: DemoWatcher, children, condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        rclpy.spin_once(watcher, timeout_sec=0.05)
        for child in children:
            if child.poll() is not None:
                raise RuntimeError(f"{' '.join(child.args[3:5])} exited: {child.stderr.read()[-2000:]}")
    if what and not condition():
        raise RuntimeError(f"{what} did not finish within {timeout:g} s")


if __name__ == "__main__":
    sys.exit(main())
