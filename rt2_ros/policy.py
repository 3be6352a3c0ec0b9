"""Policy: the one API that the node, replay, evaluation and the demo call: image + instruction -> Action.

ROS-free. It validates inputs (typed errors), runs the VLA with the chosen decoding, decodes bins
into a continuous action, and returns timing as data with every answer.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rt2_ros.glimpse import (
    CANDIDATE_COLUMNS,
    CANDIDATE_ROWS,
    GLIMPSE_QUESTION,
    MERGE_LOC_BINS,
    crop_glimpse,
    distinct_places,
    find_named,
    names_a_symbol,
)
from rt2_ros.gripper_state import CLOSED_ABOVE, GripperState
from rt2_ros.images import InvalidImageError, to_pil
from rt2_ros.instruction_phrases import attribute_name, goal_name, object_name
from rt2_ros.plan_grammar import LOCATE_QUESTION, loc_to_pixel, plan_points
from rt2_ros.tool_points import ArmView
from rt2_ros.vla.decoding import (
    DECODINGS,
    answer_text,
    decode_action,
    decode_with_plan,
    point_answer,
    ranked_points,
)
from rt2_ros.vla.model import VLA

__all__ = ["Action", "InvalidImageError", "Policy"]

# The expert keeps a grasp this many control steps before it lifts (rt2_ros.sim.expert); by then the
# fingers have closed on whatever was between them.
ANCHOR_CLOSED_STEPS = 7
# A gripper closed with the tool this close above the objects' height is a grasp (the expert closes 0.3 cm
# above it); regrasp_after_steps reopens only those.
GRASP_HEIGHT = 0.03  # m


@dataclass
class Action:
    """One decoded action. `delta` and `gripper` follow docs/conventions.md (base frame, per control step)."""

    terminate: bool
    delta: np.ndarray  # (6,) float32: dx dy dz (m) droll dpitch dyaw (rad) per control step, base frame
    gripper: float  # 0 = open .. 1 = closed; the last command while gripper_sticky_steps holds it
    tokens: list[int]  # the 8 bins the model decoded, RT-2 order: terminate dx dy dz droll dpitch dyaw gripper
    plan: str = ""  # chain-of-thought text, "" when unused
    timing_ms: dict[str, float] = field(default_factory=dict)  # at least preprocess, model, total

    def as_array(self) -> np.ndarray:
        """(7,) float32: dx dy dz droll dpitch dyaw gripper."""
        return np.concatenate([self.delta, [self.gripper]]).astype(np.float32)


class Policy:
    """A VLA answering robot instructions (act) and questions (answer) about one camera image."""

    def __init__(
        self,
        vla: VLA,
        *,
        decoding: str = "kv",
        chain_of_thought: bool | None = None,
        temperature: float = 0.0,
        seed: int = 0,
        allow_untrained_parallel: bool = False,
    ) -> None:
        """chain_of_thought: write `Plan: ...` before the action; None = as the model was trained."""
        if chain_of_thought is None:
            chain_of_thought = vla.config.plan_trained
        elif not chain_of_thought and vla.config.plan_trained:
            raise ValueError(
                f"model {vla.name!r} was trained to write a plan before every action (rt2_config.json plan_trained); "
                f"its actions without one are untrained: leave chain_of_thought on"
            )
        if decoding not in DECODINGS:
            raise ValueError(f"unknown decoding {decoding!r}; choose one of {', '.join(DECODINGS)}")
        if decoding == "parallel" and not (vla.config.parallel_trained or allow_untrained_parallel):
            raise ValueError(
                f"model {vla.name!r} was not trained for parallel decoding (rt2_config.json parallel_trained is "
                f"false); use decoding='kv', or train it with rt2_ros.vla.training.build_example(parallel=True)"
            )
        if chain_of_thought and decoding != "kv":
            raise ValueError(f"chain_of_thought decodes plan and action with decoding='kv', not {decoding!r}")
        self.vla = vla
        self.decoding = decoding
        self.chain_of_thought = chain_of_thought
        self.temperature = temperature
        self.seed = seed
        self.name = vla.name
        self.reset()

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        *,
        decoding: str = "kv",
        dtype: str = "float32",
        chain_of_thought: bool | None = None,
        compile: bool = False,
        **kw: Any,
    ) -> Policy:
        """Load a model folder. compile: torch.compile the vision tower (see VLA.from_pretrained).
        kw: temperature (0 = greedy), seed, allow_untrained_parallel (benchmarks only).
        """
        vla = VLA.from_pretrained(path, dtype=dtype, compile=compile)
        return cls(vla, decoding=decoding, chain_of_thought=chain_of_thought, **kw)

    def reset(self) -> None:
        """Start a new episode: sampling restarts from the seed, so episodes replay identically.

        The gripper is taken to be open, as the sim's and the expert's episodes begin.
        """
        self.generator = torch.Generator().manual_seed(self.seed)
        # What this policy last told the gripper; models trained with it read it in their prompt.
        self.gripper_state = GripperState()
        self.last_gripper = 0.0  # the command sent last (gripper_sticky_steps keeps it)
        # The last plan's points: a model with plan_track_window writes its next plan near them.
        self.last_plan_points: dict[str, np.ndarray] = {}
        # plan_locate "first": the object's point at the first step, tracked from until the fingers close on it.
        self.object_anchor: np.ndarray | None = None
        self.goal_anchor: np.ndarray | None = None  # plan_hold "goal": the first plan's goal point
        self.grasping = False  # regrasp_after_steps: the gripper was closed at grasping height
        self.closed_on_air = 0  # control steps in a row the arm has measured the closed fingers holding nothing
        self.was_holding = False  # relocate_after_release: the arm measured the fingers holding something
        self.glimpse_readings: list[str] = []  # goal_glimpse_zoom: what the first step's glimpses read, in order

    def act(self, image: Any, instruction: str, arm: ArmView | None = None, detail: Any = None) -> Action:
        """The next action for `image` and `instruction`.

        arm: where the tool is in this image, from the robot's state; with plan_tool_points in the
        model's config the plan's gripper and below points are taken from it instead of written by the model.
        detail: the same view at a higher resolution, for goal_glimpse_zoom (default: `image` itself, which
        is sharp enough when it comes straight from a camera of a few hundred pixels).
        """
        start = time.perf_counter()
        if self._released(arm):  # what was held is let go: where things are now is asked anew
            self._locate_anew()
        prompt = self.vla.action_prompt(instruction, self.gripper_state.text())
        inputs = self.vla.encode_prompt(to_pil(image), prompt)
        preprocessed = time.perf_counter()
        if self.chain_of_thought:
            decoded = decode_with_plan(
                self.vla,
                inputs,
                temperature=self.temperature,
                generator=self.generator,
                previous=self.last_plan_points,
                locate=self._locator(image, instruction),
                given=self._given_points(arm),
                locate_goal=self._goal_locator(image, instruction, image if detail is None else detail),
            )
        else:
            decoded = decode_action(
                self.vla, inputs, decoding=self.decoding, temperature=self.temperature, generator=self.generator
            )
        modelled = time.perf_counter()
        values, terminate = self.vla.actions.decode(decoded.bins)
        if self.vla.config.action_expectation and decoded.expected is not None:
            values[:6] = self.vla.actions.expected_values(decoded.expected)[:6]
        values[6] = self._sticky(float(values[6]))
        regrasp = self._missed_grasp(arm)
        if regrasp:
            values[6] = self.last_gripper = 0.0
        self.gripper_state = self.gripper_state.after(float(values[6]))
        if regrasp:
            self._locate_anew()
        elif self.chain_of_thought:
            self._remember_plan(plan_points(decoded.plan), None if arm is None else arm.holding)
        done = time.perf_counter()
        return Action(
            terminate=terminate,
            delta=values[:6].copy(),
            gripper=float(values[6]),
            tokens=[int(b) for b in decoded.bins],
            plan=decoded.plan,
            timing_ms={
                "preprocess": 1e3 * (preprocessed - start),
                "model": 1e3 * (modelled - preprocessed),
                "postprocess": 1e3 * (done - modelled),
                "total": 1e3 * (done - start),
            },
        )

    def _locate_anew(self) -> None:
        """The next plan starts over, as an episode's first: the object and the goal are located anew."""
        self.last_plan_points, self.object_anchor, self.goal_anchor = {}, None, None

    def _released(self, arm: ArmView | None) -> bool:
        """relocate_after_release: the arm held something at the last step, and with the gripper open no longer."""
        held, self.was_holding = self.was_holding, bool(arm is not None and arm.holding)
        return bool(
            self.vla.config.relocate_after_release
            and held
            and arm is not None
            and arm.holding is False
            and self.last_gripper < CLOSED_ABOVE
        )

    def _sticky(self, command: float) -> float:
        """The model's gripper command, or the last one while a change is younger than gripper_sticky_steps."""
        state = self.gripper_state
        if state.held < self.vla.config.gripper_sticky_steps and (command > CLOSED_ABOVE) != state.closed:
            return self.last_gripper
        self.last_gripper = command
        return command

    def _missed_grasp(self, arm: ArmView | None) -> bool:
        """regrasp_after_steps: the fingers were closed at grasping height and have been shut on nothing that
        long since (the arm measures both), so open. Closed higher up is no grasp: the expert, and the model
        after it, close the gripper at home to push with it, and reopening it there lost 5 of 7 pushes."""
        steps, state = self.vla.config.regrasp_after_steps, self.gripper_state
        if arm is not None and state.closed and state.held == 1:  # the step after the close command
            self.grasping = bool(arm.tool_position[2] < arm.object_height + GRASP_HEIGHT)
        self.grasping = self.grasping and state.closed
        on_air = self.grasping and arm is not None and arm.holding is False
        self.closed_on_air = self.closed_on_air + 1 if on_air else 0
        if steps and self.closed_on_air >= steps:
            self.closed_on_air = 0
            return True
        return False

    def _remember_plan(self, points: dict[str, np.ndarray], holding: bool | None) -> None:
        """The points the next plan is tracked from: this plan's, but with plan_locate "first" the object
        stays where it was located until the fingers have closed on it. Why: nothing moves an object before
        the gripper holds it, and a window that slid with each plan drifted 7 px in 12 steps towards where
        the plan alone would have put the point (session 13, experiments/plan_trace.py). "Closed on it":
        the arm measures that the fingers hold something, or the gripper has been closed ANCHOR_CLOSED_STEPS
        steps. Letting go at the close command itself let the plan's own point, half hidden by the
        fingers, jump 3 px while they closed (session 18, pick seed 1000016); over 48 seen episodes the
        change was neutral (25 either way), and it is kept because the object cannot have moved yet."""
        if not self.last_plan_points and "goal" in points:
            self.goal_anchor = points["goal"]
        if self.vla.config.plan_locate == "first" and "object" in points:
            if not self.last_plan_points:
                self.object_anchor = points["object"]
            state = self.gripper_state
            closed_on_it = state.closed and (holding is True or state.held >= ANCHOR_CLOSED_STEPS)
            if self.object_anchor is not None and not closed_on_it:
                points = {**points, "object": self.object_anchor}
            else:
                self.object_anchor = None  # held or pushed from here on: it moves with the gripper
        self.last_plan_points = points

    def _given_points(self, arm: ArmView | None) -> dict[str, np.ndarray] | None:
        """Plan points not left to the model: the arm's own (plan_tool_points) and a held located object."""
        given = {}
        hold = self.vla.config.plan_hold
        if "object" in hold and self.object_anchor is not None:
            given["object"] = self.object_anchor  # nothing has touched it since it was located
        if "goal" in hold and self.goal_anchor is not None:
            given["goal"] = self.goal_anchor
        if arm is not None and self.vla.config.plan_tool_points:
            # Held, pushed with or closed on air: without the fingers' closure, the model judges.
            if arm.holding is not None or not self.gripper_state.closed:
                points = arm.plan_points()
                if self.vla.config.plan_offsets != "below-goal":
                    del points["below_goal"]
                given.update(points)
        return given or None

    def _locator(self, image: Any, instruction: str) -> Callable[[str], np.ndarray | None] | None:
        """For plan_locate: name -> where this model points to it in `image` (loc bins); None when not asked.

        With plan_locate_attribute, an object the instruction names by attribute is asked for by that phrase
        whatever name the plan writes; with plan_locate_named, any object the instruction names."""
        config = self.vla.config
        if not (config.plan_locate == "every" or (config.plan_locate == "first" and not self.last_plan_points)):
            return None
        phrase = (attribute_name(instruction) if config.plan_locate_attribute else None) or (
            object_name(instruction) if config.plan_locate_named else None
        )
        if phrase is not None:
            return lambda name: self.point(image, phrase)
        return lambda name: self.point(image, name)

    def _goal_locator(self, image: Any, instruction: str, detail: Any) -> Callable[[], np.ndarray | None] | None:
        """For plan_locate_goal, at an episode's first step: where this model points to the instruction's goal,
        or with goal_glimpse_zoom, for a goal named by a symbol, the place whose glimpse reads as that symbol."""
        name = goal_name(instruction) if self.vla.config.plan_locate_goal and not self.last_plan_points else None
        if name is None:
            return None
        if self.vla.config.goal_glimpse_zoom and names_a_symbol(name, self.vla.config.goal_glimpse_symbols):
            return lambda: self.find_by_glimpses(image, detail, name)
        return lambda: self.point(image, name)

    def wants_detail(self) -> bool:
        """Whether the next act() reads glimpses: a caller with a sharper view passes it as `detail` then."""
        return bool(
            self.vla.config.goal_glimpse_zoom and self.vla.config.plan_locate_goal and not self.last_plan_points
        )

    def find_by_glimpses(self, image: Any, detail: Any, name: str) -> np.ndarray | None:
        """Where `name` (a tile) is, found by reading glimpses of `detail` at the model's likeliest points to it;
        the model's own point when none reads as it, or when `detail` is not sharper than the model's input by
        the zoom (nothing more to read there)."""
        zoom, size = self.vla.config.goal_glimpse_zoom, self.vla.model.config.vision_config.image_size
        sharp = np.asarray(to_pil(detail))
        height, width = sharp.shape[:2]
        self.glimpse_readings = []
        if min(height, width) < zoom * size:
            # Said, not silent: on a robot the camera is set too small, and pointing alone finds fewer tiles
            # (40 of 60 against 55 with glimpses, model card section "Session 25").
            warnings.warn(
                f"goal_glimpse_zoom {zoom} reads glimpses from an image of at least {zoom * size} px a side, "
                f"got {height}x{width}: the goal tile is the model's own point",
                stacklevel=2,
            )
            return self.point(image, name)

        def read(place: np.ndarray) -> str:
            glimpse = crop_glimpse(sharp, loc_to_pixel(place, height, width), zoom, size)
            return self.answer(glimpse, GLIMPSE_QUESTION)

        found, self.glimpse_readings = find_named(distinct_places(self.ranked_points(image, name)), read, name)
        return self.point(image, name) if found is None else found

    def point(self, image: Any, name: str) -> np.ndarray | None:
        """Where the model points to `name` in `image`: (row, column) loc bins, None for a model without them."""
        question = LOCATE_QUESTION.format(name=name)
        return point_answer(self.vla, self.vla.encode_prompt(to_pil(image), self.vla.vqa_prompt(question)))

    def ranked_points(self, image: Any, name: str) -> list[np.ndarray]:
        """The model's likeliest points to `name` in `image`, best first (rt2_ros.vla.decoding.ranked_points)."""
        inputs = self.vla.encode_prompt(to_pil(image), self.vla.vqa_prompt(LOCATE_QUESTION.format(name=name)))
        return ranked_points(self.vla, inputs, CANDIDATE_ROWS, CANDIDATE_COLUMNS, MERGE_LOC_BINS)

    def answer(self, image: Any, question: str) -> str:
        """VQA: a free-text answer from the same model."""
        inputs = self.vla.encode_prompt(to_pil(image), self.vla.vqa_prompt(question))
        return answer_text(self.vla, inputs)
