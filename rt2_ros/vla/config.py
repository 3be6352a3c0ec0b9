"""VLAConfig: everything about a VLA that is not transformers' own, saved as `rt2_config.json` in the model folder.

The folder is self-describing: transformers' files (config.json, weights, processor, tokenizer)
plus this one file, which holds the action tokenizer's bounds and statistics, which vocabulary
ids carry the bins, the prompts, the instruction limit and whether the model was trained for
parallel decoding.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rt2_ros.actions import N_BINS, ActionTokenizer
from rt2_ros.gripper_state import HELD_CAP
from rt2_ros.plan_grammar import BELOW_STYLES
from rt2_ros.vla.vocab import STRATEGIES

CONFIG_NAME = "rt2_config.json"
FORMAT = "rt2_ros.vla/1"
RT2_PROMPT = "What action should the robot take to {instruction}?"
PLAN_LOCATE = ("", "first", "every")
PLAN_HOLD = ("object", "goal")


@dataclass
class VLAConfig:
    """The RT-2 side of a model folder. Change fields before `save_pretrained`; they load back as saved."""

    action_token_ids: list[int]  # bin b is vocabulary id action_token_ids[b]
    vocab_strategy: str  # how those ids were chosen: one of rt2_ros.vla.vocab.STRATEGIES
    actions: ActionTokenizer = field(default_factory=ActionTokenizer)
    prompt: str = RT2_PROMPT  # robot mode; must contain {instruction}
    vqa_prompt: str = "{question}"  # VQA mode; must contain {question}
    plan_prefix: str = "Plan:"  # chain-of-thought: the answer starts `Plan: <text> Action: <8 action tokens>`
    action_marker: str = "Action:"
    max_instruction_chars: int = 512
    max_plan_tokens: int = 48
    # Trained to write `Plan: ...` before every action (rt2 train --plans): Policy then decodes the
    # plan by default, since the action was only ever learnt after one.
    plan_trained: bool = False
    # Its plans also write offsets in this style (rt2 train --plan-offsets STYLE, "" for none;
    # rt2_ros.data.plan_points.with_offsets).
    plan_offsets: str = ""
    # Its action prompt ends with the gripper's last command and how long it has held
    # (rt2 train --gripper-state, rt2_ros.gripper_state); Policy keeps that state itself.
    gripper_state: bool = False
    # Decoding settings of a plan-trained model, kept with it as generation_config.json keeps
    # transformers' (rt2_ros.vla.decoding.decode_with_plan). The object and goal points are written
    # within this many loc bins of the previous step's (0: each step's plan is free), so that the
    # plan stays on one object; and below-style offsets are computed from the written points
    # rather than written by the model, so that the action reads the points actually written.
    plan_track_window: int = 0
    plan_offsets_by_code: bool = False
    # Where the plan's object point comes from (rt2_ros.vla.decoding._PointTracker): "" the plan
    # alone; "first" / "every" the model's answer to "point to the <object the plan names>." at an
    # episode's first step / at every step, the plan's own choice kept within plan_locate_window
    # loc bins of it.
    plan_locate: str = ""
    plan_locate_window: int = 0
    # The plan's goal point at an episode's first step from the model's answer to "point to the <goal>.",
    # the goal as the instruction names it (rt2_ros.instruction_phrases), within plan_locate_window; with
    # plan_hold "goal" it is then kept for the episode.
    plan_locate_goal: bool = False
    # With plan_locate, an object the instruction names by an attribute ("the smallest object", "the red one",
    # rt2_ros.instruction_phrases.attribute_name) is located as the instruction names it, not by the name the
    # plan gives it: the plan chose that name itself, and chose the wrong object as often as not (session 19).
    plan_locate_attribute: bool = False
    # With plan_locate, the object is located as the instruction names it (rt2_ros.instruction_phrases.object_name),
    # not by the name the plan gives it: the plan writes only names it saw in robot data and calls a purple cube
    # "blue cube", while the pointing answer learned every name the VQA data shows (session 27). An attribute
    # phrase (plan_locate_attribute) is asked for first.
    plan_locate_named: bool = False
    # Plan points written exactly as first found rather than within plan_track_window of the last
    # step's: "object", the located object (plan_locate "first") until the fingers have closed on it, since
    # nothing has moved it yet; "goal", the first plan's goal for the whole episode, since a goal stays put.
    plan_hold: list[str] = field(default_factory=list)
    # The plan's gripper and below points are the arm's own (rt2_ros.tool_points) whenever the
    # caller knows them: the sim in `rt2 eval`, the pose topic and the camera's calibration in rt2_node.
    # Without them the model writes the points itself, as it was trained to.
    plan_tool_points: bool = False
    # A "sticky" gripper (SimplerEnv runs RT-1 and Octo this way): once the gripper command changes, it
    # is kept for this many control steps whatever the model writes (0: off). Why: the shipped weights
    # reopened a good grasp after 3 steps closed, a choice never seen in training (session 18,
    # rt2_ros.policy.Policy.act), and the expert always holds a grasp 7 steps before lifting.
    gripper_sticky_steps: int = 0
    # When the arm measures that the fingers have been closed on nothing (ArmView.holding False: the grasp
    # missed or the object slipped out) for this many control steps in a row, the gripper is opened and the
    # object and goal are located anew, as at an episode's first step (0: off). Why: with its fingers shut
    # on air the model carried on as if it held the object (session 20, pick seed 1000016 and
    # pick_attribute 1000004) and nothing it sees at 96x96 told it otherwise.
    regrasp_after_steps: int = 0
    # When the arm measures that it no longer holds what it held while the gripper is commanded open (a
    # release), the object and goal are located anew, as at an episode's first step. Why: after letting go of
    # the wrong object the plan kept tracking where it had been (session 27, pick_attribute seed 1000034).
    relocate_after_release: bool = False
    # The six deltas are the expected value of each token's distribution over its bins, not the chosen bin
    # (the chosen tokens are still what the next ones are conditioned on, and Action.tokens; the gripper
    # and terminate stay the chosen bins). Why: where the model spreads its probability over neighbouring
    # bins, the chosen bin throws away which side it leans to; closed loop the arm stopped a few pixels short
    # of its goal, the plan's offsets still pointing on (session 26).
    action_expectation: bool = False
    # With plan_locate_goal, a goal named by one of goal_glimpse_symbols ("number 3 tile" names "3") is found
    # by reading glimpses (rt2_ros.glimpse): the symbol in the middle of a crop of 1/goal_glimpse_zoom of a
    # sharper image is read around each of the model's likeliest points to the goal, and the tile read most
    # often as the goal's symbol is kept; the model's own point when none reads so (0: off). Other goals
    # are the model's point. Why: at 96x96 a digit is 3-4 grey pixels, and the named digit tile was found
    # about half the time (sessions 19-22).
    goal_glimpse_zoom: int = 0
    goal_glimpse_symbols: list[str] = field(default_factory=list)
    max_answer_tokens: int = 32
    # Parallel decoding (OpenVLA-OFT style) is only meaningful for a model trained with
    # rt2_ros.vla.training.build_example(..., parallel=True); the trainer sets this to True.
    parallel_trained: bool = False
    parallel_query_id: int | None = None  # input id at the 8 action positions; None = the pad token

    def __post_init__(self) -> None:
        if self.vocab_strategy not in STRATEGIES:
            raise ValueError(f"unknown vocab_strategy {self.vocab_strategy!r}; one of {', '.join(STRATEGIES)}")
        if len(self.action_token_ids) != N_BINS or len(set(self.action_token_ids)) != N_BINS:
            raise ValueError(f"action_token_ids must be {N_BINS} distinct vocabulary ids")
        if "{instruction}" not in self.prompt:
            raise ValueError(f"prompt must contain {{instruction}}, got {self.prompt!r}")
        if self.plan_track_window < 0:
            raise ValueError(f"plan_track_window must be 0 (off) or a number of loc bins, got {self.plan_track_window}")
        if not set(self.plan_hold) <= set(PLAN_HOLD):
            raise ValueError(f"plan_hold may hold {' and '.join(PLAN_HOLD)}, got {self.plan_hold}")
        if "object" in self.plan_hold and self.plan_locate != "first":
            raise ValueError('plan_hold "object" holds the point plan_locate "first" found: set plan_locate to "first"')
        if self.plan_tool_points and not self.plan_trained:
            raise ValueError("plan_tool_points needs a plan-trained model (plan_trained: true)")
        if not 0 <= self.gripper_sticky_steps <= HELD_CAP:
            steps = self.gripper_sticky_steps
            raise ValueError(f"gripper_sticky_steps must be 0 (off) to {HELD_CAP} steps, got {steps}")
        for flag in ("plan_locate_attribute", "plan_locate_named"):
            if getattr(self, flag) and not self.plan_locate:
                raise ValueError(f'{flag} changes what plan_locate asks for: set plan_locate to "first"')
        if self.relocate_after_release and self.plan_locate != "first":
            raise ValueError('relocate_after_release locates as plan_locate "first" does: set plan_locate to "first"')
        if self.regrasp_after_steps < 0:
            raise ValueError(
                f"regrasp_after_steps must be 0 (off) or a number of control steps, got {self.regrasp_after_steps}"
            )
        if self.goal_glimpse_zoom < 0 or (self.goal_glimpse_zoom and not self.plan_locate_goal):
            raise ValueError(
                "goal_glimpse_zoom must be 0 (off) or a zoom factor used with plan_locate_goal, "
                f"got {self.goal_glimpse_zoom}"
            )
        if self.plan_locate not in PLAN_LOCATE:
            raise ValueError(f"plan_locate must be one of {PLAN_LOCATE}, got {self.plan_locate!r}")
        if self.plan_locate_window < 0:
            window = self.plan_locate_window
            raise ValueError(f"plan_locate_window must be 0 (exactly) or a number of loc bins, got {window}")
        if self.plan_offsets_by_code and self.plan_offsets not in BELOW_STYLES:
            raise ValueError(
                f"plan_offsets_by_code needs a model trained with --plan-offsets {' or '.join(BELOW_STYLES)}, "
                f"not {self.plan_offsets!r}"
            )
        if "{question}" not in self.vqa_prompt:
            raise ValueError(f"vqa_prompt must contain {{question}}, got {self.vqa_prompt!r}")
        if self.max_instruction_chars < 1:
            raise ValueError("max_instruction_chars must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["actions"] = self.actions.to_dict()
        return {"format": FORMAT, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VLAConfig:
        data = dict(data)
        if data.pop("format", None) != FORMAT:
            raise ValueError(f"{CONFIG_NAME} is not in format {FORMAT!r}")
        missing = [k for k in ("action_token_ids", "vocab_strategy", "actions") if k not in data]
        if missing:
            raise ValueError(f"{CONFIG_NAME} lacks {', '.join(missing)}")
        known = set(cls.__dataclass_fields__)
        if "goal_glimpse_names" in data:  # sessions 24-25's field: the places read are now the goal's ranked points
            raise ValueError(
                f"{CONFIG_NAME}: goal_glimpse_names is retired; set goal_glimpse_symbols to the symbols a glimpse "
                f'reads (["0", ..., "9", "star", ...]) and remove goal_glimpse_names'
            )
        unknown = sorted(set(data) - known)
        if unknown:  # a typo in a hand-edited file should not be silently ignored
            raise ValueError(f"{CONFIG_NAME} has unknown fields {unknown}")
        data["actions"] = ActionTokenizer.from_dict(data["actions"])
        return cls(**data)

    def save(self, folder: str | Path) -> None:
        path = Path(folder) / CONFIG_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, folder: str | Path) -> VLAConfig:
        path = Path(folder) / CONFIG_NAME
        if not path.is_file():
            raise FileNotFoundError(
                f"{folder} has no {CONFIG_NAME}: it is not an rt2_ros VLA folder (the action-token config, "
                f"bounds and vocab ids are missing). Turn a plain checkpoint into one with "
                f"rt2_ros.vla.VLA.from_base(...).save_pretrained(folder)."
            )
        return cls.from_dict(json.loads(path.read_text()))
