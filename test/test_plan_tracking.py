"""Plan decoding rules kept in rt2_config.json: tracked object and goal points, offsets computed from the points.

A real tiny VLA is fitted to write one fixed plan (whose offsets are deliberately wrong) for any
image (tiny_fit.fit_planner), so each rule's effect on what it writes can be seen exactly.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
import torch
from tiny_fit import (
    ACTION,
    CARRY_INSTRUCTION,
    HOVER_INSTRUCTION,
    IMAGE,
    INSTRUCTION,
    OTHER_IMAGE,
    POINTED,
    WRITTEN_PLAN,
    fit_planner,
)

from rt2_ros.gripper_state import GripperState
from rt2_ros.plan_grammar import plan_points
from rt2_ros.policy import ANCHOR_CLOSED_STEPS, Policy
from rt2_ros.tool_points import ArmView, CameraCalibration
from rt2_ros.vla.config import VLAConfig
from rt2_ros.vla.decoding import decode_action_after_plan

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def planner_dir(tiny_model_dir, tmp_path_factory):
    return fit_planner(tiny_model_dir, tmp_path_factory.mktemp("models") / "planner")


def policy_with(folder, tmp_path, policy_class: type[Policy] = Policy, **settings) -> Policy:
    """The planner with some rt2_config.json decoding settings changed (in a copy)."""
    copy = tmp_path / "model"
    shutil.copytree(folder, copy)
    config = VLAConfig.load(copy)
    for key, value in settings.items():
        setattr(config, key, value)
    config.save(copy)
    return policy_class.from_pretrained(copy)


class CountingPolicy(Policy):
    """A Policy that records every name it is asked to point at, in order."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.asked: list[str] = []

    def point(self, image, name):
        self.asked.append(name)
        return super().point(image, name)


def test_by_default_the_plan_is_written_as_taught(planner_dir, tmp_path):
    policy = policy_with(planner_dir, tmp_path)
    assert policy.act(IMAGE, INSTRUCTION).plan == WRITTEN_PLAN
    policy.last_plan_points = {"object": np.array([500, 300])}  # no window: the last plan changes nothing
    assert policy.act(IMAGE, INSTRUCTION).plan == WRITTEN_PLAN


def test_a_tracked_object_point_stays_near_the_last_steps(planner_dir, tmp_path):
    policy = policy_with(planner_dir, tmp_path, plan_track_window=40)
    first = policy.act(IMAGE, INSTRUCTION)
    assert first.plan == WRITTEN_PLAN  # an episode's first plan is free
    policy.last_plan_points = {"object": np.array([500, 320])}  # as if the last step had seen it there
    points = plan_points(policy.act(IMAGE, INSTRUCTION).plan)
    assert 460 <= points["object"][0] <= 540  # taught 700: held within 40 bins of 500
    assert points["object"][1] == 300  # taught 300 lies inside the window of 320: unchanged
    assert points["gripper"].tolist() == [400, 500]  # the gripper is not tracked: it moves fast
    assert abs(policy.last_plan_points["object"][0] - 500) <= 40  # the next step tracks from here
    policy.reset()
    assert policy.act(IMAGE, INSTRUCTION).plan == WRITTEN_PLAN  # a new episode starts free again


def test_a_located_object_point_is_where_the_model_points_to_the_object_it_names(planner_dir, tmp_path):
    policy = policy_with(planner_dir, tmp_path, plan_locate="first")
    assert policy.point(IMAGE, "cube").tolist() == [500, 300]  # asked directly
    first = policy.act(IMAGE, INSTRUCTION)
    # The plan names the cube; its point is the pointing answer, the rest of the plan as taught.
    assert first.plan == WRITTEN_PLAN.replace("cube<loc0700><loc0300>", f"cube{POINTED}")
    assert policy.act(IMAGE, INSTRUCTION).plan == WRITTEN_PLAN  # "first": later steps are the plan's own
    policy.reset()
    assert policy.act(IMAGE, INSTRUCTION).plan == first.plan  # a new episode asks again


def test_a_located_object_stays_the_anchor_until_the_gripper_closes(planner_dir, tmp_path):
    policy = policy_with(planner_dir, tmp_path, plan_locate="first", plan_track_window=40)
    first = policy.act(IMAGE, HOVER_INSTRUCTION)
    assert plan_points(first.plan)["object"].tolist() == [500, 300] and first.gripper < 0.5
    policy.vla.config.plan_track_window = 0  # one free step: the plan writes the taught 700 again
    free = policy.act(IMAGE, HOVER_INSTRUCTION)
    assert plan_points(free.plan)["object"].tolist() == [700, 300] and free.gripper < 0.5
    # ...but the next step is still tracked from where the object was located: nothing has moved it yet.
    assert policy.last_plan_points["object"].tolist() == [500, 300]
    policy.vla.config.plan_track_window = 40
    assert 460 <= plan_points(policy.act(IMAGE, HOVER_INSTRUCTION).plan)["object"][0] <= 540
    # While the fingers close (nothing says they hold the object yet) it has not moved: still the anchor.
    for _ in range(ANCHOR_CLOSED_STEPS - 1):
        assert policy.act(IMAGE, INSTRUCTION).gripper > 0.5
        assert policy.last_plan_points["object"].tolist() == [500, 300]
    closed = policy.act(IMAGE, INSTRUCTION)
    # Closed long enough to have closed on it: the object moves with the gripper, tracked from this plan's point.
    assert policy.last_plan_points["object"].tolist() == plan_points(closed.plan)["object"].tolist()
    policy.vla.config.plan_track_window = 0
    free = policy.act(IMAGE, HOVER_INSTRUCTION)
    assert policy.last_plan_points["object"].tolist() == plan_points(free.plan)["object"].tolist() == [700, 300]


def test_fingers_that_hold_something_release_the_located_anchor_at_once(planner_dir, tmp_path):
    policy = policy_with(planner_dir, tmp_path, plan_locate="first", plan_hold=["object"])
    assert plan_points(policy.act(IMAGE, HOVER_INSTRUCTION).plan)["object"].tolist() == [500, 300]
    empty, holding = ArmView(DOWN_CAMERA, TOOL, 0.02, holding=False), ArmView(DOWN_CAMERA, TOOL, 0.02, holding=True)
    assert policy.act(IMAGE, INSTRUCTION, empty).gripper > 0.5  # told to close; the fingers are still open
    closing = policy.act(IMAGE, INSTRUCTION, empty)  # closing, or closed on air: the object is where it was
    assert plan_points(closing.plan)["object"].tolist() == [500, 300]
    policy.act(IMAGE, INSTRUCTION, holding)  # the fingers stopped on something: it moves with them now
    assert plan_points(policy.act(IMAGE, INSTRUCTION, holding).plan)["object"].tolist() == [700, 300]


def test_a_held_located_object_is_written_exactly_until_the_gripper_closes_on_it(planner_dir, tmp_path):
    policy = policy_with(planner_dir, tmp_path, plan_locate="first", plan_hold=["object"])
    for _ in range(3):  # located at the first step, then held exactly: no window lets the taught 700 back
        hovering = policy.act(IMAGE, HOVER_INSTRUCTION)
        assert plan_points(hovering.plan)["object"].tolist() == [500, 300] and hovering.gripper < 0.5
    for _ in range(ANCHOR_CLOSED_STEPS):
        assert policy.act(IMAGE, INSTRUCTION).gripper > 0.5
    # Closed on it: from here the object moves with the gripper.
    assert plan_points(policy.act(IMAGE, INSTRUCTION).plan)["object"].tolist() == [700, 300]


def test_a_held_goal_is_the_first_plans_for_the_whole_episode(planner_dir, tmp_path):
    policy = policy_with(planner_dir, tmp_path)
    assert plan_points(policy.act(IMAGE, CARRY_INSTRUCTION).plan)["goal"].tolist() == [200, 800]
    assert plan_points(policy.act(OTHER_IMAGE, CARRY_INSTRUCTION).plan)["goal"].tolist() == [300, 800]
    shutil.rmtree(tmp_path / "model")
    policy = policy_with(planner_dir, tmp_path, plan_hold=["goal"])
    for image in (IMAGE, OTHER_IMAGE, OTHER_IMAGE):
        assert plan_points(policy.act(image, CARRY_INSTRUCTION).plan)["goal"].tolist() == [200, 800]
    policy.reset()  # a new episode finds its goal again
    assert plan_points(policy.act(OTHER_IMAGE, CARRY_INSTRUCTION).plan)["goal"].tolist() == [300, 800]


def test_a_located_goal_is_where_the_model_points_to_the_goal_the_instruction_names(planner_dir, tmp_path):
    policy = policy_with(planner_dir, tmp_path, CountingPolicy, plan_locate_goal=True, plan_hold=["goal"])
    located = policy.point(IMAGE, "plate").tolist()  # never taught: somewhere the taught plan's goal is not
    assert located != [200, 800]
    policy.asked.clear()
    for image in (IMAGE, OTHER_IMAGE, OTHER_IMAGE):  # found once, then held for the episode
        plan = policy.act(image, CARRY_INSTRUCTION).plan
        assert plan_points(plan)["goal"].tolist() == located
        # Every point is two location tokens, even where the model, surprised by a row it was not taught,
        # wrote a word instead of the column or a third token after the held goal.
        assert len(re.findall(r"<loc\d{4}>", plan)) == 2 * len(plan_points(plan)), plan
    assert policy.asked == ["plate"]
    policy.reset()  # an instruction that names no goal asks nothing and writes the plan as taught
    assert policy.act(IMAGE, INSTRUCTION).plan == WRITTEN_PLAN and policy.asked == ["plate"]


def test_held_points_are_checked_when_a_model_loads(planner_dir):
    config = VLAConfig.load(planner_dir)
    config.plan_hold = ["object"]
    with pytest.raises(ValueError, match='plan_hold "object" holds the point plan_locate "first" found'):
        VLAConfig.from_dict(config.to_dict())
    config.plan_hold = ["gripper"]
    with pytest.raises(ValueError, match="plan_hold may hold object and goal"):
        VLAConfig.from_dict(config.to_dict())


def test_a_locate_window_lets_the_plan_choose_near_the_pointed_object(planner_dir, tmp_path):
    policy = policy_with(planner_dir, tmp_path, plan_locate="every", plan_locate_window=30)
    for _ in range(2):  # "every": each step's plan is anchored, not only the first
        points = plan_points(policy.act(IMAGE, INSTRUCTION).plan)
        assert 470 <= points["object"][0] <= 530  # taught 700: held within 30 bins of the pointed 500
        assert points["object"][1] == 300  # taught 300 is the pointed column too
        assert points["gripper"].tolist() == [400, 500]


def test_offsets_by_code_follow_the_written_points(planner_dir, tmp_path):
    policy = policy_with(planner_dir, tmp_path, plan_offsets_by_code=True)
    action = policy.act(IMAGE, INSTRUCTION)
    # reach = object - below + 512, drop = below - gripper + 512; the model's own (wrong) ones are gone.
    expected = WRITTEN_PLAN.split(" reach")[0] + " reach<loc0612><loc0312> drop<loc0712><loc0512>"
    assert action.plan == expected
    assert len(action.tokens) == 8  # the action follows the computed offsets (it may differ from the taught one)


def test_decoding_settings_are_checked_when_a_model_loads(planner_dir, tmp_path):
    config = VLAConfig.load(planner_dir)
    config.plan_offsets = "gripper"
    config.plan_offsets_by_code = True
    with pytest.raises(ValueError, match="plan_offsets_by_code needs a model trained with --plan-offsets below"):
        VLAConfig.from_dict(config.to_dict())
    config.plan_offsets, config.plan_offsets_by_code, config.plan_track_window = "below", False, -1
    with pytest.raises(ValueError, match="plan_track_window must be 0"):
        VLAConfig.from_dict(config.to_dict())
    config.plan_track_window, config.plan_locate = 0, "sometimes"
    with pytest.raises(ValueError, match="plan_locate must be one of"):
        VLAConfig.from_dict(config.to_dict())


def test_the_action_after_a_given_plan_is_the_one_after_the_same_plan_written(planner_dir, tmp_path):
    policy = policy_with(planner_dir, tmp_path)
    own = policy.act(IMAGE, INSTRUCTION)
    vla = policy.vla
    inputs = vla.encode_prompt(IMAGE, vla.action_prompt(INSTRUCTION, GripperState().text()))
    given = decode_action_after_plan(vla, inputs, own.plan)
    assert given.bins.tolist() == own.tokens == [int(t) for t in ACTION.split()]


# Looking straight down from 1 m over the base origin; the tool 10 cm forward and 5 cm left, 30 cm up.
DOWN_CAMERA = CameraCalibration(64, 64, 64.0, 64.0, 32.0, 32.0, np.diag([1.0, -1.0, -1.0]), np.array([0.0, 0.0, 1.0]))
TOOL = np.array([0.1, 0.05, 0.3])


def test_the_arms_own_points_replace_the_ones_the_model_writes(planner_dir, tmp_path):
    policy = policy_with(planner_dir, tmp_path, plan_tool_points=True, plan_offsets_by_code=True)
    arm = ArmView(DOWN_CAMERA, TOOL, object_height=0.02, holding=False)
    given = arm.plan_points()
    assert given["gripper"].tolist() != [400, 500] and given["below"].tolist() != [600, 500]
    action = policy.act(IMAGE, INSTRUCTION, arm)
    points = plan_points(action.plan)
    assert points["object"].tolist() == [700, 300]  # the object stays the model's
    assert points["gripper"].tolist() == given["gripper"].tolist()
    assert points["below"].tolist() == given["below"].tolist()
    # The offsets the action reads are computed from the arm's points.
    assert points["reach"].tolist() == (points["object"] - points["below"] + 512).tolist()
    assert points["drop"].tolist() == (points["below"] - points["gripper"] + 512).tolist()
    # Fingers stopped by an object: it is at the tool, so the below point is the tool's (as in training plans).
    holding = plan_points(policy.act(IMAGE, INSTRUCTION, ArmView(DOWN_CAMERA, TOOL, 0.02, holding=True)).plan)
    assert holding["below"].tolist() == holding["gripper"].tolist() == given["gripper"].tolist()
    # Closure not measured: while the gripper is commanded closed nothing tells held from closed on air,
    # so the model writes its own points; while open it cannot be holding, so the arm's are used.
    unknown = ArmView(DOWN_CAMERA, TOOL, 0.02, holding=None)
    policy.gripper_state = GripperState().after(1.0)
    assert plan_points(policy.act(IMAGE, HOVER_INSTRUCTION, unknown).plan)["gripper"].tolist() == [400, 500]
    policy.gripper_state = GripperState()
    assert plan_points(policy.act(IMAGE, HOVER_INSTRUCTION, unknown).plan)["below"].tolist() == given["below"].tolist()


def test_below_goal_offsets_lower_a_carried_objects_tool_to_the_goal_when_the_plan_has_one(planner_dir, tmp_path):
    """With offsets "below-goal", while the fingers hold the object the below point is the tool lowered to the
    table (where the goal is), so move = goal - below is zero exactly over the goal, as in the training plans."""
    policy = policy_with(
        planner_dir, tmp_path, plan_tool_points=True, plan_offsets_by_code=True, plan_offsets="below-goal"
    )
    # A tool the camera sees where the planner learnt to write the gripper, so it goes on writing its plan.
    holding = ArmView(DOWN_CAMERA, np.array([-0.0082, 0.07655, 0.3]), object_height=0.02, holding=True)
    given = holding.plan_points()
    assert given["gripper"].tolist() == [400, 500]
    assert given["below_goal"].tolist() != given["below"].tolist() == given["gripper"].tolist()
    carry = plan_points(policy.act(IMAGE, CARRY_INSTRUCTION, holding).plan)
    assert carry["below"].tolist() == given["below_goal"].tolist()
    assert carry["move"].tolist() == (carry["goal"] - carry["below"] + 512).tolist()
    # No goal in the plan (a pick): a held object's below point stays the tool's own.
    policy.reset()
    assert plan_points(policy.act(IMAGE, INSTRUCTION, holding).plan)["below"].tolist() == given["gripper"].tolist()
    # Offsets "below": the carried object's below point is the tool's, goal or not.
    shutil.rmtree(tmp_path / "model")
    below = policy_with(planner_dir, tmp_path, plan_tool_points=True, plan_offsets_by_code=True)
    assert plan_points(below.act(IMAGE, CARRY_INSTRUCTION, holding).plan)["below"].tolist() == given["gripper"].tolist()


def test_without_the_setting_or_the_arms_state_the_model_writes_its_own_points(planner_dir, tmp_path):
    arm = ArmView(DOWN_CAMERA, TOOL, object_height=0.02, holding=False)
    assert policy_with(planner_dir, tmp_path, plan_tool_points=False).act(IMAGE, INSTRUCTION, arm).plan == WRITTEN_PLAN
    shutil.rmtree(tmp_path / "model")
    assert policy_with(planner_dir, tmp_path, plan_tool_points=True).act(IMAGE, INSTRUCTION).plan == WRITTEN_PLAN
    config = VLAConfig.load(planner_dir)
    config.plan_trained, config.plan_tool_points = False, True
    with pytest.raises(ValueError, match="plan_tool_points needs a plan-trained model"):
        VLAConfig.from_dict(config.to_dict())


def test_an_object_named_by_attribute_is_located_as_the_instruction_names_it(planner_dir, tmp_path):
    policy = policy_with(planner_dir, tmp_path, CountingPolicy, plan_locate="first", plan_locate_attribute=True)
    located = policy.point(IMAGE, "smallest object").tolist()
    assert located != [700, 300]  # not where the taught plan puts the cube
    policy.asked.clear()
    plan = policy.act(IMAGE, "pick up the smallest object").plan
    # The plan still calls it what it likes (the cube); its point is where "the smallest object" is.
    assert policy.asked == ["smallest object"] and plan_points(plan)["object"].tolist() == located, plan
    policy.reset()  # an object named by its shape is asked for by the name the plan gives it, as before
    assert policy.act(IMAGE, INSTRUCTION).plan == WRITTEN_PLAN.replace("cube<loc0700><loc0300>", f"cube{POINTED}")
    assert policy.asked == ["smallest object", "cube"]
    config = VLAConfig.load(tmp_path / "model")
    config.plan_locate = ""
    with pytest.raises(ValueError, match="plan_locate_attribute changes what plan_locate asks for"):
        VLAConfig.from_dict(config.to_dict())


def test_fingers_shut_on_nothing_open_again_and_the_object_is_located_anew(planner_dir, tmp_path):
    settings = {"plan_locate": "first", "plan_hold": ["object"], "regrasp_after_steps": 3}
    policy = policy_with(planner_dir, tmp_path, CountingPolicy, **settings)
    low = np.array([TOOL[0], TOOL[1], 0.03])  # 1 cm above the objects' height: where a grasp closes
    empty = ArmView(DOWN_CAMERA, low, 0.02, holding=False)
    assert policy.act(IMAGE, INSTRUCTION, empty).gripper > 0.5  # the taught action closes the gripper
    # Closed, and the fingers measured shut on nothing for 3 steps: the third step opens them.
    assert [policy.act(IMAGE, INSTRUCTION, empty).gripper for _ in range(3)] == [1.0, 1.0, 0.0]
    assert policy.asked == ["cube"] and policy.gripper_state.text() == "gripper open 1"
    # The next plan starts over: the object is asked for again and written where it is pointed.
    again = policy.act(IMAGE, INSTRUCTION, empty)
    assert policy.asked == ["cube", "cube"] and plan_points(again.plan)["object"].tolist() == [500, 300]
    # Holding something, not measured, or closed high above the objects (as a push closes at home): kept closed.
    for arm in (ArmView(DOWN_CAMERA, low, 0.02, holding=True), None, ArmView(DOWN_CAMERA, TOOL, 0.02, holding=False)):
        policy.reset()
        assert all(policy.act(IMAGE, INSTRUCTION, arm).gripper > 0.5 for _ in range(6))
    config = VLAConfig.load(tmp_path / "model")
    config.regrasp_after_steps = -1
    with pytest.raises(ValueError, match="regrasp_after_steps must be 0"):
        VLAConfig.from_dict(config.to_dict())


def test_an_object_is_located_as_the_instruction_names_it_whatever_the_plan_calls_it(planner_dir, tmp_path):
    """plan_locate_named: the plan writes only names from the robot data (it calls a purple cube "blue cube"),
    so the object's point is the answer to the instruction's own phrase for it."""
    policy = policy_with(planner_dir, tmp_path, CountingPolicy, plan_locate="first", plan_locate_named=True)
    located = policy.point(IMAGE, "purple cube").tolist()
    policy.asked.clear()
    plan = policy.act(IMAGE, "pick the purple cube up off the table").plan
    assert policy.asked == ["purple cube"] and plan_points(plan)["object"].tolist() == located, plan
    assert plan.startswith("cube")  # the plan's own words are kept: only the point is the instruction's object
    policy.reset()  # an attribute phrase is asked for as such when plan_locate_attribute is on too
    policy.vla.config.plan_locate_attribute = True
    policy.act(IMAGE, "lift the largest thing on the table")
    assert policy.asked[-1] == "largest thing on the table"
    config = VLAConfig.load(tmp_path / "model")
    config.plan_locate = ""
    with pytest.raises(ValueError, match="plan_locate_named changes what plan_locate asks for"):
        VLAConfig.from_dict(config.to_dict())


def test_a_plan_never_ends_where_a_named_point_is_due(planner_dir):
    """A model that would end its plan on an object's name (as the shipped one did on a colour the robot data
    never showed) writes the located point there instead; after a whole point it may end as it likes."""
    from rt2_ros.vla import VLA
    from rt2_ros.vla.decoding import _PointTracker

    vla = VLA.from_pretrained(planner_dir)
    located = np.array([321, 654])
    tracker = _PointTracker(vla, {}, locate=lambda name: located)
    eos = vla.tokenizer.eos_token_id
    logits = torch.zeros(len(vla.text_banned))
    logits[eos] = 10.0  # the model wants to stop
    assert tracker("purple cylinder", eos, logits) == int(vla.loc_ids[321])
    assert tracker("purple cylinder<loc0321>", eos, logits) == int(vla.loc_ids[654])
    assert tracker("purple cylinder<loc0321><loc0654>", eos, logits) == eos
    assert tracker("", eos, logits) == eos  # nothing named yet: no point is due


def test_after_a_release_the_object_is_located_anew_when_the_setting_says_so(planner_dir, tmp_path):
    """relocate_after_release: the fingers held something and, with the gripper open, hold nothing now."""
    for setting, asked in ((True, ["cube", "cube"]), (False, ["cube"])):
        shutil.rmtree(tmp_path / "model", ignore_errors=True)
        policy = policy_with(planner_dir, tmp_path, CountingPolicy, plan_locate="first", relocate_after_release=setting)
        for holding in (False, True, True):  # located at the first step, then held
            policy.act(IMAGE, INSTRUCTION, ArmView(DOWN_CAMERA, TOOL, 0.02, holding=holding))
        assert policy.asked == ["cube"]
        policy.last_gripper = 1.0  # still commanded closed: a slip, not a release (regrasp_after_steps' case)
        policy.act(IMAGE, INSTRUCTION, ArmView(DOWN_CAMERA, TOOL, 0.02, holding=False))
        assert policy.asked == ["cube"]
        policy.was_holding, policy.last_gripper = True, 0.0  # let go
        policy.act(IMAGE, INSTRUCTION, ArmView(DOWN_CAMERA, TOOL, 0.02, holding=False))
        assert policy.asked == asked, setting
    config = VLAConfig.load(tmp_path / "model")
    config.relocate_after_release, config.plan_locate = True, ""
    with pytest.raises(ValueError, match="relocate_after_release locates as plan_locate"):
        VLAConfig.from_dict(config.to_dict())
