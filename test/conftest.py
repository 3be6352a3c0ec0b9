"""Test isolation shared by every test.

ROS: each pytest process gets its own DDS domain on loopback only, set before anything starts
rclpy, and inherited by every child process a test starts. Child processes are ended by the
fixture that starts them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Domain ids 1..100: Fast DDS derives ports from them and keeps well inside the valid range there.
os.environ["ROS_DOMAIN_ID"] = str(1 + os.getpid() % 100)
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("MUJOCO_GL", "egl")
# Child processes import this checkout's modules (not a stale installed copy).
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))


class ChildProcesses:
    """Starts `python -m ...` children and guarantees they are gone when the test ends."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen] = []

    def start(self, *args: str, **kwargs) -> subprocess.Popen:
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("text", True)
        process = subprocess.Popen([sys.executable, *args], cwd=REPO, start_new_session=True, **kwargs)
        self.processes.append(process)
        return process

    def end_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def children():
    processes = ChildProcesses()
    yield processes
    processes.end_all()


@pytest.fixture
def ros_node():
    """An rclpy node in the test process, for publishing to and calling the processes under test."""
    import rclpy
    from rclpy.node import Node

    rclpy.init()
    node = Node("rt2_test")
    yield node
    node.destroy_node()
    rclpy.try_shutdown()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random PaliGemma-style VLA folder with 256 added action tokens, built once per session (~2 s).

    Load it with `rt2_ros.policy.Policy.from_pretrained(tiny_model_dir)`; treat it as read-only
    (copy it first to change its rt2_config.json).
    """
    import torch

    from rt2_ros.vla.tiny import build_tiny_vla

    torch.set_num_threads(1)
    return build_tiny_vla(tmp_path_factory.mktemp("models") / "tiny-paligemma", size="tiny", vocab="added", seed=0)


# What the taught model answers, whatever the image: fixed actions a test can recognise.
TAUGHT_ACTIONS = {
    "move forward": "0 176 128 128 128 128 128 255",  # +x, gripper closed, never terminates
    "move left": "0 128 176 128 128 128 128 0",  # +y, gripper open
    "you are done": "1 128 128 128 128 128 128 255",  # terminate
}


@pytest.fixture(scope="session")
def taught_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny VLA fitted (a few seconds) to answer TAUGHT_ACTIONS for any camera image: a real model
    with predictable behaviour, for tests of the node and the closed loop.
    """
    import numpy as np
    import torch
    from tiny_fit import fit_and_save

    from rt2_ros.vla import VLA
    from rt2_ros.vla.training import build_example

    torch.manual_seed(0)
    vla = VLA.from_pretrained(tiny_model_dir)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8) for _ in range(3)]
    images += [np.full((64, 64, 3), value, dtype=np.uint8) for value in (0, 128, 255)]
    examples = [
        build_example(vla, image, vla.action_prompt(instruction), target)
        for instruction, target in TAUGHT_ACTIONS.items()
        for image in images
    ]
    return fit_and_save(vla, examples, tmp_path_factory.mktemp("models") / "taught")
