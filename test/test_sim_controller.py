"""The Servo-like controller: tracks twists, halts on a command timeout, ignores stale commands."""

from __future__ import annotations

import numpy as np
import pytest

from rt2_ros.sim import TabletopSim
from rt2_ros.sim.servo import orientation_error, rotation_vector_to_mat


@pytest.fixture(scope="module", params=["ur5e", "panda"])
def sim(request):
    sim = TabletopSim(request.param, cameras={})
    yield sim
    sim.close()


@pytest.mark.parametrize("frame", ["base_link", "tcp"])
def test_tracks_a_commanded_twist_within_2_mm_and_half_a_degree_over_1_s(sim, frame):
    sim.reset("pick", 0)
    twist = np.array([0.05, -0.04, 0.03, 0.15, -0.1, 0.3])  # m/s, rad/s
    p0, r0 = sim.tcp_pose()
    t0 = sim.time
    worst_position, worst_angle = 0.0, 0.0
    while sim.time - t0 < 1.0 - 1e-9:
        sim.command_twist(twist, frame=frame)  # re-sent every 0.1 s, like a 10 Hz policy
        for _ in range(sim.substeps):
            sim.step()
            t = sim.time - t0
            if frame == "base_link":  # constant twist in the base frame: p0 + v t, exp(w t) R0
                expected_p, expected_r = p0 + twist[:3] * t, rotation_vector_to_mat(twist[3:] * t) @ r0
            else:  # constant twist in the tool frame: integrate the body-fixed motion exactly enough
                expected_p, expected_r = tool_frame_pose(p0, r0, twist, t)
            p, r = sim.tcp_pose()
            worst_position = max(worst_position, np.linalg.norm(p - expected_p))
            worst_angle = max(worst_angle, np.degrees(np.linalg.norm(orientation_error(expected_r, r))))
    assert np.linalg.norm(sim.tcp_pose()[0] - p0) > 0.05, "it really moved"
    assert worst_position < 0.002
    assert worst_angle < 0.5


def tool_frame_pose(p0, r0, twist, t, steps=2000):
    p, r = p0.copy(), r0.copy()
    dt = t / steps
    for _ in range(steps):
        p = p + r @ twist[:3] * dt
        r = rotation_vector_to_mat(r @ twist[3:] * dt) @ r
    return p, r


def test_timeout_halts_motion(sim):
    sim.reset("pick", 0)
    start = sim.tcp_pose()[0]
    sim.command_twist([0.0, 0.1, 0.0, 0, 0, 0])  # once, then silence
    sim.step(round(0.1 / sim.model.opt.timestep))  # within incoming_command_timeout: moving
    moving = sim.tcp_pose()[0]
    assert moving[1] - start[1] > 0.008
    sim.step(round(0.4 / sim.model.opt.timestep))  # timed out: halted smoothly
    halted = sim.tcp_pose()[0]
    assert sim.servo.halted
    assert np.linalg.norm(halted - moving) < 0.004, "it stops within a few millimetres, no lurch"
    sim.step(round(1.0 / sim.model.opt.timestep))
    assert np.linalg.norm(sim.tcp_pose()[0] - halted) < 0.0005, "and stays"


def test_stale_or_unknown_frame_commands_are_rejected(sim):
    sim.reset("pick", 0)
    start = sim.tcp_pose()[0]
    assert not sim.command_twist([0.1, 0, 0, 0, 0, 0], stamp=sim.time - 0.15)
    assert not sim.command_twist([0.1, 0, 0, 0, 0, 0], frame="camera_link")
    sim.step(100)
    assert np.linalg.norm(sim.tcp_pose()[0] - start) < 1e-4
    assert sim.command_twist([0.1, 0, 0, 0, 0, 0], stamp=sim.time - 0.05)


def test_gripper_is_zero_open_to_one_closed(sim):
    sim.reset("pick", 0)
    assert sim.gripper_position() < 0.05
    sim.command_gripper(1.0)
    sim.step(400)
    assert sim.gripper_position() > 0.9
    sim.command_gripper(0.0)
    sim.step(400)
    assert sim.gripper_position() < 0.05
