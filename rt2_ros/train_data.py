"""What `rt2 train` feeds the model: robot steps and VQA examples, mixed, turned into model inputs.

Every example goes through rt2_ros.vla.training.build_example, the same layout decoding reads, so
the loss is on answer and action tokens only. Micro-batches are numbered: micro-batch k holds
global examples [k*B, (k+1)*B) of the mixture schedule, split across processes, so resuming at
micro-batch k is resuming at exactly the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch

from rt2_ros.actions import ActionTokenizer
from rt2_ros.data.dataset import load_steps, read_episode_table, read_info
from rt2_ros.data.mixture import ROBOT, MixtureSchedule
from rt2_ros.data.plan_points import BELOW_COLUMNS, read_plans, with_offsets
from rt2_ros.gripper_state import episode_states
from rt2_ros.vla.model import VLA
from rt2_ros.vla.training import build_example, collate


@dataclass
class RobotSteps:
    """Robot steps of one or more datasets, split into train / validation by episode."""

    train: Any  # datasets.Dataset (map-style; PIL images on access)
    val: Any
    camera: str


def load_robot_steps(
    paths: list[str | Path],
    camera: str = "scene",
    val_every: int = 20,
    plans: bool = False,
    plan_offsets: str = "",
    gripper_change_repeat: int = 1,
) -> RobotSteps:
    """Steps of successful or truncated (`rt2 collect --steps-per-episode`) episodes but for
    deliberate mistakes (not_targets); every `val_every`-th episode (by index) is held out for validation.

    plans: add each step's point plan (rt2_ros.data.plan_points) as a `plan` column; robot examples
    then teach `Plan: <points> Action: <bins>` instead of the bins alone.
    plan_offsets: an offset style of rt2_ros.data.plan_points.with_offsets ("": none) that the plans also write.
    Every step also gets a `gripper_state` column (rt2_ros.gripper_state), used by models trained with it.
    gripper_change_repeat: training steps whose gripper command differs from the state before them
    (the one "close now" or "open now" frame of a grasp or release) appear this many times.
    """
    import datasets

    trains, vals = [], []
    for path in paths:
        info = read_info(path)
        if camera not in info["cameras"]:
            raise ValueError(f"{path} has cameras {info['cameras']}, not {camera!r}")
        table = read_episode_table(path)
        val_episodes = {
            e["episode_index"] for e in table if val_every and e["episode_index"] % val_every == val_every - 1
        }
        if not val_episodes and len(table) > 1:  # a small dataset still gets one validation episode
            val_episodes = {table[-1]["episode_index"]}
        steps = load_steps(path, streaming=False)
        if plans:
            episode_index, step_index = np.asarray(steps["episode_index"]), np.asarray(steps["step_index"])
            plan_column = read_plans(path, camera, episode_index, step_index)
            if plan_offsets:
                belows = [""] * len(plan_column)
                if plan_offsets in BELOW_COLUMNS:
                    belows = read_plans(path, camera, episode_index, step_index, BELOW_COLUMNS[plan_offsets])
                plan_column = [with_offsets(p, plan_offsets, b) for p, b in zip(plan_column, belows, strict=True)]
            steps = steps.add_column("plan", plan_column)
        steps = steps.add_column("gripper_state", gripper_state_column(steps))
        # Column reads, not .filter: a filter would decode every image once.
        unfinished = truncated(table, steps)
        learnable = (np.asarray(steps["success"], dtype=bool) | unfinished) & ~not_targets(table, steps)
        is_val = np.isin(np.asarray(steps["episode_index"]), sorted(val_episodes))
        train = np.flatnonzero(learnable & ~is_val)
        if gripper_change_repeat > 1:
            # Why: one frame per grasp says "close now" against a dozen that hold or lift, and a model
            # fed the true plan (session 8) reached the grasp pose and lifted without closing.
            closed_before = np.char.startswith(np.asarray(steps["gripper_state"]), "gripper closed")
            changes = train[(np.asarray(steps["action"], dtype=np.float32)[train, 6] > 0.5) != closed_before[train]]
            # A push's first step closes the gripper: in one-step episodes, every push would be repeated.
            changes = changes[~unfinished[changes]]
            train = np.concatenate([train, *[changes] * (gripper_change_repeat - 1)])
        trains.append(steps.select(train))
        vals.append(steps.select(np.flatnonzero(learnable & is_val)))
    return RobotSteps(datasets.concatenate_datasets(trains), datasets.concatenate_datasets(vals), camera)


def not_targets(table: list[dict[str, Any]], steps: Any) -> np.ndarray:
    """Per step: True where the expert made a deliberate mistake (a missed grasp) that is not to be learned."""
    marked = {(e["episode_index"], i) for e in table for i in e["metadata"].get("not_targets", [])}
    if not marked:
        return np.zeros(len(steps), dtype=bool)
    pairs = zip(steps["episode_index"], steps["step_index"], strict=True)
    return np.fromiter(((int(e), int(i)) in marked for e, i in pairs), dtype=bool, count=len(steps))


def truncated(table: list[dict[str, Any]], steps: Any) -> np.ndarray:
    """Per step: True in an episode the expert stopped early on purpose (its steps are right; it never finished)."""
    episodes = [e["episode_index"] for e in table if e["metadata"].get("truncated")]
    return np.isin(np.asarray(steps["episode_index"]), episodes)


def gripper_state_column(steps: Any) -> list[str]:
    """Each step's rt2_ros.gripper_state text: what the commands before it in its episode leave."""
    episode_index, step_index = np.asarray(steps["episode_index"]), np.asarray(steps["step_index"])
    commands = np.asarray(steps["action"], dtype=np.float32)[:, 6]
    texts = [""] * len(steps)
    for episode in np.unique(episode_index):
        rows = np.flatnonzero(episode_index == episode)
        rows = rows[np.argsort(step_index[rows])]
        for row, state in zip(rows, episode_states(commands[rows]), strict=True):
            texts[row] = state.text()
    return texts


def action_statistics(paths: list[str | Path]) -> np.ndarray:
    """All (N, 7) actions of the datasets' successful steps, read from parquet without decoding images."""
    chunks = []
    for path in paths:
        for name in read_info(path)["data_files"]:
            table = pq.read_table(Path(path) / name, columns=["action", "success"]).to_pydict()
            chunks.append(np.asarray(table["action"], dtype=np.float64)[np.asarray(table["success"], dtype=bool)])
    return np.concatenate(chunks)


def bounds_from_data(paths: list[str | Path], method: str = "percentile") -> ActionTokenizer:
    return ActionTokenizer.from_statistics(action_statistics(paths), method=method)


class MixtureBatches(torch.utils.data.Dataset):
    """Item k = the k-th micro-batch of this process, collated. Deterministic in k."""

    def __init__(
        self,
        vla: VLA,
        robot: Any,
        vqa: Any,
        schedule: MixtureSchedule,
        batch_size: int,
        *,
        camera: str = "scene",
        rank: int = 0,
        world: int = 1,
        parallel: bool = False,
    ) -> None:
        self.vla, self.robot, self.vqa, self.schedule = vla, robot, vqa, schedule
        self.batch_size, self.camera, self.rank, self.world, self.parallel = batch_size, camera, rank, world, parallel

    def __len__(self) -> int:
        return 2**62  # endless: the trainer decides how many micro-batches to draw

    def example(self, i: int) -> dict[str, torch.Tensor]:
        source, j = self.schedule[i]
        if source == ROBOT:
            return robot_example(self.vla, self.robot[j], self.camera, parallel=self.parallel)
        return vqa_example(self.vla, self.vqa[j])

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        first = (k * self.world + self.rank) * self.batch_size
        examples = [self.example(i) for i in range(first, first + self.batch_size)]
        return collate(examples, self.vla.tokenizer.pad_token_id)


def robot_example(vla: VLA, row: dict[str, Any], camera: str, *, parallel: bool = False) -> dict[str, torch.Tensor]:
    bins = vla.actions.encode(row["action"], terminate=row["terminate"])
    prompt = vla.action_prompt(row["instruction"], row.get("gripper_state"))
    target = vla.actions.to_text(bins)
    if row.get("plan"):
        target = f"{vla.config.plan_prefix} {row['plan']} {vla.config.action_marker} {target}"
    return build_example(vla, row["images"][camera], prompt, target, parallel=parallel)


def vqa_example(vla: VLA, row: dict[str, Any]) -> dict[str, torch.Tensor]:
    return build_example(vla, row["image"], vla.vqa_prompt(row["question"]), str(row["answer"]))
