"""The node's state machine: every path that should stop the arm gives a zero twist."""

from __future__ import annotations

import numpy as np
import pytest

from rt2_ros.safety import SafetyLimits
from rt2_ros.supervisor import FAULT, IDLE, RUNNING, STOPPED, TERMINATED, Supervisor, SupervisorConfig

CONFIG = SupervisorConfig(
    control_period_s=0.1,
    image_timeout_s=0.3,
    instruction_timeout_s=10.0,
    command_max_age_s=0.5,
    limits=SafetyLimits(max_linear_speed=0.2, max_angular_speed=1.0),
)
FORWARD = np.array([0.01, 0, 0, 0, 0, 0.02])  # 1 cm and 0.02 rad per 0.1 s step


def running(now: float = 0.0) -> Supervisor:
    supervisor = Supervisor(CONFIG)
    supervisor.on_frame(now)
    supervisor.on_instruction("pick up the red cube", now)
    return supervisor


def moving(command) -> bool:
    return bool(np.any(command.linear) or np.any(command.angular))


def test_starts_idle_and_does_not_move():
    supervisor = Supervisor(CONFIG)
    supervisor.on_frame(0.0)
    assert supervisor.state == IDLE
    assert not supervisor.should_infer(0.0)
    assert not moving(supervisor.command(0.0, None))


def test_action_per_step_becomes_velocity_over_the_control_period():
    supervisor = running()
    supervisor.on_action(FORWARD, 1.0, False, 0.05)
    command = supervisor.command(0.06, None)
    assert command.linear == pytest.approx([0.1, 0, 0])
    assert command.angular == pytest.approx([0, 0, 0.2])
    assert command.gripper == 1.0
    assert supervisor.step == 1


def test_action_scale_applies_per_dimension():
    config = SupervisorConfig(action_scale=(0.5, 1, 1, 1, 1, 0.0))
    supervisor = Supervisor(config)
    supervisor.on_frame(0.0)
    supervisor.on_instruction("go", 0.0)
    supervisor.on_action(FORWARD, 0.0, False, 0.0)
    command = supervisor.command(0.01, None)
    assert command.linear == pytest.approx([0.05, 0, 0]) and command.angular == pytest.approx([0, 0, 0])


def test_stale_images_stop_the_arm_and_fresh_ones_resume_it():
    supervisor = running()
    supervisor.on_action(FORWARD, 0.0, False, 0.1)
    assert moving(supervisor.command(0.2, None))
    assert not moving(supervisor.command(0.31, None))  # last frame at 0.0, timeout 0.3
    assert not supervisor.should_infer(0.31)
    supervisor.on_frame(0.32)
    supervisor.on_action(FORWARD, 0.0, False, 0.4)
    assert moving(supervisor.command(0.41, None))


def test_a_stalled_model_is_not_repeated_forever():
    supervisor = running()
    supervisor.on_action(FORWARD, 0.0, False, 0.0)
    supervisor.on_frame(0.45)
    assert moving(supervisor.command(0.45, None))
    supervisor.on_frame(0.55)
    assert not moving(supervisor.command(0.55, None))


def test_each_action_moves_its_delta_once_however_slow_the_model():
    # Default config: actions arrive every 0.25 s (a model at 4 Hz against a 10 Hz control rate) and
    # the servo integrates the twist at 100 Hz. The arm must move 1 cm per action, as the sim's
    # evaluation steps it, not 2.5 cm by repeating each action until the next one.
    supervisor = Supervisor(SupervisorConfig(image_timeout_s=1.0))
    supervisor.on_frame(0.0)
    supervisor.on_instruction("go", 0.0)
    travelled = 0.0
    for tick in range(100):  # 1 s
        now = tick / 100
        if tick % 25 == 0:
            supervisor.on_frame(now)
            supervisor.on_action(np.array([0.01, 0, 0, 0, 0, 0]), 0.0, False, now)
        travelled += supervisor.command(now, None).linear[0] / 100
    assert travelled == pytest.approx(4 * 0.01, rel=0.15)  # within a servo tick per action (float times)


def test_stop_halts_at_once_and_start_resumes_as_a_new_episode():
    supervisor = running()
    supervisor.on_action(FORWARD, 1.0, False, 0.0)
    supervisor.stop(0.05)
    assert supervisor.state == STOPPED and not moving(supervisor.command(0.05, None))
    supervisor.on_action(FORWARD, 1.0, False, 0.06)  # an inference that was in flight
    assert not moving(supervisor.command(0.07, None))
    assert supervisor.start(0.1) and supervisor.state == RUNNING and supervisor.episode == 2


def test_start_without_an_instruction_is_refused():
    assert not Supervisor(CONFIG).start(0.0)


def test_empty_instruction_stops():
    supervisor = running()
    supervisor.on_action(FORWARD, 0.0, False, 0.0)
    supervisor.on_instruction("   ", 0.05)
    assert supervisor.state == STOPPED and not moving(supervisor.command(0.06, None))


def test_terminate_ends_the_episode_with_a_zero_twist():
    supervisor = running()
    supervisor.on_action(FORWARD, 0.0, False, 0.0)
    command = supervisor.on_action(FORWARD, 0.0, True, 0.1)
    assert supervisor.state == TERMINATED and not moving(command)
    assert not moving(supervisor.command(0.15, None))
    assert not supervisor.should_infer(0.15)


def test_instruction_timeout_stops_and_says_why():
    supervisor = running()
    for t in np.arange(0.0, 10.0, 0.1):
        supervisor.on_frame(t)
        supervisor.on_action(FORWARD, 0.0, False, t)
    supervisor.on_frame(10.05)
    assert not moving(supervisor.command(10.05, None))
    assert supervisor.state == STOPPED and "timeout" in supervisor.last_fault


@pytest.mark.parametrize(("delta", "gripper"), [([np.nan, 0, 0, 0, 0, 0], 0.0), ([0.0] * 6, np.inf), ([0.0] * 5, 0.0)])
def test_invalid_actions_fault_with_a_zero_twist(delta, gripper):
    supervisor = running()
    supervisor.on_action(FORWARD, 0.0, False, 0.0)
    supervisor.on_action(np.array(delta), gripper, False, 0.1)
    assert supervisor.state == FAULT and "invalid action" in supervisor.last_fault
    assert not moving(supervisor.command(0.11, None))
    supervisor.on_instruction("try again", 0.2)  # a new instruction recovers
    assert supervisor.state == RUNNING


def test_model_error_faults_and_keeps_the_gripper_where_it_is():
    supervisor = running()
    supervisor.on_action(FORWARD, 1.0, False, 0.0)
    supervisor.on_fault("RuntimeError: out of memory", 0.1)
    command = supervisor.command(0.11, None)
    assert not moving(command) and command.gripper == 1.0
    assert supervisor.last_fault.startswith("RuntimeError")


def test_published_twists_respect_limits_and_workspace():
    supervisor = running()
    supervisor.on_action(np.array([0.5, 0.5, -0.5, 3, 3, 3]), 0.0, False, 0.0)
    command = supervisor.command(0.01, np.array([0.3, 0.0, 0.005]))  # just above the floor (z min 0)
    assert np.linalg.norm(command.linear) <= 0.2 + 1e-9 and np.linalg.norm(command.angular) <= 1.0 + 1e-9
    assert command.linear[2] == 0.0


def test_the_next_action_waits_for_a_frame_taken_after_the_last_one_moved_the_arm():
    supervisor = running()  # command_max_age 0.5 s, settle 0.05 s
    assert supervisor.frame_follows_action(0.0)  # no action yet: any frame will do
    supervisor.on_action(FORWARD, 0.0, False, 1.0)
    assert supervisor.action_ends_at() == pytest.approx(1.5)
    assert not supervisor.frame_follows_action(1.0)  # taken as the action began: it shows the arm before it
    assert not supervisor.frame_follows_action(1.52)  # the twist stopped, the arm is still settling
    assert supervisor.frame_follows_action(1.56)
    supervisor.on_action(FORWARD, 0.0, True, 2.0)  # terminate: nothing in force, nothing to wait for
    assert supervisor.action_ends_at() is None and supervisor.frame_follows_action(2.0)


def test_without_settling_any_new_frame_will_do():
    supervisor = Supervisor(SupervisorConfig(settle_s=None))
    supervisor.on_frame(0.0)
    supervisor.on_instruction("go", 0.0)
    supervisor.on_action(FORWARD, 0.0, False, 1.0)
    assert supervisor.frame_follows_action(1.0)
