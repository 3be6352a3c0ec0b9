"""The evaluation suite: RT-2's categories as (category, task, seeds) cells from rt2_ros.data.splits, run for one agent.

Seeds come from splits.eval_seeds, so they are at or above EVAL_SEED_START (never a training layout)
and the same on every machine: two models, or two runs, see exactly the same episodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rt2_ros.data.splits import CATEGORIES, CATEGORY_TASKS, eval_seeds
from rt2_ros.eval.rollout import Agent, EpisodeResult, RolloutOptions, run_episode
from rt2_ros.sim.env import TabletopSim


@dataclass(frozen=True)
class Cell:
    category: str
    task: str
    seeds: tuple[int, ...]


def build_cells(
    episodes: int, categories: tuple[str, ...] = CATEGORIES, tasks: tuple[str, ...] | None = None, skip: int = 0
) -> list[Cell]:
    """`episodes` seeds per (category, task), after the first `skip` (eval_seeds); `tasks` narrows every
    category to those tasks it has."""
    unknown = set(categories) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown categories {sorted(unknown)}; categories are {', '.join(CATEGORIES)}")
    cells = []
    for category in categories:
        for task in CATEGORY_TASKS[category]:
            if tasks is None or task in tasks:
                cells.append(Cell(category, task, tuple(eval_seeds(category, task, episodes, skip=skip))))
    if not cells:
        raise ValueError(f"no task of {list(tasks or ())} belongs to the categories {list(categories)}")
    return cells


@dataclass(frozen=True)
class EpisodeSpec:
    """One episode to run: its cell, seed, and whether to keep its annotated frames for a GIF."""

    category: str
    task: str
    seed: int
    record: bool


def episode_specs(cells: list[Cell], gifs_per_category: int = 0) -> list[EpisodeSpec]:
    """Every episode of every cell, in order. The first episode of the first `gifs_per_category` tasks of
    each category keeps its annotated frames, so the GIFs show different tasks.
    """
    specs, recorded = [], {}
    for cell in cells:
        for index, seed in enumerate(cell.seeds):
            record = index == 0 and recorded.get(cell.category, 0) < gifs_per_category
            recorded[cell.category] = recorded.get(cell.category, 0) + record
            specs.append(EpisodeSpec(cell.category, cell.task, seed, record))
    return specs


def run_spec(sim: TabletopSim, agent: Agent, spec: EpisodeSpec, options: RolloutOptions) -> EpisodeResult:
    result = run_episode(sim, agent, spec.task, spec.seed, options, record=spec.record)
    result.category = spec.category
    return result


def run_specs(
    sim: TabletopSim,
    agent: Agent,
    specs: list[EpisodeSpec],
    options: RolloutOptions,
    progress: Callable[[EpisodeResult], None] | None = None,
) -> list[EpisodeResult]:
    """The episodes of `specs`, in order, in this process."""
    results = []
    for spec in specs:
        results.append(run_spec(sim, agent, spec, options))
        if progress is not None:
            progress(results[-1])
    return results


def run_cells(
    sim: TabletopSim,
    agent: Agent,
    cells: list[Cell],
    options: RolloutOptions,
    gifs_per_category: int = 0,
    progress: Callable[[EpisodeResult], None] | None = None,
) -> list[EpisodeResult]:
    """Every episode of every cell, in order (episode_specs), in this process."""
    return run_specs(sim, agent, episode_specs(cells, gifs_per_category), options, progress)
