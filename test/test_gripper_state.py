"""The gripper state of the action prompt: last command and the steps it has held, from the policy's own history."""

from rt2_ros.gripper_state import HELD_CAP, GripperState, episode_states


def test_a_grasp_and_a_release_count_from_the_step_after_each_command():
    # An expert pick-and-place: approach open, close and hold, carry, open and hold, go up.
    commands = [0.0] * 3 + [1.0] * 12 + [0.0] * 4
    texts = [state.text() for state in episode_states(commands)]
    assert len(texts) == len(commands)
    assert texts[:4] == ["gripper open 9"] * 4, "until a close has been sent, the gripper is open"
    assert texts[4:11] == [f"gripper closed {n}" for n in range(1, 8)]
    assert texts[13:16] == ["gripper closed 9"] * 3, f"counts stop at {HELD_CAP}"
    assert texts[16:] == ["gripper open 1", "gripper open 2", "gripper open 3"]


def test_commands_between_open_and_closed_split_at_the_middle():
    state = GripperState()
    assert state.after(0.4) == GripperState(closed=False, held=HELD_CAP)
    assert state.after(0.6) == GripperState(closed=True, held=1)
